/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The board of a shared store (see rus_board.h): a few words in memory
 * shared by the host's processes, no lock, no system call.
 *
 * The lease is one 64-bit word, the holder's pid in the high half and the
 * time of its last renewal (milliseconds, modulo 2^32) in the low half,
 * moved by compare-and-swap only: taking, renewing and giving it up are
 * each one atomic step, and two processes can never both take it from
 * the same state. Ages are signed differences modulo 2^32, so the wrap
 * (every 49.7 days) costs nothing; a renewal "in the future" by more than
 * a lease (the clock stepped back) counts as stale, which heals at the
 * holder's next renewal.
 *
 * What the holder publishes (connected or not, its pid, the epoch and the
 * change log's last id) is a seqlock: the sequence word holds the writer's
 * pid and a count that is odd while the words are written. A writer takes
 * it from even to odd by compare-and-swap, so writers never overlap. One
 * that finds it odd for long is looking at a writer that died between its
 * two steps (kill -9), or at a former holder that lost the lease while it
 * hung: it takes the word over (the count stays odd, the pid becomes its
 * own), so a dead writer never blocks the board for good. The former
 * holder's own end then fails its compare-and-swap and changes nothing;
 * stores of its that land after the new writer's end could at worst mix
 * into one publication, which the new holder overwrites at its next
 * renewal (RUS_BOARD_RENEW_MS): an extra change-log read, or a change
 * seen that much later, never a crash.
 *
 * A reader trusts what it reads only when the sequence word was even and
 * unchanged across the read, the words say connected, their publisher is
 * the lease's holder, and the lease was renewed less than
 * RUS_BOARD_LEASE_MS ago. */

#include <string.h>
#include <time.h>

#include <apr_strings.h>

#include "rus_board.h"

/* How often a writer looks again at a sequence word another writer holds
 * before it takes it over; a live writer holds it for a few stores. */
#define TAKEOVER_SPINS 10000

struct rus_board_t {
    apr_uint64_t lease;  /* holder pid << 32 | renewal ms; pid 0: none */
    apr_uint64_t seq;    /* writer pid << 32 | count, odd while writing */
    apr_uint32_t up;     /* 1: the publisher's feed is connected */
    apr_uint32_t pid;    /* who published the words below */
    apr_uint64_t epoch;  /* moved by each publication after a (re)connect */
    apr_int64_t last_id; /* the greatest id of the change log, as read */
};

/* The words a board takes, rounded up to a cache line. */
#define BOARD_BYTES ((sizeof(struct rus_board_t) + 63) & ~(apr_size_t)63)

apr_time_t rus_board_now(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return apr_time_now(); /* not on Linux: never fails */
    }
    return (apr_time_t)ts.tv_sec * APR_USEC_PER_SEC
           + (apr_time_t)(ts.tv_nsec / 1000);
}

static apr_uint32_t ms32(apr_time_t now)
{
    return (apr_uint32_t)apr_time_as_msec(now);
}

static apr_uint32_t lease_pid(apr_uint64_t lease)
{
    return (apr_uint32_t)(lease >> 32);
}

static apr_uint64_t lease_make(apr_uint32_t pid, apr_time_t now)
{
    return ((apr_uint64_t)pid << 32) | ms32(now);
}

/* Milliseconds since the lease's renewal (negative: in the future). */
static apr_int32_t lease_age(apr_uint64_t lease, apr_time_t now)
{
    return (apr_int32_t)(ms32(now) - (apr_uint32_t)lease);
}

/* Held by somebody, renewed less than a lease ago. */
static int lease_fresh(apr_uint64_t lease, apr_time_t now)
{
    apr_int32_t age = lease_age(lease, now);

    return lease_pid(lease) != 0 && age > -RUS_BOARD_LEASE_MS
           && age < RUS_BOARD_LEASE_MS;
}

