/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The board of a shared store (rus_board.c): the lease, who may publish,
 * when readers stop trusting it, and marks never torn. */

#include <string.h>

#include <apr_atomic.h>
#include <apr_thread_proc.h>

#include "rus_board.h"
#include "test_common.h"

/* A moment well away from 0 and from the 32-bit millisecond wrap. */
#define T0    apr_time_from_sec(1700000000)
#define MS(n) apr_time_from_msec(n)

/* A board in memory of the test's own, aligned as shared memory is. */
static rus_board_t *new_board(apr_pool_t *p)
{
    void *mem = apr_palloc(p, rus_board_size() + 64);

    ck_assert_uint_ge(rus_board_size(), 40);
    mem = (void *)(((apr_uintptr_t)mem + 63) & ~(apr_uintptr_t)63);
    memset(mem, 0xa5, rus_board_size()); /* init must not rely on zeros */
    return rus_board_init(mem);
}

static int marks_equal(const rus_store_mark_t *a, const rus_store_mark_t *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}

START_TEST(test_new_board_is_not_trusted)
{
    apr_pool_t *p;
    rus_board_t *board;
    rus_store_mark_t mark;
    const char *msg = NULL;

    apr_pool_create(&p, NULL);
    board = new_board(p);
    ck_assert_int_eq(rus_board_mark(board, T0, &mark, &msg), APR_EINIT);
    ck_assert_ptr_nonnull(msg);
    ck_assert_ptr_nonnull(strstr(msg, "no process"));
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_claim_renew_steal)
{
    apr_pool_t *p;
    rus_board_t *board;

    apr_pool_create(&p, NULL);
    board = new_board(p);
    ck_assert_int_eq(rus_board_claim(board, 100, T0), 1);
    /* another process cannot take a fresh lease */
    ck_assert_int_eq(rus_board_claim(board, 200, T0 + MS(10)), 0);
    ck_assert_int_eq(rus_board_claim(board, 200, T0 + MS(999)), 0);
    /* the holder renews it */
    ck_assert_int_eq(rus_board_claim(board, 100, T0 + MS(900)), 1);
    ck_assert_int_eq(rus_board_claim(board, 200, T0 + MS(1800)), 0);
    /* not renewed for a lease: anyone may take it */
    ck_assert_int_eq(rus_board_claim(board, 200, T0 + MS(1900)), 1);
    ck_assert_int_eq(rus_board_claim(board, 100, T0 + MS(1950)), 0);
    /* a renewal too far in the future (the clock stepped back) is stale */
    ck_assert_int_eq(rus_board_claim(board, 300, T0 - MS(5000)), 1);
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_publish_only_by_holder)
{
    apr_pool_t *p;
    rus_board_t *board;
    rus_store_mark_t m1, m2;
    const char *msg = NULL;

    apr_pool_create(&p, NULL);
    board = new_board(p);
    /* nobody holds it: nothing is written */
    ck_assert_int_eq(rus_board_publish(board, 100, 7, 1, T0), 0);
    ck_assert_int_ne(rus_board_mark(board, T0, &m1, &msg), APR_SUCCESS);

    ck_assert_int_eq(rus_board_claim(board, 100, T0), 1);
    /* claimed, not yet published: not trusted */
    ck_assert_int_ne(rus_board_mark(board, T0, &m1, &msg), APR_SUCCESS);
    ck_assert_int_eq(rus_board_publish(board, 100, 7, 1, T0), 1);
    ck_assert_int_eq(rus_board_mark(board, T0 + MS(1), &m1, &msg), APR_SUCCESS);

    /* another process's publication changes nothing */
    ck_assert_int_eq(rus_board_publish(board, 200, 99, 1, T0 + MS(2)), 0);
    ck_assert_int_eq(rus_board_mark(board, T0 + MS(3), &m2, &msg), APR_SUCCESS);
    ck_assert(marks_equal(&m1, &m2));
    /* ... nor do its down and release */
    rus_board_down(board, 200, T0 + MS(4));
    rus_board_release(board, 200);
    ck_assert_int_eq(rus_board_mark(board, T0 + MS(5), &m2, &msg), APR_SUCCESS);
    ck_assert(marks_equal(&m1, &m2));
    ck_assert_int_eq(rus_board_claim(board, 200, T0 + MS(6)), 0);
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_mark_moves_with_id_and_epoch)
{
    apr_pool_t *p;
    rus_board_t *board;
    rus_store_mark_t m1, m2, m3, m4;
    const char *msg = NULL;

    apr_pool_create(&p, NULL);
    board = new_board(p);
    ck_assert_int_eq(rus_board_claim(board, 100, T0), 1);
    ck_assert_int_eq(rus_board_publish(board, 100, 10, 1, T0), 1);
    ck_assert_int_eq(rus_board_mark(board, T0, &m1, &msg), APR_SUCCESS);
    /* the same id again (a timeout, nothing committed): the same mark */
    ck_assert_int_eq(rus_board_publish(board, 100, 10, 0, T0 + MS(250)), 1);
    ck_assert_int_eq(rus_board_mark(board, T0 + MS(250), &m2, &msg),
                     APR_SUCCESS);
    ck_assert(marks_equal(&m1, &m2));
    /* a commit: another mark */
    ck_assert_int_eq(rus_board_publish(board, 100, 11, 0, T0 + MS(500)), 1);
    ck_assert_int_eq(rus_board_mark(board, T0 + MS(500), &m3, &msg),
                     APR_SUCCESS);
    ck_assert(!marks_equal(&m2, &m3));
    /* a reconnection, the same id: a new epoch, another mark */
    ck_assert_int_eq(rus_board_publish(board, 100, 11, 1, T0 + MS(750)), 1);
    ck_assert_int_eq(rus_board_mark(board, T0 + MS(750), &m4, &msg),
                     APR_SUCCESS);
    ck_assert(!marks_equal(&m3, &m4));
    ck_assert(!marks_equal(&m1, &m4));
    /* ids past 32 bits */
    ck_assert_int_eq(rus_board_publish(board, 100,
                                       APR_INT64_C(0x100000000) + 11, 0,
                                       T0 + MS(800)),
                     1);
    ck_assert_int_eq(rus_board_mark(board, T0 + MS(800), &m3, &msg),
                     APR_SUCCESS);
    ck_assert(!marks_equal(&m3, &m4));
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_down_and_release_fail_at_once)
{
    apr_pool_t *p;
    rus_board_t *board;
    rus_store_mark_t m1, m2;
    const char *msg = NULL;

    apr_pool_create(&p, NULL);
    board = new_board(p);
    ck_assert_int_eq(rus_board_claim(board, 100, T0), 1);
    ck_assert_int_eq(rus_board_publish(board, 100, 5, 1, T0), 1);
    ck_assert_int_eq(rus_board_mark(board, T0, &m1, &msg), APR_SUCCESS);

    rus_board_down(board, 100, T0 + MS(1));
    msg = NULL;
    ck_assert_int_eq(rus_board_mark(board, T0 + MS(1), &m2, &msg), APR_EINIT);
    ck_assert_ptr_nonnull(strstr(msg, "not connected"));
    /* down keeps the lease */
    ck_assert_int_eq(rus_board_claim(board, 200, T0 + MS(2)), 0);
    /* back: trusted again */
    ck_assert_int_eq(rus_board_publish(board, 100, 5, 1, T0 + MS(3)), 1);
    ck_assert_int_eq(rus_board_mark(board, T0 + MS(3), &m2, &msg), APR_SUCCESS);

    rus_board_release(board, 100);
    msg = NULL;
    ck_assert_int_eq(rus_board_mark(board, T0 + MS(4), &m2, &msg), APR_EINIT);
    ck_assert_ptr_nonnull(msg);
    /* released: another process takes it at once, and is trusted only
     * once it has published */
    ck_assert_int_eq(rus_board_claim(board, 200, T0 + MS(5)), 1);
    ck_assert_int_ne(rus_board_mark(board, T0 + MS(5), &m2, &msg), APR_SUCCESS);
    ck_assert_int_eq(rus_board_publish(board, 100, 6, 0, T0 + MS(6)), 0);
    ck_assert_int_eq(rus_board_publish(board, 200, 5, 1, T0 + MS(6)), 1);
    ck_assert_int_eq(rus_board_mark(board, T0 + MS(6), &m2, &msg), APR_SUCCESS);
    ck_assert(!marks_equal(&m1, &m2)); /* a new epoch */
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_stale_lease_is_not_trusted)
{
    apr_pool_t *p;
    rus_board_t *board;
    rus_store_mark_t mark;
    const char *msg = NULL;

    apr_pool_create(&p, NULL);
    board = new_board(p);
    ck_assert_int_eq(rus_board_claim(board, 100, T0), 1);
    ck_assert_int_eq(rus_board_publish(board, 100, 5, 1, T0), 1);
    ck_assert_int_eq(rus_board_mark(board, T0 + MS(RUS_BOARD_LEASE_MS - 1),
                                    &mark, &msg),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_board_mark(board, T0 + MS(RUS_BOARD_LEASE_MS), &mark,
                                    &msg),
                     APR_EINIT);
    ck_assert_ptr_nonnull(strstr(msg, "lease"));
    /* the holder late: its renewal does not make the old words true */
    ck_assert_int_eq(rus_board_claim(board, 100, T0 + MS(3000)), 1);
    ck_assert_int_ne(rus_board_mark(board, T0 + MS(3000), &mark, &msg),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_board_publish(board, 100, 5, 0, T0 + MS(3001)), 1);
    ck_assert_int_eq(rus_board_mark(board, T0 + MS(3001), &mark, &msg),
                     APR_SUCCESS);
    /* a stolen lease: the former holder's words are not trusted */
    ck_assert_int_eq(rus_board_claim(board, 200, T0 + MS(5000)), 1);
    ck_assert_int_ne(rus_board_mark(board, T0 + MS(5000), &mark, &msg),
                     APR_SUCCESS);
    ck_assert_int_eq(rus_board_publish(board, 100, 9, 0, T0 + MS(5001)), 0);
    ck_assert_int_ne(rus_board_mark(board, T0 + MS(5001), &mark, &msg),
                     APR_SUCCESS);
    apr_pool_destroy(p);
}
END_TEST

