/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file rus_gate.h
 * @brief A counter with a cap, shared by the threads of one process: at
 *        most @c cap holders at once, and whoever finds it full is told so
 *        at once instead of waiting. httpd puts every store write that may
 *        wait for the store's single write lock through one per child, so
 *        that a flood of first logins ties up at most @c cap workers of the
 *        child and every other request (session cookies, which only read)
 *        still finds a free one.
 */
#ifndef RUS_GATE_H
#define RUS_GATE_H

#include <apr.h>
#include <apr_errno.h>

/** A write was refused because the gate was full: answer 503, retry
 *  soon. Not a store failure: nothing was asked of the store. */
#define RUS_GATE_EFULL (APR_OS_START_USERERR + 20)

/** The gate. Fields are private; a zeroed gate has no limit. */
typedef struct rus_gate_t {
    volatile apr_uint32_t inside; /**< holders right now */
    apr_uint32_t cap;             /**< at most this many; 0: no limit */
} rus_gate_t;

/**
 * Set the cap of an empty gate. Call before any thread uses it.
 * @param cap  most holders at once; 0 for no limit
 */
void rus_gate_init(rus_gate_t *gate, apr_uint32_t cap);

/**
 * Enter the gate without waiting. Lock-free; safe from any thread.
 * @param gate  the gate; NULL is a gate without limit
 * @return APR_SUCCESS when entered (the caller must rus_gate_leave()), or
 *         RUS_GATE_EFULL when @c cap holders are inside (nothing to undo)
 */
apr_status_t rus_gate_enter(rus_gate_t *gate);

/** Leave a gate entered with rus_gate_enter(). NULL is a no-op. */
void rus_gate_leave(rus_gate_t *gate);

/** How many holders are inside right now (for logs and tests). */
apr_uint32_t rus_gate_inside(rus_gate_t *gate);

#endif /* RUS_GATE_H */
