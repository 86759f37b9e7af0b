/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The module's counters, in one region of memory that every process of a
 * host shares (an anonymous mapping made before fork, kept across
 * graceful restarts by its owner):
 *
 *   header: magic, layout, the size of everything, the lock that guards
 *           taking a set, the gauges and the time they are next due
 *   sets:   RUS_METRICS_VHOSTS + 1 of them, each on cache lines of its
 *           own: taken, server_name, the counters, the latency histogram
 *           (per bucket, not cumulative) and its sum in microseconds
 *
 * Counting is one relaxed atomic add (two for a latency): no lock, no
 * system call, no allocation. Reading copies every number with a relaxed
 * load; a render is consistent with itself (cumulative buckets and
 * _count from one copy) but not a snapshot across counters, which
 * Prometheus does not ask for. Nothing is ever reset but by
 * rus_metrics_init() on memory that does not hold this layout.
 *
 * Rendered names and label values are hostile (a server_name is the
 * administrator's, but is still cleaned and escaped): a set's name is
 * kept as valid UTF-8 without control characters (others become '?'
 * when the set is taken), so two names never render as one label, and
 * each render escapes what its format asks. */

#include <string.h>

#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "rus_metrics.h"
#include "rus_username.h"

/* "RUSMETRC": memory laid out by this file. */
#define MAGIC APR_UINT64_C(0x5255534d45545243)
/* Bumped whenever the meaning of the memory changes without its shape. */
#define LAYOUT 1
/* The shape: memory laid out for other counts is not ours either. */
#define SHAPE                                                       \
    ((apr_uint32_t)RUS_M_COUNTERS | (apr_uint32_t)RUS_G_GAUGES << 8 \
     | (apr_uint32_t)RUS_METRICS_BUCKETS << 16                      \
     | (apr_uint32_t)RUS_METRICS_VHOSTS << 24)

/* How long rus_metrics_vhost() waits for the lock (tries of a
 * millisecond) before it takes it anyway: only startup code holds it,
 * for a few microseconds, so a lock still held then belongs to a process
 * that died holding it. */
#define LOCK_TRIES 1000

#define LINE 64

/* The host-wide part, at the start of the memory. */
typedef struct metrics_hdr_t {
    apr_uint64_t magic;                    /* MAGIC once laid out */
    apr_uint32_t layout;                   /* LAYOUT */
    apr_uint32_t shape;                    /* SHAPE */
    apr_uint64_t bytes;                    /* rus_metrics_size() */
    apr_uint32_t lock;                     /* 1: a set is being taken */
    apr_uint32_t unused;                   /* (alignment) */
    apr_int64_t gauges_due;                /* apr_time_t: next gauge read */
    apr_int64_t gauge[RUS_G_GAUGES];       /* the values */
    apr_int64_t gauge_at[RUS_G_GAUGES];    /* when they were read */
    apr_uint32_t gauge_read[RUS_G_GAUGES]; /* 1 once set */
} metrics_hdr_t;

/* One virtual host's set. */
struct rus_metrics_vhost_t {
    apr_uint32_t taken;                           /* 1 once name is set */
    char name[RUS_METRICS_NAME_MAX + 1];          /* server_name, cut */
    apr_uint64_t counter[RUS_M_COUNTERS];         /* by rus_metric_e */
    apr_uint64_t bucket[RUS_METRICS_BUCKETS + 1]; /* last: above 5 s */
    apr_uint64_t sum_us;                          /* latencies, microseconds */
};

#define ROUND_UP(n) (((n) + (LINE - 1)) & ~(apr_size_t)(LINE - 1))
/* Sets start on a cache line of their own, wherever the memory starts. */
#define HDR_BYTES ROUND_UP(sizeof(metrics_hdr_t))
#define SET_BYTES ROUND_UP(sizeof(rus_metrics_vhost_t))
#define NSETS     (RUS_METRICS_VHOSTS + 1)
#define OVERFLOW  RUS_METRICS_VHOSTS

struct rus_metrics_t {
    metrics_hdr_t *hdr;
    char *sets; /* NSETS sets of SET_BYTES, from a cache line */
};

const double rus_metrics_bucket_bounds[RUS_METRICS_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025,  0.05,    0.1,    0.5,   1,      5
};

/* The same bounds in microseconds (compared on the hot path, without
 * floating point), and as the le label says them. */
static const apr_int64_t bound_us[RUS_METRICS_BUCKETS] = {
    100,   250,   500,    1000,   2500,    5000,   10000,
    25000, 50000, 100000, 500000, 1000000, 5000000
};
static const char *const bound_le[RUS_METRICS_BUCKETS + 1] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
    "0.025",  "0.05",    "0.1",    "0.5",   "1",      "5",     "+Inf"
};

#define HIST_NAME "remoteuser_store_call_duration_seconds"
#define HIST_HELP                                                          \
    "Time the store took to answer a call (a query or a transaction), by " \
    "this host's processes."

/* ---- what is counted ---------------------------------------------------- */

#define HELP_REQUESTS \
    "Requests whose identity the module accepted, by where it came from."
#define HELP_REFUSALS "Logins refused, by cause."
#define HELP_EXPIRED                                                 \
    "Requests whose session cookie was refused because the session " \
    "expired (a cookie sent again is counted again)."