/* A writer publishing ids 1, 2, ... with a new epoch at every multiple of
 * EPOCH_EVERY, while readers check that each mark they get is one the
 * writer published whole: epoch == id / EPOCH_EVERY, and neither goes
 * back. */
#define STRESS_IDS     200000
#define STRESS_READERS 3
#define EPOCH_EVERY    7

typedef struct stress_t {
    rus_board_t *board;
    volatile apr_uint32_t done;
    volatile apr_uint32_t bad;     /* torn or backwards marks */
    volatile apr_uint32_t good;    /* marks read whole */
    volatile apr_uint32_t retries; /* APR_EAGAIN */
} stress_t;

static void *APR_THREAD_FUNC stress_writer(apr_thread_t *thd, void *data)
{
    stress_t *st = data;
    apr_int64_t id;

    rus_board_claim(st->board, 4242, rus_board_now());
    for (id = 1; id <= STRESS_IDS; id++) {
        rus_board_publish(st->board, 4242, id, id % EPOCH_EVERY == 0,
                          rus_board_now());
    }
    apr_atomic_set32(&st->done, 1);
    apr_thread_exit(thd, APR_SUCCESS);
    return NULL;
}

/* The readers' loop. Not in the thread's function: under ASan, the
 * redzones of a frame whose locals have their address taken would stay
 * poisoned past apr_thread_exit(), and ASan's own thread teardown would
 * trip over them (hence noinline too). */
