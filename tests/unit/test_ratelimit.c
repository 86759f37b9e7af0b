/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The limiter of repeated failure reports (rus_ratelimit.c). */

#include <string.h>

#include "rus_ratelimit.h"
#include "test_common.h"

#define SEC(n) apr_time_from_sec(n)

static apr_pool_t *pool;

static void setup(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* The first failure is told in full; the rest of the interval is counted
 * and told as one summary with the last text, once per interval while it
 * goes on; after a quiet interval the next failure is told in full. */
START_TEST(test_first_in_full_then_one_summary_per_interval)
{
    rus_ratelimit_summary_t sum;
    rus_ratelimit_t *rl = NULL;
    int i;

    ck_assert_int_eq(rus_ratelimit_create(&rl, pool, SEC(10)), APR_SUCCESS);
    ck_assert_int_eq(rus_ratelimit_interval(rl), SEC(10));
    ck_assert_int_eq(rus_ratelimit_hit(rl, SEC(100), "a", &sum), RUS_RL_LOG);
    for (i = 0; i < 999; i++) {
        ck_assert_int_eq(rus_ratelimit_hit(rl, SEC(101) + i, i ? "c" : "b",
                                           &sum),
                         RUS_RL_HOLD);
    }
    /* not before the interval is over */
    ck_assert_int_eq(rus_ratelimit_flush(rl, SEC(109), 0, &sum), 0);
    /* a failure once it is over says the summary, itself included */
    ck_assert_int_eq(rus_ratelimit_hit(rl, SEC(110), "d", &sum),
                     RUS_RL_SUMMARY);
    ck_assert_int_eq(sum.count, 1000);
    ck_assert_int_eq(sum.since, SEC(101));
    ck_assert_str_eq(sum.last, "d");
    /* still failing: counted again, and the timer tells it */
    ck_assert_int_eq(rus_ratelimit_hit(rl, SEC(111), "e", &sum), RUS_RL_HOLD);
    ck_assert_int_eq(rus_ratelimit_hit(rl, SEC(112), "f", &sum), RUS_RL_HOLD);
    ck_assert_int_eq(rus_ratelimit_flush(rl, SEC(119), 0, &sum), 0);
    ck_assert_int_eq(rus_ratelimit_flush(rl, SEC(120), 0, &sum), 1);
    ck_assert_int_eq(sum.count, 2);
    ck_assert_str_eq(sum.last, "f");
    ck_assert_int_eq(rus_ratelimit_flush(rl, SEC(200), 0, &sum), 0);
    /* quiet since: the next failure is told in full again */
    ck_assert_int_eq(rus_ratelimit_hit(rl, SEC(200), "g", &sum), RUS_RL_LOG);
    ck_assert_int_eq(rus_ratelimit_hit(rl, SEC(201), "h", &sum), RUS_RL_HOLD);
    /* at exit, whatever is held goes at once */
    ck_assert_int_eq(rus_ratelimit_flush(rl, SEC(202), 1, &sum), 1);
    ck_assert_int_eq(sum.count, 1);
    ck_assert_str_eq(sum.last, "h");
    ck_assert_int_eq(rus_ratelimit_flush(rl, SEC(203), 1, &sum), 0);
}
END_TEST

/* A long text is cut, never overrun. */
START_TEST(test_long_text_is_cut)
{
    char big[RUS_RATELIMIT_TEXT_MAX * 2];
    rus_ratelimit_summary_t sum;
    rus_ratelimit_t *rl = NULL;

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(rus_ratelimit_create(&rl, pool, SEC(1)), APR_SUCCESS);
    ck_assert_int_eq(rus_ratelimit_hit(rl, 0, big, &sum), RUS_RL_LOG);
    ck_assert_int_eq(rus_ratelimit_hit(rl, 1, big, &sum), RUS_RL_HOLD);
    ck_assert_int_eq(rus_ratelimit_flush(rl, SEC(1), 0, &sum), 1);
    ck_assert_int_eq(strlen(sum.last), RUS_RATELIMIT_TEXT_MAX - 1);
}
END_TEST

TCase *rus_ratelimit_test_case(void)
{
    TCase *tc = tcase_create("ratelimit");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_first_in_full_then_one_summary_per_interval);
    tcase_add_test(tc, test_long_text_is_cut);
    return tc;
}
