/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file rus_board.h
 * @brief A shared store's commits as one host sees them: a few words in
 *        memory shared by the host's processes, written by the one process
 *        that follows the store's feed (rus_store_feed_open()) and read by
 *        every process's watch on each cache hit.
 *
 * The follower is elected by lease: whoever holds a fresh lease publishes,
 * and a lease not renewed for RUS_BOARD_LEASE_MS can be taken by another
 * process (the holder exited or hangs). A reader trusts the board only
 * while its follower is connected and renewed it less than
 * RUS_BOARD_LEASE_MS ago: otherwise rus_board_mark() fails, and the
 * answer cache is not used (every request asks the store) until a follower
 * publishes again. A publication after a (re)connection starts a new
 * epoch, so every process reads the change log again, whatever it missed.
 *
 * Lock-free: the writer bumps a sequence word to odd, writes, bumps it to
 * even; readers retry a read that saw an odd or moved sequence.
 */
#ifndef RUS_BOARD_H
#define RUS_BOARD_H

#include <apr_pools.h>
#include <apr_time.h>

#include "rus_store.h"

/** How long a lease lasts unrenewed, and how old a renewal a reader still
 *  trusts. The follower renews at least every RUS_BOARD_RENEW_MS. */
#define RUS_BOARD_LEASE_MS 1000
#define RUS_BOARD_RENEW_MS 250

typedef struct rus_board_t rus_board_t;

/** The clock boards run on: microseconds of CLOCK_MONOTONIC, the same
 *  for every process of the host, and not moved by a change of the wall
 *  clock (a step of NTP, a resumed VM) that would make a renewed lease
 *  look stale or one from the future. Pass it as every @a now below. */
apr_time_t rus_board_now(void);

/** Bytes of shared memory a board takes. */
apr_size_t rus_board_size(void);

/** Make a board in @a mem (rus_board_size() bytes, shared by the host's
 *  processes), with no follower. */
rus_board_t *rus_board_init(void *mem);

/**
 * Take or keep the lease for process @a pid at @a now.
 * @return 1 when @a pid holds it now (took it, or renewed its own), 0 when
 *         another process holds a fresh one
 */
int rus_board_claim(rus_board_t *board, apr_uint32_t pid, apr_time_t now);

/**
 * Publish, as the lease holder @a pid, that its feed is connected and the
 * store's change log ends at @a last_id; renews the lease. @a reconnected
 * 1 after the feed was (re)opened: a new epoch starts.
 * @return 1, or 0 when @a pid does not hold the lease (nothing written)
 */
int rus_board_publish(rus_board_t *board, apr_uint32_t pid, apr_int64_t last_id,
                      int reconnected, apr_time_t now);

/** As the lease holder @a pid: its feed is not connected; readers stop
 *  trusting the board at once. The lease is kept (renewed). */
void rus_board_down(rus_board_t *board, apr_uint32_t pid, apr_time_t now);

/** Give the lease up (the holder is exiting): readers stop trusting the
 *  board, and another process may claim it at once. */
void rus_board_release(rus_board_t *board, apr_uint32_t pid);

/**
 * What a watch of a shared store reads: the epoch and the change log's
 * last id as a mark (rus_store_mark_t; equal marks, nothing committed in
 * between as far as the follower knows).
 * @return APR_SUCCESS; APR_EAGAIN while being written (try again);
 *         another error, with *pmsg saying why, when the board is not to
 *         be trusted now: no follower, its feed disconnected, its lease
 *         older than RUS_BOARD_LEASE_MS
 */
apr_status_t rus_board_mark(const rus_board_t *board, apr_time_t now,
                            rus_store_mark_t *mark, const char **pmsg);

#endif /* RUS_BOARD_H */
