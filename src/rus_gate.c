/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The write gate: an atomic count of holders, never a lock. Entering
 * increments first and backs out when that went past the cap, so two
 * threads racing for the last place cannot both get it; a refused
 * thread's increment is visible for an instant only, and can at worst
 * make another thread's attempt in that instant fail too (a 503 early,
 * never a holder too many). */

#include <apr_atomic.h>

#include "rus_gate.h"

void rus_gate_init(rus_gate_t *gate, apr_uint32_t cap)
{
    apr_atomic_set32(&gate->inside, 0);
    gate->cap = cap;
}

/* APR_SUCCESS with one place taken, or RUS_GATE_EFULL with none. */
apr_status_t rus_gate_enter(rus_gate_t *gate)
{
    apr_uint32_t before;

    if (gate == NULL) {
        return APR_SUCCESS;
    }
    before = apr_atomic_inc32(&gate->inside);
    if (gate->cap != 0 && before >= gate->cap) {
        apr_atomic_dec32(&gate->inside);
        return RUS_GATE_EFULL;
    }
    return APR_SUCCESS;
}

/* Give the place back. */
void rus_gate_leave(rus_gate_t *gate)
{
    if (gate != NULL) {
        apr_atomic_dec32(&gate->inside);
    }
}

/* A snapshot: it may have changed by the time the caller looks. */
apr_uint32_t rus_gate_inside(rus_gate_t *gate)
{
    return gate == NULL ? 0 : apr_atomic_read32(&gate->inside);
}