static __attribute__((noinline)) void stress_read(stress_t *st)
{
    apr_uint64_t last_epoch = 0, epoch;
    apr_int64_t last_id = 0, id;
    rus_store_mark_t mark;
    const char *msg = NULL;
    apr_status_t rv;

    while (!apr_atomic_read32(&st->done)) {
        rv = rus_board_mark(st->board, rus_board_now(), &mark, &msg);
        if (rv == APR_EAGAIN) {
            apr_atomic_inc32(&st->retries);
            continue;
        }
        if (rv != APR_SUCCESS) {
            continue; /* not published yet */
        }
        epoch = mark.w[0] | ((apr_uint64_t)mark.w[1] << 32);
        id = (apr_int64_t)(mark.w[2] | ((apr_uint64_t)mark.w[3] << 32));
        if ((apr_int64_t)epoch != id / EPOCH_EVERY || epoch < last_epoch
            || id < last_id) {
            apr_atomic_inc32(&st->bad);
        }
        last_epoch = epoch;
        last_id = id;
        apr_atomic_inc32(&st->good);
    }
}

static void *APR_THREAD_FUNC stress_reader(apr_thread_t *thd, void *data)
{
    stress_read(data);
    apr_thread_exit(thd, APR_SUCCESS);
    return NULL;
}

