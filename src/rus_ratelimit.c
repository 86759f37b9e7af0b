/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The limiter of repeated failure reports: a mutex around a count, taken
 * only when something failed (the success path never comes here). */

#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "rus_ratelimit.h"

struct rus_ratelimit_t {
    apr_thread_mutex_t *lock;     /* guards what follows */
    apr_interval_time_t interval; /* at most one line per interval */
    apr_time_t next;              /* no line before this, but a summary */
    rus_ratelimit_summary_t held; /* the failures held back */
};

apr_status_t rus_ratelimit_create(rus_ratelimit_t **prl, apr_pool_t *p,
                                  apr_interval_time_t interval)
{
    rus_ratelimit_t *rl = apr_pcalloc(p, sizeof(*rl));
    apr_status_t rv;

    rv = apr_thread_mutex_create(&rl->lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv == APR_SUCCESS) {
        rl->interval = interval;
        *prl = rl;
    }
    return rv;
}

apr_interval_time_t rus_ratelimit_interval(const rus_ratelimit_t *rl)
{
    return rl->interval;
}

/* Hand the held-back failures to @a sum and start a new interval at
 * @a now. Called with the lock held. */
static void take_summary(rus_ratelimit_t *rl, apr_time_t now,
                         rus_ratelimit_summary_t *sum)
{
    *sum = rl->held;
    rl->held.count = 0;
    rl->held.last[0] = '\0';
    rl->next = now + rl->interval;
}

rus_ratelimit_e rus_ratelimit_hit(rus_ratelimit_t *rl, apr_time_t now,
                                  const char *what,
                                  rus_ratelimit_summary_t *sum)
{
    rus_ratelimit_e verdict;

    apr_thread_mutex_lock(rl->lock);
    if (now < rl->next || rl->held.count > 0) {
        if (rl->held.count++ == 0) {
            rl->held.since = now;
        }
        apr_cpystrn(rl->held.last, what ? what : "", sizeof(rl->held.last));
        verdict = RUS_RL_HOLD;
        if (now >= rl->next) {
            take_summary(rl, now, sum);
            verdict = RUS_RL_SUMMARY;
        }
    }
    else {
        rl->next = now + rl->interval;
        verdict = RUS_RL_LOG;
    }
    apr_thread_mutex_unlock(rl->lock);
    return verdict;
}

int rus_ratelimit_flush(rus_ratelimit_t *rl, apr_time_t now, int force,
                        rus_ratelimit_summary_t *sum)
{
    int due;

    apr_thread_mutex_lock(rl->lock);
    due = rl->held.count > 0 && (force || now >= rl->next);
    if (due) {
        take_summary(rl, now, sum);
    }
    apr_thread_mutex_unlock(rl->lock);
    return due;
}
