/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The write gate (rus_gate.c): a cap, never a wait. */

#include <apr_atomic.h>
#include <apr_thread_proc.h>

#include "rus_gate.h"
#include "test_common.h"

START_TEST(test_cap)
{
    rus_gate_t gate;
    int i;

    rus_gate_init(&gate, 2);
    ck_assert_int_eq(rus_gate_enter(&gate), APR_SUCCESS);
    ck_assert_int_eq(rus_gate_enter(&gate), APR_SUCCESS);
    ck_assert_int_eq(rus_gate_inside(&gate), 2);
    /* full: refused at once, and nothing to undo */
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(rus_gate_enter(&gate), RUS_GATE_EFULL);
    }
    ck_assert_int_eq(rus_gate_inside(&gate), 2);
    rus_gate_leave(&gate);
    ck_assert_int_eq(rus_gate_enter(&gate), APR_SUCCESS);
    ck_assert_int_eq(rus_gate_enter(&gate), RUS_GATE_EFULL);
    rus_gate_leave(&gate);
    rus_gate_leave(&gate);
    ck_assert_int_eq(rus_gate_inside(&gate), 0);
}
END_TEST

START_TEST(test_no_limit)
{
    rus_gate_t gate;
    int i;

    rus_gate_init(&gate, 0);
    for (i = 0; i < 1000; i++) {
        ck_assert_int_eq(rus_gate_enter(&gate), APR_SUCCESS);
    }
    ck_assert_int_eq(rus_gate_inside(&gate), 1000);
    for (i = 0; i < 1000; i++) {
        rus_gate_leave(&gate);
    }
    ck_assert_int_eq(rus_gate_inside(&gate), 0);
    /* no gate at all */
    ck_assert_int_eq(rus_gate_enter(NULL), APR_SUCCESS);
    rus_gate_leave(NULL);
    ck_assert_int_eq(rus_gate_inside(NULL), 0);
}
END_TEST

#define RACERS 8
#define ROUNDS 20000

typedef struct race_t {
    rus_gate_t gate;
    volatile apr_uint32_t holders; /* inside, as the holders count it */
    volatile apr_uint32_t worst;   /* most holders seen at once */
    volatile apr_uint32_t entered;
} race_t;

static void *APR_THREAD_FUNC racer(apr_thread_t *thd, void *data)
{
    race_t *race = data;
    int i;

    for (i = 0; i < ROUNDS; i++) {
        apr_uint32_t now, worst;

        if (rus_gate_enter(&race->gate) != APR_SUCCESS) {
            continue;
        }
        now = apr_atomic_inc32(&race->holders) + 1;
        worst = apr_atomic_read32(&race->worst);
        while (now > worst
               && apr_atomic_cas32(&race->worst, now, worst) != worst) {
            worst = apr_atomic_read32(&race->worst);
        }
        apr_atomic_inc32(&race->entered);
        apr_atomic_dec32(&race->holders);
        rus_gate_leave(&race->gate);
    }
    apr_thread_exit(thd, APR_SUCCESS);
    return NULL;
}

/* Threads racing for the places never hold more than the cap, and the
 * gate is empty when they are done. */
START_TEST(test_race_never_exceeds_cap)
{
    apr_thread_t *threads[RACERS];
    apr_status_t trv;
    apr_pool_t *p;
    race_t race;
    int i;

    apr_pool_create(&p, NULL);
    rus_gate_init(&race.gate, 3);
    apr_atomic_set32(&race.holders, 0);
    apr_atomic_set32(&race.worst, 0);
    apr_atomic_set32(&race.entered, 0);
    for (i = 0; i < RACERS; i++) {
        ck_assert_int_eq(apr_thread_create(&threads[i], NULL, racer, &race, p),
                         APR_SUCCESS);
    }
    for (i = 0; i < RACERS; i++) {
        apr_thread_join(&trv, threads[i]);
    }
    ck_assert_uint_le(apr_atomic_read32(&race.worst), 3);
    ck_assert_uint_gt(apr_atomic_read32(&race.entered), 0);
    ck_assert_int_eq(rus_gate_inside(&race.gate), 0);
    apr_pool_destroy(p);
}
END_TEST

TCase *rus_gate_test_case(void)
{
    TCase *tc = tcase_create("gate");

    tcase_add_test(tc, test_cap);
    tcase_add_test(tc, test_no_limit);
    tcase_add_test(tc, test_race_never_exceeds_cap);
    return tc;
}