/* Renew @a pid's lease; 0 when another process holds it now. */
static int lease_renew(rus_board_t *board, apr_uint32_t pid, apr_time_t now)
{
    apr_uint64_t old = __atomic_load_n(&board->lease, __ATOMIC_ACQUIRE);

    while (lease_pid(old) == pid) {
        if (__atomic_compare_exchange_n(&board->lease, &old,
                                        lease_make(pid, now), 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            return 1;
        }
    }
    return 0;
}

/* Take the sequence word for @a pid (odd); its value for write_end(). */
static apr_uint64_t write_begin(rus_board_t *board, apr_uint32_t pid)
{
    apr_uint64_t old = __atomic_load_n(&board->seq, __ATOMIC_ACQUIRE), want;
    int spins = 0;

    for (;;) {
        if ((old & 1) == 0) {
            want = ((apr_uint64_t)pid << 32) | (apr_uint32_t)(old + 1);
        }
        else if (++spins < TAKEOVER_SPINS) {
            old = __atomic_load_n(&board->seq, __ATOMIC_ACQUIRE);
            continue;
        }
        else {
            /* a writer that died or lost the lease: stays odd, ours */
            want = ((apr_uint64_t)pid << 32) | (apr_uint32_t)(old + 2);
        }
        if (__atomic_compare_exchange_n(&board->seq, &old, want, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            /* the words' stores must not move above the odd count */
            __atomic_thread_fence(__ATOMIC_RELEASE);
            return want;
        }
    }
}

/* Make the sequence word even again, unless it was taken over. */
static void write_end(rus_board_t *board, apr_uint64_t mine)
{
    apr_uint64_t expect = mine;

    __atomic_compare_exchange_n(&board->seq, &expect,
                                (mine & ~(apr_uint64_t)0xffffffff)
                                    | (apr_uint32_t)(mine + 1),
                                0, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
}

/* Publish @a up for @a pid, the epoch moved by @a bump, and @a last_id
 * (kept as it was when negative). */
static void words_write(rus_board_t *board, apr_uint32_t pid, apr_uint32_t up,
                        int bump, apr_int64_t last_id)
{
    apr_uint64_t mine = write_begin(board, pid);

    __atomic_store_n(&board->up, up, __ATOMIC_RELAXED);
    __atomic_store_n(&board->pid, pid, __ATOMIC_RELAXED);
    if (bump) {
        __atomic_store_n(&board->epoch,
                         __atomic_load_n(&board->epoch, __ATOMIC_RELAXED) + 1,
                         __ATOMIC_RELAXED);
    }
    if (last_id >= 0) {
        __atomic_store_n(&board->last_id, last_id, __ATOMIC_RELAXED);
    }
    write_end(board, mine);
}

apr_size_t rus_board_size(void)
{
    return BOARD_BYTES;
}

rus_board_t *rus_board_init(void *mem)
{
    rus_board_t *board = mem;

    memset(board, 0, BOARD_BYTES);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return board;
}

int rus_board_claim(rus_board_t *board, apr_uint32_t pid, apr_time_t now)
{
    apr_uint64_t old = __atomic_load_n(&board->lease, __ATOMIC_ACQUIRE);

    for (;;) {
        int stale = !lease_fresh(old, now);

        if (lease_pid(old) != pid && !stale) {
            return 0; /* another process's, fresh */
        }
        if (__atomic_compare_exchange_n(&board->lease, &old,
                                        lease_make(pid, now), 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            if (stale) {
                /* Taken (or a renewal come too late): what the board says
                 * is older than a lease; not to be trusted again before
                 * the holder's next publication. */
                words_write(board, pid, 0, 0, -1);
            }
            return 1;
        }
    }
}

int rus_board_publish(rus_board_t *board, apr_uint32_t pid, apr_int64_t last_id,
                      int reconnected, apr_time_t now)
{
    if (pid == 0 || !lease_renew(board, pid, now)) {
        return 0;
    }
    words_write(board, pid, 1, reconnected, last_id < 0 ? 0 : last_id);
    return 1;
}

void rus_board_down(rus_board_t *board, apr_uint32_t pid, apr_time_t now)
{
    if (pid != 0 && lease_renew(board, pid, now)) {
        words_write(board, pid, 0, 0, -1);
    }
}

void rus_board_release(rus_board_t *board, apr_uint32_t pid)
{
    apr_uint64_t old = __atomic_load_n(&board->lease, __ATOMIC_ACQUIRE);

    if (pid == 0 || lease_pid(old) != pid) {
        return;
    }
    /* down first: whoever claims next publishes before readers trust */
    words_write(board, pid, 0, 0, -1);
    while (lease_pid(old) == pid
           && !__atomic_compare_exchange_n(&board->lease, &old, 0, 0,
                                           __ATOMIC_ACQ_REL,
                                           __ATOMIC_ACQUIRE)) {
    }
}

apr_status_t rus_board_mark(const rus_board_t *board, apr_time_t now,
                            rus_store_mark_t *mark, const char **pmsg)
{
    apr_uint64_t seq, again, lease, epoch;
    apr_uint32_t up, pid;
    apr_int64_t last_id;

    seq = __atomic_load_n(&board->seq, __ATOMIC_ACQUIRE);
    if (seq & 1) {
        return APR_EAGAIN;
    }
    up = __atomic_load_n(&board->up, __ATOMIC_RELAXED);
    pid = __atomic_load_n(&board->pid, __ATOMIC_RELAXED);
    epoch = __atomic_load_n(&board->epoch, __ATOMIC_RELAXED);
    last_id = __atomic_load_n(&board->last_id, __ATOMIC_RELAXED);
    /* the loads above must not move below the second read of seq */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    again = __atomic_load_n(&board->seq, __ATOMIC_RELAXED);
    if (again != seq) {
        return APR_EAGAIN;
    }
    lease = __atomic_load_n(&board->lease, __ATOMIC_ACQUIRE);
    if (lease_pid(lease) == 0) {
        *pmsg = "no process of this host follows the store's commits";
        return APR_EINIT;
    }
    if (!up || pid != lease_pid(lease)) {
        *pmsg = "the host's listener is not connected to the store";
        return APR_EINIT;
    }
    if (!lease_fresh(lease, now)) {
        *pmsg = "the host's listener has not renewed its lease for a "
                "second or more";
        return APR_EINIT;
    }
    memset(mark, 0, sizeof(*mark));
    mark->w[0] = (apr_uint32_t)epoch;
    mark->w[1] = (apr_uint32_t)(epoch >> 32);
    mark->w[2] = (apr_uint32_t)(apr_uint64_t)last_id;
    mark->w[3] = (apr_uint32_t)((apr_uint64_t)last_id >> 32);
    return APR_SUCCESS;
}
