/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file rus_cache.h
 * @brief A small cache of store answers (a user row, or a session with its
 *        user row), valid for a few seconds, shared by the processes that
 *        inherit its memory.
 *
 * It keeps the hot path off the database: a cookie or a known user seen
 * again is answered from memory. Changes committed to the store by anyone
 * reach it through rus_coherence.h, which drops the answers they make
 * wrong (rus_cache_drop, rus_cache_drop_user); the TTL bounds an answer's
 * age in any case. Changes made by a process sharing the cache drop their
 * entries at once.
 * Lock-free (one seqlock per slot), safe across threads and processes; no
 * system call on any path.
 */
#ifndef RUS_CACHE_H
#define RUS_CACHE_H

#include <apr_pools.h>

#include "rus_store.h"

typedef struct rus_cache_t rus_cache_t;

/** See rus_cache_ticket(). */
typedef apr_uint64_t rus_cache_ticket_t;

/** Bytes of memory a cache of @a slots entries needs. */
apr_size_t rus_cache_size(int slots);

/**
 * Lay out a cache of @a slots entries (8-way set associative, rounded up
 * to whole sets) whose entries live @a ttl seconds in @a mem (@a size
 * bytes, at least rus_cache_size(@a slots)), emptying it. Processes forked after this
 * share the cache when @a mem is a shared mapping. The handle is
 * allocated from @a p.
 * @return NULL when @a ttl is 0 (no cache) or @a mem is too small
 */
rus_cache_t *rus_cache_init(void *mem, apr_size_t size, int slots,
                            apr_int64_t ttl, apr_pool_t *p);

/**
 * A cache in memory of @a p, private to this process.
 * @return NULL when @a ttl is 0 (no cache)
 */
rus_cache_t *rus_cache_create(apr_pool_t *p, int slots, apr_int64_t ttl);

/** What a cache guard is asked (rus_cache_set_guard). */
typedef enum {
    RUS_CACHE_GUARD_PEEK, /**< cheap: is every committed change applied? */
    RUS_CACHE_GUARD_SYNC  /**< apply what is not; may drop entries */
} rus_cache_guard_e;

/** A guard: 1 when the cache's entries may be trusted for a request that
 *  started before the call (PEEK: nothing to apply; SYNC: applied), 0
 *  otherwise. */
typedef int rus_cache_guard_fn(void *baton, rus_cache_guard_e what,
                               apr_int64_t now);

/**
 * Have rus_cache_get() ask @a fn before it answers from this process's
 * handle: PEEK before each lookup, and SYNC, then a second lookup, only
 * when PEEK said no and the first lookup found an entry. A request that
 * misses asks the store anyway, so it never waits for changes to be
 * applied; a hit is answered only once every change committed before the
 * request started is applied. With the guard's SYNC failing, every
 * lookup misses.
 */
void rus_cache_set_guard(rus_cache_t *cache, rus_cache_guard_fn *fn,
                         void *baton);

/**
 * Look @a key up. On a hit younger than the TTL, copy the user (strings
 * into @a p) and, when the entry holds one and @a session is not NULL, the
 * session.
 * @return 1 on a hit, 0 otherwise (NULL cache included)
 */
int rus_cache_get(rus_cache_t *cache, const char *key, apr_int64_t now,
                  rus_user_t *user, rus_session_t *session, apr_pool_t *p);

/**
 * Take a ticket for @a key before asking the store about it. A put with
 * it is refused once @a key (or another key of its set) was dropped, or
 * any user's answers dropped (rus_cache_drop_user), in the meantime, so an answer read before a revocation committed never
 * comes back after the revocation's drop.
 */
rus_cache_ticket_t rus_cache_ticket(rus_cache_t *cache, const char *key);

/** Remember @a user (and @a session, may be NULL) under @a key, unless a
 *  drop happened since @a ticket was taken. Entries too large for a slot
 *  are simply not cached. */
void rus_cache_put(rus_cache_t *cache, const char *key, apr_int64_t now,
                   rus_cache_ticket_t ticket, const rus_user_t *user,
                   const rus_session_t *session);

/** Forget @a key now. Call it after the store write that made the entry
 *  wrong has committed (logout, revocation, a write by this process). */
void rus_cache_drop(rus_cache_t *cache, const char *key);

/** Forget every answer about the user @a user_id (the user's own entry
 *  and those of the user's sessions) without knowing their keys: the
 *  entries of users in the same bucket of ids go too. */
void rus_cache_drop_user(rus_cache_t *cache, apr_int64_t user_id);

/** Forget every answer. */
void rus_cache_flush(rus_cache_t *cache);

/** The change id up to which every change has been applied to this
 *  (shared) cache, 0 at first; rus_cache_set_applied() only moves it up. */
apr_int64_t rus_cache_applied(rus_cache_t *cache);
void rus_cache_set_applied(rus_cache_t *cache, apr_int64_t id);
/** Set it to @a id even when that is lower (the store's log went
 *  backwards; the cache was flushed first). */
void rus_cache_reset_applied(rus_cache_t *cache, apr_int64_t id);

/** This process's hits and misses of rus_cache_get() (a NULL cache
 *  counts nothing). */
void rus_cache_stats(rus_cache_t *cache, apr_uint64_t *phits,
                     apr_uint64_t *pmisses);

#endif /* RUS_CACHE_H */