#define HELP_REVOKED "Sessions this host ended, by reason."
#define HELP_CACHE   "Lookups of the answer cache, by result."
#define HELP_ERRORS  "Store calls that failed, by kind of error."

static const rus_metric_info_t infos[RUS_M_COUNTERS] = {
    [RUS_M_REQ_FRONTEND] = { "remoteuser_requests_total", "source", "frontend",
                             HELP_REQUESTS, "requests", "RequestsFrontend" },
    [RUS_M_REQ_HEADER] = { "remoteuser_requests_total", "source", "header",
                           HELP_REQUESTS, "requests", "RequestsHeader" },
    [RUS_M_REQ_SESSION] = { "remoteuser_requests_total", "source", "session",
                            HELP_REQUESTS, "requests", "RequestsSession" },
    [RUS_M_USERS_CREATED] = { "remoteuser_users_created_total", NULL, NULL,
                              "Local users created at their first login.",
                              "users_created", "UsersCreated" },
    [RUS_M_LOGINS] = { "remoteuser_logins_total", NULL, NULL,
                       "Front-end identities accepted (r->user or the "
                       "trusted header), once per request chain.",
                       "logins", "Logins" },
    [RUS_M_PROFILE_SYNCS] = { "remoteuser_profile_syncs_total", NULL, NULL,
                              "Logins of known users that wrote a changed "
                              "profile (attributes, groups) to the store.",
                              "profile_syncs", "ProfileSyncs" },
    [RUS_M_REFUSED_INACTIVE] = { "remoteuser_refusals_total", "cause",
                                 "inactive", HELP_REFUSALS, "refusals",
                                 "RefusalsInactive" },
    [RUS_M_REFUSED_UNKNOWN] = { "remoteuser_refusals_total", "cause", "unknown",
                                HELP_REFUSALS, "refusals", "RefusalsUnknown" },
    [RUS_M_REFUSED_NAME] = { "remoteuser_refusals_total", "cause",
                             "invalid_name", HELP_REFUSALS, "refusals",
                             "RefusalsInvalidName" },
    [RUS_M_REFUSED_UNTRUSTED] = { "remoteuser_refusals_total", "cause",
                                  "untrusted_peer", HELP_REFUSALS, "refusals",
                                  "RefusalsUntrustedPeer" },
    [RUS_M_REFUSED_SPOOFED] = { "remoteuser_refusals_total", "cause",
                                "spoofed_header", HELP_REFUSALS, "refusals",
                                "RefusalsSpoofedHeader" },
    [RUS_M_REFUSED_HTACCESS] = { "remoteuser_refusals_total", "cause",
                                 "htaccess", HELP_REFUSALS, "refusals",
                                 "RefusalsHtaccess" },
    [RUS_M_SESS_MINTED] = { "remoteuser_sessions_minted_total", NULL, NULL,
                            "Sessions made (a cookie set) at a login.",
                            "sessions_minted", "SessionsMinted" },
    [RUS_M_SESS_VALIDATED] = { "remoteuser_sessions_validated_total", NULL,
                               NULL, "Session cookies accepted.",
                               "sessions_validated", "SessionsValidated" },
    [RUS_M_SESS_EXPIRED_ABSOLUTE] = { "remoteuser_sessions_expired_total",
                                      "kind", "absolute", HELP_EXPIRED,
                                      "sessions_expired",
                                      "SessionsExpiredAbsolute" },
    [RUS_M_SESS_EXPIRED_IDLE] = { "remoteuser_sessions_expired_total", "kind",
                                  "idle", HELP_EXPIRED, "sessions_expired",
                                  "SessionsExpiredIdle" },
    [RUS_M_SESS_REVOKED_LOGOUT] = { "remoteuser_sessions_revoked_total",
                                    "reason", "logout", HELP_REVOKED,
                                    "sessions_revoked",
                                    "SessionsRevokedLogout" },
    [RUS_M_SESS_REVOKED_USER_SWITCH] = { "remoteuser_sessions_revoked_total",
                                         "reason", "user_switch", HELP_REVOKED,
                                         "sessions_revoked",
                                         "SessionsRevokedUserSwitch" },
    [RUS_M_SESS_REVOKED_EVICTED] = { "remoteuser_sessions_revoked_total",
                                     "reason", "evicted", HELP_REVOKED,
                                     "sessions_revoked",
                                     "SessionsRevokedEvicted" },
    [RUS_M_CACHE_HIT] = { "remoteuser_cache_requests_total", "result", "hit",
                          HELP_CACHE, "cache_requests", "CacheHits" },
    [RUS_M_CACHE_MISS] = { "remoteuser_cache_requests_total", "result", "miss",
                           HELP_CACHE, "cache_requests", "CacheMisses" },
    [RUS_M_CACHE_INVALIDATIONS] = { "remoteuser_cache_invalidations_total",
                                    NULL, NULL,
                                    "Cached answers dropped because the store "
                                    "changed (found by coherence, or written "
                                    "by this host).",
                                    "cache_invalidations",
                                    "CacheInvalidations" },
    [RUS_M_STORE_ERR_BUSY] = { "remoteuser_store_errors_total", "kind", "busy",
                               HELP_ERRORS, "store_errors", "StoreErrorsBusy" },
    [RUS_M_STORE_ERR_UNAVAILABLE] = { "remoteuser_store_errors_total", "kind",
                                      "unavailable", HELP_ERRORS,
                                      "store_errors",
                                      "StoreErrorsUnavailable" },
    [RUS_M_STORE_ERR_CORRUPT] = { "remoteuser_store_errors_total", "kind",
                                  "corrupt", HELP_ERRORS, "store_errors",
                                  "StoreErrorsCorrupt" },
    [RUS_M_STORE_ERR_OTHER] = { "remoteuser_store_errors_total", "kind",
                                "other", HELP_ERRORS, "store_errors",
                                "StoreErrorsOther" },
};

