/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file rus_ratelimit.h
 * @brief Rate-limited reporting of a repeated failure, for the threads of
 *        one process: the first failure is told in full; the ones that
 *        follow within an interval are counted, and one summary per
 *        interval gives their number and the last one's text. A store
 *        that fails every request (unreadable, locked) then writes a
 *        handful of log lines instead of one per request. Time is passed
 *        in, so tests drive the clock.
 */
#ifndef RUS_RATELIMIT_H
#define RUS_RATELIMIT_H

#include <apr_pools.h>
#include <apr_time.h>

/** Longest text kept of the last failure held back. */
#define RUS_RATELIMIT_TEXT_MAX 512

typedef struct rus_ratelimit_t rus_ratelimit_t;

/** What to say about a failure. */
typedef enum {
    RUS_RL_LOG = 0, /**< tell it in full */
    RUS_RL_HOLD,    /**< counted: say nothing now */
    RUS_RL_SUMMARY  /**< say the summary instead (it includes this one) */
} rus_ratelimit_e;

/** The failures held back since the last line. */
typedef struct rus_ratelimit_summary_t {
    apr_uint64_t count;                /**< how many */
    apr_time_t since;                  /**< the first one's time */
    char last[RUS_RATELIMIT_TEXT_MAX]; /**< the last one's text */
} rus_ratelimit_summary_t;

/**
 * A limiter allowing one line per @a interval, in @a p (with a mutex for
 * the process's threads).
 * @return APR_SUCCESS, or the mutex's error
 */
apr_status_t rus_ratelimit_create(rus_ratelimit_t **prl, apr_pool_t *p,
                                  apr_interval_time_t interval);

/** The interval the limiter was made with. */
apr_interval_time_t rus_ratelimit_interval(const rus_ratelimit_t *rl);

/**
 * A failure at @a now with the text @a what (copied when held back).
 * RUS_RL_LOG when no line was written for an interval and none is held
 * back; RUS_RL_HOLD when a line was written less than an interval ago;
 * RUS_RL_SUMMARY, with @a sum filled in, when an interval has passed and
 * failures were held back: one line for all of them, this one included.
 */
rus_ratelimit_e rus_ratelimit_hit(rus_ratelimit_t *rl, apr_time_t now,
                                  const char *what,
                                  rus_ratelimit_summary_t *sum);

/**
 * The summary of the failures held back, when an interval has passed
 * since the last line (or at once with @a force, at exit): 1 with
 * @a sum filled in and the count reset, else 0. Called on a timer, so
 * that the count of a burst that ended is told too.
 */
int rus_ratelimit_flush(rus_ratelimit_t *rl, apr_time_t now, int force,
                        rus_ratelimit_summary_t *sum);

#endif /* RUS_RATELIMIT_H */