START_TEST(test_marks_never_torn)
{
    apr_pool_t *p;
    apr_thread_t *writer, *readers[STRESS_READERS];
    apr_status_t trv;
    stress_t st;
    int i;

    apr_pool_create(&p, NULL);
    memset(&st, 0, sizeof(st));
    st.board = new_board(p);
    for (i = 0; i < STRESS_READERS; i++) {
        ck_assert_int_eq(apr_thread_create(&readers[i], NULL, stress_reader,
                                           &st, p),
                         APR_SUCCESS);
    }
    ck_assert_int_eq(apr_thread_create(&writer, NULL, stress_writer, &st, p),
                     APR_SUCCESS);
    apr_thread_join(&trv, writer);
    for (i = 0; i < STRESS_READERS; i++) {
        apr_thread_join(&trv, readers[i]);
    }
    ck_assert_uint_eq(st.bad, 0);
    ck_assert_uint_gt(st.good, 0);
    apr_pool_destroy(p);
}
END_TEST

/* A writer that died between its two steps leaves the sequence odd: the
 * next holder takes it over, and readers trust the board again. */
START_TEST(test_dead_writer_taken_over)
{
    apr_pool_t *p;
    rus_board_t *board;
    rus_store_mark_t mark;
    const char *msg = NULL;
    apr_uint64_t *seq;

    apr_pool_create(&p, NULL);
    board = new_board(p);
    ck_assert_int_eq(rus_board_claim(board, 100, T0), 1);
    ck_assert_int_eq(rus_board_publish(board, 100, 3, 1, T0), 1);
    /* the sequence word is the second 64-bit word (rus_board.c) */
    seq = (apr_uint64_t *)board + 1;
    ck_assert_uint_eq(*seq & 1, 0);
    *seq = ((apr_uint64_t)100 << 32) | ((*seq + 1) & 0xffffffff);
    ck_assert_int_eq(rus_board_mark(board, T0, &mark, &msg), APR_EAGAIN);
    ck_assert_int_eq(rus_board_claim(board, 200, T0 + MS(2000)), 1);
    ck_assert_int_eq(rus_board_publish(board, 200, 4, 1, T0 + MS(2001)), 1);
    ck_assert_int_eq(rus_board_mark(board, T0 + MS(2001), &mark, &msg),
                     APR_SUCCESS);
    ck_assert_uint_eq(mark.w[2], 4);
    apr_pool_destroy(p);
}
END_TEST

TCase *rus_board_test_case(void)
{
    TCase *tc = tcase_create("board");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_new_board_is_not_trusted);
    tcase_add_test(tc, test_claim_renew_steal);
    tcase_add_test(tc, test_publish_only_by_holder);
    tcase_add_test(tc, test_mark_moves_with_id_and_epoch);
    tcase_add_test(tc, test_down_and_release_fail_at_once);
    tcase_add_test(tc, test_stale_lease_is_not_trusted);
    tcase_add_test(tc, test_marks_never_torn);
    tcase_add_test(tc, test_dead_writer_taken_over);
    return tc;
}