/* The ?auto line of a labelled family's sum ("Refusals"), keyed by its
 * first member; NULL: the family has no sum line. */
static const char *family_sum(rus_metric_e c)
{
    switch (c) {
    case RUS_M_REFUSED_INACTIVE:
        return "Refusals";
    case RUS_M_SESS_EXPIRED_ABSOLUTE:
        return "SessionsExpired";
    case RUS_M_SESS_REVOKED_LOGOUT:
        return "SessionsRevoked";
    case RUS_M_STORE_ERR_BUSY:
        return "StoreErrors";
    default:
        return NULL;
    }
}

typedef struct gauge_info_t {
    const char *name;   /* Prometheus family */
    const char *label;  /* label name or NULL */
    const char *value;  /* its value */
    const char *help;   /* HELP text */
    const char *json;   /* key under "gauges" */
    const char *status; /* ?auto key after "RemoteUser" */
} gauge_info_t;

#define HELP_STORE_REVOKED \
    "Sessions ended by remoteuser-admin, as counted by the store, by reason."

static const gauge_info_t gauge_infos[RUS_G_GAUGES] = {
    [RUS_G_USERS] = { "remoteuser_users", NULL, NULL,
                      "Users in the store (read every 10 s at most).", "users",
                      "Users" },
    [RUS_G_SESSIONS_ACTIVE] = { "remoteuser_sessions_active", NULL, NULL,
                                "Sessions in the store that have not expired "
                                "(read every 10 s at most).",
                                "sessions_active", "SessionsActive" },
    [RUS_G_REVOKED_ADMIN] = { "remoteuser_store_sessions_revoked_total",
                              "reason", "admin", HELP_STORE_REVOKED,
                              "store_sessions_revoked",
                              "StoreSessionsRevokedAdmin" },
    [RUS_G_REVOKED_DEACTIVATION] = { "remoteuser_store_sessions_revoked_total",
                                     "reason", "deactivation",
                                     HELP_STORE_REVOKED,
                                     "store_sessions_revoked",
                                     "StoreSessionsRevokedDeactivation" },
};

const rus_metric_info_t *rus_metric_info(rus_metric_e c)
{
    return (unsigned int)c < RUS_M_COUNTERS ? &infos[c] : NULL;
}

/* ---- the memory --------------------------------------------------------- */

apr_size_t rus_metrics_size(void)
{
    /* LINE - 1 to spare: the sets start on a line wherever mem starts */
    return HDR_BYTES + (LINE - 1) + SET_BYTES * NSETS;
}

/* Set @a i of @a m. */
static rus_metrics_vhost_t *set_at(const rus_metrics_t *m, int i)
{
    return (rus_metrics_vhost_t *)(m->sets + SET_BYTES * (apr_size_t)i);
}

apr_uint64_t rus_metrics_layout(void)
{
    return ((apr_uint64_t)LAYOUT << 32) ^ (apr_uint64_t)SHAPE;
}

rus_metrics_t *rus_metrics_init(void *mem, apr_size_t size, apr_pool_t *p)
{
    rus_metrics_t *m;
    metrics_hdr_t *hdr = mem;

    if (mem == NULL || size < rus_metrics_size()
        || ((apr_uintptr_t)mem & 7) != 0) {
        return NULL;
    }
    m = apr_pcalloc(p, sizeof(*m));
    m->hdr = hdr;
    m->sets = (char *)mem + ROUND_UP((apr_uintptr_t)mem + HDR_BYTES)
              - (apr_uintptr_t)mem;
    if (hdr->magic == MAGIC && hdr->layout == LAYOUT && hdr->shape == SHAPE
        && hdr->bytes == rus_metrics_size()) {
        /* ours (a graceful restart): keep the counts; nobody else runs
         * startup code now, so a lock still held is a dead process's */
        __atomic_store_n(&hdr->lock, 0, __ATOMIC_RELEASE);
        return m;
    }
    memset(mem, 0, rus_metrics_size());
    hdr->layout = LAYOUT;
    hdr->shape = SHAPE;
    hdr->bytes = rus_metrics_size();
    __atomic_store_n(&hdr->magic, MAGIC, __ATOMIC_RELEASE);
    return m;
}

/* Take the lock of the sets; after LOCK_TRIES milliseconds, take it from
 * whoever holds it (see LOCK_TRIES). */
