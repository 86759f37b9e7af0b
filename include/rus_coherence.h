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
 * One per process (after fork), used by all its threads, as the cache's
 * guard (rus_coh_guard(), see rus_cache_set_guard()): a lookup first
 * peeks at the store's commit state, and only a hit found while it
 * differs waits for rus_coh_sync(); a miss goes to the store anyway, so a
 * flood of commits (first logins) costs misses no sync. The state is
 * read through a watch (rus_store_watch_mark(); for SQLite the WAL-index
 * header, no system call; for a store shared by several hosts, the host's
 * board, rus_board.h) and compared with the one this process applied
 * last. When something committed since, one thread reads the store's
 * change log from the last change applied to the shared cache on
 * (rus_store_changes_since()) and drops what it names, per key: a
 * session's entry, or a user's entries by generation; the other threads
 * wait for it (for a shared store, they take a miss instead: the one may
 * be waiting for a server that does not answer). Bookkeeping writes log nothing, so they cost one empty
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
 *              streak of failures: the one warning to log for it; NULL:
 *              the warning is kept for rus_coh_take_warning()
 * @return APR_SUCCESS: the cache may be used for a request that starts
 *         now; otherwise it must not be (the failure, its reason in
 *         *pwarn when that is set)
 */
apr_status_t rus_coh_sync(rus_coh_t *coh, apr_int64_t now, const char **pwarn,
                          apr_pool_t *p);

/**
 * 1 when every change committed before this call is already applied (the
 * store's mark is the one this process recorded after applying), without
 * taking the lock; 0 otherwise, the watch not open included.
 */
int rus_coh_fresh(rus_coh_t *coh, apr_int64_t now);

/**
 * The cache guard (rus_cache_set_guard) for @a baton, a rus_coh_t: PEEK is
 * rus_coh_fresh(), SYNC is rus_coh_sync(); a warning SYNC gives is kept
 * for rus_coh_take_warning().
 */
int rus_coh_guard(void *baton, rus_cache_guard_e what, apr_int64_t now);

/**
 * The warning of a streak of failures rus_coh_guard() met, once: copied
 * into @a buf (@a len bytes) and 1, or 0 when there is none to give.
 */
int rus_coh_take_warning(rus_coh_t *coh, char *buf, apr_size_t len);

/** Cache keys and user generations this process dropped because the
 *  store reported a change (emptying the cache for a read of too many
 *  changes counts as one). */
apr_uint64_t rus_coh_invalidations(rus_coh_t *coh);

#endif /* RUS_COHERENCE_H */
