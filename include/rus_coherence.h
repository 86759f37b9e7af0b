/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file rus_coherence.h
 * @brief Keeping the answer cache true to the store: every change
 *        committed by anyone (this module, remoteuser-admin, the sqlite3
 *        shell) is honoured by every request that starts after the commit
 *        returned, in every process sharing the cache.
 *
 * One per process (after fork), used by all its threads. Before a request
 * looks at the cache it calls rus_coh_sync(): the store's commit state is
 * read through a watch (rus_store_watch_mark(); for SQLite the WAL-index
 * header, no system call) and compared with the one this process applied
 * last. When something committed since, one thread reads the store's
 * change log from the last change applied to the shared cache on
 * (rus_store_changes_since()) and drops what it names, per key: a
 * session's entry, or a user's entries by generation; the other threads
 * wait for it. Bookkeeping writes log nothing, so they cost one empty
 * query per commit per process and no entry.
 *
 * Ordering: the commit state is read before the change log, and recorded
 * as applied only after the drops, so a commit that returned before the
 * call is either in the log read or makes the state differ at the next
 * call. When the check cannot be made (a backend without a change log, a
 * store not in WAL mode, an unknown layout, a store that fails), the call
 * says so and the request must not use the cache.
 */
#ifndef RUS_COHERENCE_H
#define RUS_COHERENCE_H

#include <apr_pools.h>

#include "rus_cache.h"
#include "rus_store.h"

typedef struct rus_coh_t rus_coh_t;

/**
 * Watch @a store on behalf of @a cache in this process, from @a p (which
 * also closes what it opens). The store is opened at the first sync, and
 * again at most once a second while it cannot be.
 * @return NULL when @a cache is NULL or the lock cannot be made
 */
rus_coh_t *rus_coh_create(const rus_store_t *store, rus_cache_t *cache,
                          apr_pool_t *p);

/**
 * Bring the cache up to every change committed before this call.
 * @param now   UNIX seconds
 * @param pwarn set (allocated from @a p) only when this call starts a
 *              streak of failures: the one warning to log for it
 * @return APR_SUCCESS: the cache may be used for a request that starts
 *         now; otherwise it must not be (the failure, its reason in
 *         *pwarn when that is set)
 */
apr_status_t rus_coh_sync(rus_coh_t *coh, apr_int64_t now, const char **pwarn,
                          apr_pool_t *p);

/** Cache keys and user generations this process dropped because the
 *  store reported a change (emptying the cache for a read of too many
 *  changes counts as one). */
apr_uint64_t rus_coh_invalidations(rus_coh_t *coh);

#endif /* RUS_COHERENCE_H */