static void sets_lock(metrics_hdr_t *hdr)
{
    apr_uint32_t expect;
    int tries;

    for (tries = 0; tries < LOCK_TRIES; tries++) {
        expect = 0;
        if (__atomic_compare_exchange_n(&hdr->lock, &expect, 1, 0,
                                        __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
            return;
        }
        apr_sleep(apr_time_from_msec(1));
    }
    __atomic_store_n(&hdr->lock, 1, __ATOMIC_SEQ_CST);
}

/* Let the next one take it. */
static void sets_unlock(metrics_hdr_t *hdr)
{
    __atomic_store_n(&hdr->lock, 0, __ATOMIC_RELEASE);
}

/* Nonzero when set @a v is taken by the name @a name of @a len bytes. */
static int set_is(rus_metrics_vhost_t *v, const char *name, apr_size_t len)
{
    return __atomic_load_n(&v->taken, __ATOMIC_ACQUIRE)
           && strncmp(v->name, name, len) == 0 && v->name[len] == '\0';
}

/* @a raw as a label may show it, into @a out (RUS_METRICS_NAME_MAX + 1
 * bytes): valid UTF-8 kept, a control character or a byte that is not
 * UTF-8 as '?', cut at a character boundary. Its length. */
static apr_size_t clean_name(char *out, const char *raw)
{
    apr_size_t len = strlen(raw), i = 0, w = 0, n;

    while (i < len) {
        unsigned char c = (unsigned char)raw[i];

        n = c < 0x80                 ? 1
            : c >= 0xC2 && c <= 0xDF ? 2
            : c >= 0xE0 && c <= 0xEF ? 3
            : c >= 0xF0 && c <= 0xF4 ? 4
                                     : 0;
        if (n == 0 || i + n > len
            || rus_text_check(raw + i, n) != RUS_NAME_OK) {
            n = 1;
            c = '?';
            if (w + 1 > RUS_METRICS_NAME_MAX) {
                break;
            }
            out[w++] = (char)c;
        }
        else {
            if (w + n > RUS_METRICS_NAME_MAX) {
                break;
            }
            memcpy(out + w, raw + i, n);
            w += n;
        }
        i += n;
    }
    out[w] = '\0';
    return w;
}

rus_metrics_vhost_t *rus_metrics_vhost(rus_metrics_t *m,
                                       const char *server_name)
{
    rus_metrics_vhost_t *v = NULL, *free_set = NULL;
    char name[RUS_METRICS_NAME_MAX + 1];
    apr_size_t len;
    int i;

    if (m == NULL) {
        return NULL;
    }
    len = clean_name(name, server_name ? server_name : "");
    sets_lock(m->hdr);
    /* no name, or the overflow's own: the overflow set (never two sets
     * with one label) */
    if (len > 0 && strcmp(name, RUS_METRICS_OVERFLOW) != 0) {
        for (i = 0; i < RUS_METRICS_VHOSTS && v == NULL; i++) {
            if (set_is(set_at(m, i), name, len)) {
                v = set_at(m, i);
            }
            else if (free_set == NULL && !set_at(m, i)->taken) {
                free_set = set_at(m, i);
            }
        }
        if (v == NULL && free_set != NULL) {
            v = free_set;
            memcpy(v->name, name, len);
            v->name[len] = '\0';
            __atomic_store_n(&v->taken, 1, __ATOMIC_RELEASE);
        }
    }
    if (v == NULL) {
        v = set_at(m, OVERFLOW);
        if (!v->taken) {
            apr_cpystrn(v->name, RUS_METRICS_OVERFLOW, sizeof(v->name));
            __atomic_store_n(&v->taken, 1, __ATOMIC_RELEASE);
        }
    }
    sets_unlock(m->hdr);
    return v;
}

/* ---- counting (the hot path) -------------------------------------------- */

void rus_metrics_add(rus_metrics_vhost_t *v, rus_metric_e c, apr_uint64_t n)
{
    if (v != NULL && (unsigned int)c < RUS_M_COUNTERS) {
        __atomic_fetch_add(&v->counter[c], n, __ATOMIC_RELAXED);
    }
}

/* The bucket of a latency of @a us microseconds: the first whose bound
 * it does not pass (le: less or equal), RUS_METRICS_BUCKETS above all. */
static int bucket_of(apr_int64_t us)
{
    int i;

    for (i = 0; i < RUS_METRICS_BUCKETS; i++) {
        if (us <= bound_us[i]) {
            break;
        }
    }
    return i;
}

void rus_metrics_observe(rus_metrics_vhost_t *v, apr_interval_time_t elapsed)
{
    apr_int64_t us = elapsed < 0 ? 0 : elapsed; /* the clock stepped back */

    if (v == NULL) {
        return;
    }
    __atomic_fetch_add(&v->bucket[bucket_of(us)], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&v->sum_us, (apr_uint64_t)us, __ATOMIC_RELAXED);
}

void rus_metrics_gauge_set(rus_metrics_t *m, rus_gauge_e g, apr_int64_t value,
                           apr_time_t at)
{
    if (m == NULL || (unsigned int)g >= RUS_G_GAUGES) {
        return;
    }
    __atomic_store_n(&m->hdr->gauge[g], value, __ATOMIC_RELAXED);
    __atomic_store_n(&m->hdr->gauge_at[g], at, __ATOMIC_RELAXED);
    __atomic_store_n(&m->hdr->gauge_read[g], 1, __ATOMIC_RELEASE);
}

int rus_metrics_gauge_get(rus_metrics_t *m, rus_gauge_e g, apr_int64_t *pvalue,
                          apr_time_t *pat)
{
    if (m == NULL || (unsigned int)g >= RUS_G_GAUGES
        || !__atomic_load_n(&m->hdr->gauge_read[g], __ATOMIC_ACQUIRE)) {
        return 0;
    }
    if (pvalue != NULL) {
        *pvalue = __atomic_load_n(&m->hdr->gauge[g], __ATOMIC_RELAXED);
    }
    if (pat != NULL) {
        *pat = __atomic_load_n(&m->hdr->gauge_at[g], __ATOMIC_RELAXED);
    }
    return 1;
}

int rus_metrics_gauges_claim(rus_metrics_t *m, apr_time_t now)
{
    apr_int64_t due, next = now + apr_time_from_sec(RUS_METRICS_GAUGE_INTERVAL);

    if (m == NULL) {
        return 0;
    }
    due = __atomic_load_n(&m->hdr->gauges_due, __ATOMIC_ACQUIRE);
    /* not due yet, unless the clock stepped back past an interval */
    if (now < due && due <= next) {
        return 0;
    }
    return __atomic_compare_exchange_n(&m->hdr->gauges_due, &due, next, 0,
                                       __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

apr_uint64_t rus_metrics_total(rus_metrics_t *m, rus_metric_e c)
{
    apr_uint64_t sum = 0;
    int i;

    if (m == NULL || (unsigned int)c >= RUS_M_COUNTERS) {
        return 0;
    }
    for (i = 0; i < NSETS; i++) {
        sum += __atomic_load_n(&set_at(m, i)->counter[c], __ATOMIC_RELAXED);
    }
    return sum;
}

/* ---- reading ------------------------------------------------------------ */

/* One set as a render sees it: a copy. */
typedef struct snap_t {
    const char *name; /* as it is in the memory (not escaped) */
    apr_uint64_t counter[RUS_M_COUNTERS];
    apr_uint64_t cumulative[RUS_METRICS_BUCKETS + 1]; /* le: cumulative */
    apr_uint64_t sum_us;
} snap_t;

/* Every taken set of @a m copied into @a p; *pn gets how many. Sets in
 * the order they were taken, the overflow set last. */
static snap_t *snapshot(rus_metrics_t *m, apr_pool_t *p, int *pn)
{
    snap_t *snaps = apr_pcalloc(p, sizeof(*snaps) * NSETS);
    rus_metrics_vhost_t *v;
    apr_uint64_t run;
    int i, k, n = 0;

    for (i = 0; i < NSETS; i++) {
        v = set_at(m, i);
        if (!__atomic_load_n(&v->taken, __ATOMIC_ACQUIRE)) {
            continue;
        }
        snaps[n].name = apr_pstrndup(p, v->name, RUS_METRICS_NAME_MAX);
        for (k = 0; k < RUS_M_COUNTERS; k++) {
            snaps[n].counter[k] =
                __atomic_load_n(&v->counter[k], __ATOMIC_RELAXED);
        }
        run = 0;
        for (k = 0; k <= RUS_METRICS_BUCKETS; k++) {
            run += __atomic_load_n(&v->bucket[k], __ATOMIC_RELAXED);
            snaps[n].cumulative[k] = run;
        }
        snaps[n].sum_us = __atomic_load_n(&v->sum_us, __ATOMIC_RELAXED);
        n++;
    }
    *pn = n;
    return snaps;
}

/* @a us microseconds as seconds, a decimal with six places. */
static const char *seconds(apr_pool_t *p, apr_uint64_t us)
{
    return apr_psprintf(p, "%" APR_UINT64_T_FMT ".%06" APR_UINT64_T_FMT,
                        us / 1000000, us % 1000000);
}

/* Text pieces, joined once at the end. */
typedef struct out_t {
    apr_pool_t *p;              /* the pieces' (scratch) */
    apr_array_header_t *pieces; /* const char * */
} out_t;

/* Append @a s (not copied: it must live as long as out->p). */
static void put(out_t *out, const char *s)
{
    APR_ARRAY_PUSH(out->pieces, const char *) = s;
}

/* @a s with the bytes of @a special as two-character escapes (the byte
 * and its escape in turn: "\"\"\\\\"), a control byte (C0, DEL) as
 * @a other (a format of one unsigned int), from @a p. */
static const char *escape(apr_pool_t *p, const char *s, const char *special,
                          const char *other)
{
    apr_size_t len = strlen(s), w = 0;
    /* the longest escape: "\\u00HH", 6 bytes (8 for snprintf's room) */
    char *buf = apr_palloc(p, len * 8 + 1);
    const char *sp;

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        for (sp = special; *sp != '\0'; sp += 2) {
            if ((unsigned char)*sp == c) {
                break;
            }
        }
        if (*sp != '\0') {
            buf[w++] = '\\';
            buf[w++] = sp[1];
        }
        else if (c < 0x20 || c == 0x7f) {
            w += (apr_size_t)apr_snprintf(buf + w, 9, other, (unsigned int)c);
        }
        else {
            buf[w++] = (char)c;
        }
    }
    buf[w] = '\0';
    return buf;
}

/* Does @a s end with @a tail? */
static int ends_with(const char *s, const char *tail)
{
    apr_size_t n = strlen(s), t = strlen(tail);

    return n >= t && strcmp(s + n - t, tail) == 0;
}

/* A label value in the exposition format: backslash, double quote and
 * newline escaped as it says; UTF-8 as it is (the names were made valid
 * UTF-8 without control characters when their sets were taken), a
 * control byte that got in anyway as the text \xHH. */
static const char *prom_escape(apr_pool_t *p, const char *s)
{
    return escape(p, s, "\\\\\"\"\nn", "\\\\x%02x");
}

/* A JSON string's content: quote and backslash escaped, UTF-8 as it is,
 * a control byte as \u00HH. */
static const char *json_escape(apr_pool_t *p, const char *s)
{
    return escape(p, s, "\\\\\"\"", "\\u%04x");
}

/* A counter's or gauge's own label, @a label and @a value put in @a fmt
 * (two %s), or "" when it has none. Both are static, not escaped. */
static const char *label_of(apr_pool_t *p, const char *label, const char *value,
                            const char *fmt)
{
    return label ? apr_psprintf(p, fmt, label, value) : "";
}

/* The families of counters, each once: HELP, TYPE, then a sample per set
 * and label value. */
static void prom_counters(out_t *out, const snap_t *snaps, int n,
                          const char *const *names)
{
    int c, first, k, i;

    for (first = 0; first < RUS_M_COUNTERS; first = c) {
        for (c = first + 1; c < RUS_M_COUNTERS
                            && strcmp(infos[c].name, infos[first].name) == 0;
             c++) {
        }
        put(out, apr_psprintf(out->p, "# HELP %s %s\n# TYPE %s counter\n",
                              infos[first].name, infos[first].help,
                              infos[first].name));
        for (i = 0; i < n; i++) {
            for (k = first; k < c; k++) {
                put(out, apr_psprintf(out->p,
                                      "%s{server_name=\"%s\"%s} "
                                      "%" APR_UINT64_T_FMT "\n",
                                      infos[k].name, names[i],
                                      label_of(out->p, infos[k].label,
                                               infos[k].value, ",%s=\"%s\""),
                                      snaps[i].counter[k]));
            }
        }
    }
}

/* The latency histogram: cumulative buckets, _sum, _count per set. */
static void prom_histogram(out_t *out, const snap_t *snaps, int n,
                           const char *const *names)
{
    int i, k;

    put(out,
        "# HELP " HIST_NAME " " HIST_HELP "\n# TYPE " HIST_NAME " histogram\n");
    for (i = 0; i < n; i++) {
        for (k = 0; k <= RUS_METRICS_BUCKETS; k++) {
            put(out,
                apr_psprintf(out->p,
                             HIST_NAME "_bucket{server_name=\"%s\","
                                       "le=\"%s\"} %" APR_UINT64_T_FMT "\n",
                             names[i], bound_le[k], snaps[i].cumulative[k]));
        }
        put(out,
            apr_psprintf(out->p,
                         HIST_NAME "_sum{server_name=\"%s\"} %s\n" HIST_NAME
                                   "_count{server_name=\"%s\"} "
                                   "%" APR_UINT64_T_FMT "\n",
                         names[i], seconds(out->p, snaps[i].sum_us), names[i],
                         snaps[i].cumulative[RUS_METRICS_BUCKETS]));
    }
}

/* The gauges read so far, each family once (one never read is left
 * out: no sample says nothing is known). */
static void prom_gauges(out_t *out, rus_metrics_t *m)
{
    apr_int64_t value;
    int g, first, k, any;

    for (first = 0; first < RUS_G_GAUGES; first = g) {
        for (g = first + 1;
             g < RUS_G_GAUGES
             && strcmp(gauge_infos[g].name, gauge_infos[first].name) == 0;
             g++) {
        }
        for (any = 0, k = first; k < g; k++) {
            if (!rus_metrics_gauge_get(m, (rus_gauge_e)k, &value, NULL)) {
                continue;
            }
            if (!any++) {
                /* a count another process keeps (the store's) is a
                 * counter all the same: its name says so */
                put(out,
                    apr_psprintf(out->p, "# HELP %s %s\n# TYPE %s %s\n",
                                 gauge_infos[first].name,
                                 gauge_infos[first].help,
                                 gauge_infos[first].name,
                                 ends_with(gauge_infos[first].name, "_total")
                                     ? "counter"
                                     : "gauge"));
            }
            put(out, apr_psprintf(out->p, "%s%s %" APR_INT64_T_FMT "\n",
                                  gauge_infos[k].name,
                                  label_of(out->p, gauge_infos[k].label,
                                           gauge_infos[k].value, "{%s=\"%s\"}"),
                                  value));
        }
    }
}

/* Start an output in a scratch pool of @a p. */
static void out_open(out_t *out, apr_pool_t *p)
{
    apr_pool_create(&out->p, p);
    out->pieces = apr_array_make(out->p, 512, sizeof(const char *));
}

/* Everything put, as one string from @a p; the scratch pool is gone. */
static const char *out_close(out_t *out, apr_pool_t *p)
{
    const char *s = apr_array_pstrcat(p, out->pieces, 0);

    apr_pool_destroy(out->p);
    return s;
}

const char *rus_metrics_prometheus(rus_metrics_t *m, apr_pool_t *p)
{
    out_t out;
    snap_t *snaps;
    const char **names;
    int n, i;

    if (m == NULL) {
        return "";
    }
    out_open(&out, p);
    snaps = snapshot(m, out.p, &n);
    names = apr_palloc(out.p, sizeof(*names) * NSETS);
    for (i = 0; i < n; i++) {
        names[i] = prom_escape(out.p, snaps[i].name);
    }
    prom_counters(&out, snaps, n, names);
    prom_histogram(&out, snaps, n, names);
    prom_gauges(&out, m);
    return out_close(&out, p);
}

/* ---- JSON --------------------------------------------------------------- */

/* One set's object: a key per family, an object by label value for the
 * labelled ones, the histogram's buckets (cumulative), sum and count. */
static void json_set(out_t *out, const snap_t *snap)
{
    int c, first, k;

    put(out, "{");
    for (first = 0; first < RUS_M_COUNTERS; first = c) {
        for (c = first + 1; c < RUS_M_COUNTERS
                            && strcmp(infos[c].name, infos[first].name) == 0;
             c++) {
        }
        put(out, apr_psprintf(out->p, "%s\"%s\": ", first ? ", " : "",
                              infos[first].json));
        if (infos[first].label == NULL) {
            put(out, apr_psprintf(out->p, "%" APR_UINT64_T_FMT,
                                  snap->counter[first]));
            continue;
        }
        for (k = first; k < c; k++) {
            put(out, apr_psprintf(out->p, "%s\"%s\": %" APR_UINT64_T_FMT,
                                  k == first ? "{" : ", ", infos[k].value,
                                  snap->counter[k]));
        }
        put(out, "}");
    }
    put(out, ", \"store_call_duration_seconds\": {\"buckets\": {");
    for (k = 0; k <= RUS_METRICS_BUCKETS; k++) {
        put(out, apr_psprintf(out->p, "%s\"%s\": %" APR_UINT64_T_FMT,
                              k ? ", " : "", bound_le[k], snap->cumulative[k]));
    }
    put(out, apr_psprintf(out->p,
                          "}, \"sum\": %s, \"count\": %" APR_UINT64_T_FMT "}}",
                          seconds(out->p, snap->sum_us),
                          snap->cumulative[RUS_METRICS_BUCKETS]));
}

/* The gauges' object: null for one never read. */
static void json_gauges(out_t *out, rus_metrics_t *m)
{
    apr_int64_t value;
    int g, first, k;

    put(out, "{");
    for (first = 0; first < RUS_G_GAUGES; first = g) {
        for (g = first + 1;
             g < RUS_G_GAUGES
             && strcmp(gauge_infos[g].name, gauge_infos[first].name) == 0;
             g++) {
        }
        put(out, apr_psprintf(out->p, "%s\"%s\": ", first ? ", " : "",
                              gauge_infos[first].json));
        for (k = first; k < g; k++) {
            if (gauge_infos[k].label) {
                put(out,
                    apr_psprintf(out->p, "%s\"%s\": ", k == first ? "{" : ", ",
                                 gauge_infos[k].value));
            }
            put(out, rus_metrics_gauge_get(m, (rus_gauge_e)k, &value, NULL)
                         ? apr_psprintf(out->p, "%" APR_INT64_T_FMT, value)
                         : "null");
        }
        if (gauge_infos[first].label) {
            put(out, "}");
        }
    }
    put(out, "}");
}

const char *rus_metrics_json(rus_metrics_t *m, apr_pool_t *p)
{
    out_t out;
    snap_t *snaps;
    int n, i;

    if (m == NULL) {
        return "{}";
    }
    out_open(&out, p);
    snaps = snapshot(m, out.p, &n);
    put(&out, "{\"server_names\": {");
    for (i = 0; i < n; i++) {
        put(&out, apr_psprintf(out.p, "%s\"%s\": ", i ? ", " : "",
                               json_escape(out.p, snaps[i].name)));
        json_set(&out, &snaps[i]);
    }
    put(&out, "}, \"gauges\": ");
    json_gauges(&out, m);
    put(&out, "}\n");
    return out_close(&out, p);
}

/* ---- mod_status --------------------------------------------------------- */

/* @a num / @a den as a short decimal ("0.75", "1"), "0" when @a den is
 * 0. apr_snprintf writes a dot whatever the locale. */
static const char *ratio(apr_pool_t *p, apr_uint64_t num, apr_uint64_t den)
{
    char *s, *end;

    if (den == 0) {
        return "0";
    }
    s = apr_psprintf(p, "%.6f", (double)num / (double)den);
    end = s + strlen(s);
    while (end[-1] == '0') {
        *--end = '\0';
    }
    if (end[-1] == '.') {
        end[-1] = '\0';
    }
    return s;
}

const char *rus_metrics_status_auto(rus_metrics_t *m, apr_pool_t *p)
{
    out_t out;
    apr_uint64_t total[RUS_M_COUNTERS], sum, calls = 0, sum_us = 0;
    apr_int64_t value;
    const char *family;
    int c, k, i;

    if (m == NULL) {
        return "";
    }
    out_open(&out, p);
    for (c = 0; c < RUS_M_COUNTERS; c++) {
        total[c] = rus_metrics_total(m, (rus_metric_e)c);
    }
    for (c = 0; c < RUS_M_COUNTERS; c++) {
        family = family_sum((rus_metric_e)c);
        if (family != NULL) {
            for (sum = 0, k = c; k < RUS_M_COUNTERS
                                 && strcmp(infos[k].name, infos[c].name) == 0;
                 k++) {
                sum += total[k];
            }
            put(&out,
                apr_psprintf(out.p, "RemoteUser%s: %" APR_UINT64_T_FMT "\n",
                             family, sum));
        }
        put(&out, apr_psprintf(out.p, "RemoteUser%s: %" APR_UINT64_T_FMT "\n",
                               infos[c].status, total[c]));
        if (c == RUS_M_CACHE_MISS) {
            put(&out, apr_pstrcat(out.p, "RemoteUserCacheHitRatio: ",
                                  ratio(out.p, total[RUS_M_CACHE_HIT],
                                        total[RUS_M_CACHE_HIT]
                                            + total[RUS_M_CACHE_MISS]),
                                  "\n", NULL));
        }
    }
    for (i = 0; i < NSETS; i++) {
        for (k = 0; k <= RUS_METRICS_BUCKETS; k++) {
            calls +=
                __atomic_load_n(&set_at(m, i)->bucket[k], __ATOMIC_RELAXED);
        }
        sum_us += __atomic_load_n(&set_at(m, i)->sum_us, __ATOMIC_RELAXED);
    }
    put(&out, apr_psprintf(out.p,
                           "RemoteUserStoreCalls: %" APR_UINT64_T_FMT "\n"
                           "RemoteUserStoreCallSeconds: %s\n",
                           calls, seconds(out.p, sum_us)));
    for (k = 0; k < RUS_G_GAUGES; k++) {
        if (rus_metrics_gauge_get(m, (rus_gauge_e)k, &value, NULL)) {
            put(&out,
                apr_psprintf(out.p, "RemoteUser%s: %" APR_INT64_T_FMT "\n",
                             gauge_infos[k].status, value));
        }
    }
    return out_close(&out, p);
}

/* Text for an HTML page: &, <, >, " and ' as entities, UTF-8 as it is,
 * a control byte as the text \xHH. */
static const char *html_escape(apr_pool_t *p, const char *s)
{
    apr_size_t len = strlen(s), w = 0;
    char *buf = apr_palloc(p, len * 6 + 1);

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        const char *ent = c == '&'    ? "&amp;"
                          : c == '<'  ? "&lt;"
                          : c == '>'  ? "&gt;"
                          : c == '"'  ? "&quot;"
                          : c == '\'' ? "&#39;"
                                      : NULL;

        if (ent != NULL) {
            memcpy(buf + w, ent, strlen(ent));
            w += strlen(ent);
        }
        else if (c < 0x20 || c == 0x7f) {
            w += (apr_size_t)apr_snprintf(buf + w, 5, "\\x%02x",
                                          (unsigned int)c);
        }
        else {
            buf[w++] = (char)c;
        }
    }
    buf[w] = '\0';
    return buf;
}

const char *rus_metrics_status_html(rus_metrics_t *m, apr_pool_t *p)
{
    out_t out;
    snap_t *snaps;
    apr_int64_t value;
    int n, i, c;

    if (m == NULL) {
        return "";
    }
    out_open(&out, p);
    snaps = snapshot(m, out.p, &n);
    put(&out, "<table border=\"0\">\n<tr><th>metric</th>");
    for (i = 0; i < n; i++) {
        put(&out, apr_pstrcat(out.p, "<th>", html_escape(out.p, snaps[i].name),
                              "</th>", NULL));
    }
    put(&out, "</tr>\n");
    for (c = 0; c < RUS_M_COUNTERS; c++) {
        put(&out, apr_pstrcat(out.p, "<tr><td>", infos[c].name,
                              label_of(out.p, infos[c].label, infos[c].value,
                                       "{%s=%s}"),
                              "</td>", NULL));
        for (i = 0; i < n; i++) {
            put(&out, apr_psprintf(out.p, "<td>%" APR_UINT64_T_FMT "</td>",
                                   snaps[i].counter[c]));
        }
        put(&out, "</tr>\n");
    }
    put(&out, "<tr><td>" HIST_NAME "_count</td>");
    for (i = 0; i < n; i++) {
        put(&out, apr_psprintf(out.p, "<td>%" APR_UINT64_T_FMT "</td>",
                               snaps[i].cumulative[RUS_METRICS_BUCKETS]));
    }
    put(&out, "</tr>\n<tr><td>" HIST_NAME "_sum</td>");
    for (i = 0; i < n; i++) {
        put(&out, apr_pstrcat(out.p, "<td>", seconds(out.p, snaps[i].sum_us),
                              "</td>", NULL));
    }
    put(&out, "</tr>\n</table>\n");
    for (c = 0; c < RUS_G_GAUGES; c++) {
        if (rus_metrics_gauge_get(m, (rus_gauge_e)c, &value, NULL)) {
            put(&out, apr_psprintf(out.p, "%s%s: %" APR_INT64_T_FMT "<br>\n",
                                   gauge_infos[c].name,
                                   label_of(out.p, gauge_infos[c].label,
                                            gauge_infos[c].value, "{%s=%s}"),
                                   value));
        }
    }
    return out_close(&out, p);
}
