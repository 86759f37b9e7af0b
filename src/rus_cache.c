/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The answer cache: 8-way set-associative slots of fixed size in one
 * region of memory, which may be shared by every child of a server (an
 * anonymous shared mapping made before fork). No lock: each slot is a
 * seqlock. A writer claims a slot by moving its sequence number from even
 * to odd with a compare-and-swap, writes, and makes it even again; a
 * reader copies the slot out and keeps the copy only when the sequence
 * number was even and unchanged across the copy. A torn or busy slot is a
 * miss, never a wrong answer. A writer that dies mid-write (kill -9)
 * leaves its slot odd: that slot is a miss until restart, nothing worse.
 * No allocation after creation, no system call on any path.
 *
 * A drop must win against a put of an answer read before the drop's
 * write committed (a logout racing a request with the same cookie): each
 * set counts its drops, a put carries the count its caller saw before it
 * asked the store (rus_cache_ticket), and a put whose set has seen a drop
 * since is refused. The put checks the count while it holds its slot, and
 * once more after writing it; a drop counts before it claims each slot of
 * the set in turn, whatever key the slot seems to hold (a put in progress
 * has not published its key yet). So either the put sees the new count
 * and leaves the slot empty, or the drop claims the slot after the put
 * released it and clears the entry.
 *
 * A change to a user (disabled, renamed, a membership) must reach every
 * entry about that user, the user's sessions among them, whose keys are
 * not known: each entry carries the generation of its user's bucket
 * (user id modulo GEN_BUCKETS) as of its put, and a get refuses an entry
 * whose bucket has moved on (a collision costs a miss, nothing else).
 * rus_cache_flush moves every entry's generation at once. A bump counts
 * itself in a cache-wide count before it moves the bucket, and a ticket
 * carries that count too: a put checks it before it reads the bucket and
 * again after it published, so a put whose store read may predate a bump
 * either stamps the old generation (refused by every later get) or sees
 * the count and clears its slot. */

#include <stddef.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "rus_cache.h"
#include "rus_username.h"

#define KEY_MAX    200
#define GROUPS_MAX 512
#define VHOST_MAX  256
/* A user's front-end groups, three columns and attributes, in one buffer
 * (see put_profile()); a user with more is not cached. */
#define PROFILE_MAX 2048

/* How often rus_cache_drop tries a slot another writer holds. Writers hold
 * a slot for a few hundred bytes of copying; a slot still busy after this
 * belongs to a dead writer and reads as a miss anyway. */
#define DROP_TRIES 1000

/* Slots per set. With 2, a working set of a quarter of the slots already
 * put three or more keys in about 3 % of the sets, and a key that shares
 * a set of two with two others that are asked for in turn misses every
 * time (8 % of 1,000 sessions in 4,096 slots, measured). With 8, such a
 * set needs nine keys: about 0.02 % of the sets at that fill. */
#define WAYS 8

/* Per-user generations: buckets of user ids. 4096 buckets of 4 bytes. */
#define GEN_BUCKETS 4096

/* The cache-wide part, at the start of the memory. */
typedef struct cache_hdr_t {
    apr_uint32_t bumps;   /* user generations moved and flushes, counted */
    apr_uint32_t flushes; /* every entry's generation */
    apr_int64_t applied;  /* change id up to which all have been applied */
    apr_uint32_t gens[GEN_BUCKETS];
} cache_hdr_t;

/* The slots start at a cache line after the header. */
#define HDR_BYTES ((sizeof(cache_hdr_t) + 63) & ~(apr_size_t)63)

typedef struct slot_t {
    apr_uint32_t seq;      /* even: stable; odd: being written */
    apr_uint32_t epoch;    /* first slot of a set: the set's drop count */
    apr_uint64_t fp;       /* fingerprint of key, 0 when empty (a hint) */
    apr_int64_t stored_at; /* UNIX seconds (a hint for eviction) */
    apr_uint32_t gen;      /* its user's bucket generation at the put */
    apr_uint32_t flushes;  /* the cache's flush count at the put */
    char key[KEY_MAX + 1]; /* "" when empty */
    rus_user_t user;       /* its strings are copied from the arrays */
    char username[RUS_USERNAME_MAX + 1];
    char groups[GROUPS_MAX + 1];
    int has_session;
    rus_session_t session;
    char vhost[VHOST_MAX + 1];
    apr_uint32_t profile_len;  /* bytes of profile in use */
    char profile[PROFILE_MAX]; /* last: read_slot() copies what is used */
} slot_t;

struct rus_cache_t {
    apr_int64_t ttl;
    unsigned int nslots;
    cache_hdr_t *hdr;
    slot_t *slots;
    /* This process's counts: the handle is in memory of its own (each
     * child's copy after fork), unlike the slots. */
    apr_uint64_t hits;
    apr_uint64_t misses;
    rus_cache_guard_fn *guard; /* NULL: entries are trusted as they are */
    void *guard_baton;
};

/* Whole sets: @a slots rounded up to a multiple of WAYS. */
static unsigned int slot_count(int slots)
{
    unsigned int n = slots < WAYS ? WAYS : (unsigned int)slots;

    return (n + WAYS - 1) / WAYS * WAYS;
}

apr_size_t rus_cache_size(int slots)
{
    return HDR_BYTES + sizeof(slot_t) * slot_count(slots);
}

rus_cache_t *rus_cache_init(void *mem, apr_size_t size, int slots,
                            apr_int64_t ttl, apr_pool_t *p)
{
    rus_cache_t *cache;

    if (ttl <= 0 || slots <= 0 || mem == NULL || size < rus_cache_size(slots)) {
        return NULL;
    }
    cache = apr_pcalloc(p, sizeof(*cache));
    cache->ttl = ttl;
    cache->nslots = slot_count(slots);
    cache->hdr = mem;
    cache->slots = (slot_t *)((char *)mem + HDR_BYTES);
    memset(mem, 0, rus_cache_size(slots));
    return cache;
}

rus_cache_t *rus_cache_create(apr_pool_t *p, int slots, apr_int64_t ttl)
{
    if (ttl <= 0 || slots <= 0) {
        return NULL;
    }
    return rus_cache_init(apr_palloc(p, rus_cache_size(slots)),
                          rus_cache_size(slots), slots, ttl, p);
}

/* Keys are token hashes (64 hex characters) or "u:" and a user name: read
 * eight bytes at a time, each word multiplied in (FNV's prime), then
 * mixed (MurmurHash3's finalizer) so that every bit of the key reaches
 * the low bits that pick the set. Never 0, which marks an empty slot. */
static apr_uint64_t fingerprint(const char *key)
{
    apr_uint64_t h = APR_UINT64_C(14695981039346656037), w;
    apr_size_t len = strlen(key), i;

    for (i = 0; i + 8 <= len; i += 8) {
        memcpy(&w, key + i, 8);
        h = (h ^ w) * APR_UINT64_C(1099511628211);
    }
    w = 0;
    memcpy(&w, key + i, len - i);
    h = (h ^ w ^ (apr_uint64_t)len) * APR_UINT64_C(1099511628211);
    h ^= h >> 33;
    h *= APR_UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= APR_UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h ? h : 1;
}

/* The set of WAYS slots a key can live in: a key evicts the oldest entry
 * of its set, not the one entry that shares its hash. */
static slot_t *set_of(rus_cache_t *cache, apr_uint64_t fp)
{
    return &cache->slots[(fp % (cache->nslots / WAYS)) * WAYS];
}

/* Copy @a s into @a out. 1 when the copy is consistent (no writer was at
 * work before or during it), 0 otherwise. */
static int read_slot(const slot_t *s, slot_t *out)
{
    apr_uint32_t before = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);

    if (before & 1) {
        return 0;
    }
    memcpy(out, s, offsetof(slot_t, profile));
    out->profile_len = out->profile_len > PROFILE_MAX ? 0 : out->profile_len;
    memcpy(out->profile, s->profile, out->profile_len);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return __atomic_load_n(&s->seq, __ATOMIC_RELAXED) == before;
}

/* Claim @a s for writing: 1 when this caller now holds it. */
static int claim(slot_t *s)
{
    apr_uint32_t seq = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);

    return !(seq & 1)
           && __atomic_compare_exchange_n(&s->seq, &seq, seq + 1, 0,
                                          __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static void release(slot_t *s)
{
    __atomic_add_fetch(&s->seq, 1, __ATOMIC_RELEASE);
}

static apr_uint32_t *gen_of(rus_cache_t *cache, apr_int64_t user_id)
{
    return &cache->hdr->gens[(apr_uint64_t)user_id % GEN_BUCKETS];
}

static apr_uint64_t fp_of(const slot_t *s)
{
    return __atomic_load_n(&s->fp, __ATOMIC_RELAXED);
}

/* Append "<len>:" and the @a len bytes at @a s to @a buf (PROFILE_MAX
 * bytes, *pused of them taken). 0 when it does not fit. */
static int put_counted(char *buf, apr_size_t *pused, const char *s,
                       apr_size_t len)
{
    char head[24];
    apr_size_t hl = (apr_size_t)apr_snprintf(head, sizeof(head),
                                             "%" APR_SIZE_T_FMT ":", len);

    if (*pused + hl + len > PROFILE_MAX) {
        return 0;
    }
    memcpy(buf + *pused, head, hl);
    memcpy(buf + *pused + hl, s, len);
    *pused += hl + len;
    return 1;
}

/* The profile part of a user (front-end groups, the three columns, the
 * attributes encoded as rus_attrs_encode() does) in one buffer, each of
 * the first four terminated by NUL, the attributes taking the rest:
 * written into @a buf (PROFILE_MAX bytes), its length into *plen. 0 when
 * it does not fit. */
static int put_profile(const rus_user_t *user, char *buf, apr_uint32_t *plen)
{
    const char *fields[4];
    apr_size_t used = 0, n;
    int i;

    fields[0] = user->frontend_groups;
    fields[1] = user->email;
    fields[2] = user->first_name;
    fields[3] = user->last_name;
    for (i = 0; i < 4; i++) {
        const char *f = fields[i] ? fields[i] : "";

        n = strlen(f) + 1;
        if (used + n > PROFILE_MAX) {
            return 0;
        }
        memcpy(buf + used, f, n);
        used += n;
    }
    for (i = 0; user->attrs != NULL && i < user->attrs->nelts; i++) {
        const rus_attr_t *a = &APR_ARRAY_IDX(user->attrs, i, rus_attr_t);

        if (!put_counted(buf, &used, a->name, strlen(a->name))
            || !put_counted(buf, &used, a->value, strlen(a->value))) {
            return 0;
        }
    }
    *plen = (apr_uint32_t)used;
    return 1;
}

/* Read what put_profile() wrote (@a len bytes at @a buf, a consistent
 * copy) into @a user. 0 when it is not well formed. */
static int get_profile(rus_user_t *user, const char *buf, apr_size_t len,
                       apr_pool_t *p)
{
    const char *fields[4];
    apr_size_t at = 0;
    int i;

    for (i = 0; i < 4; i++) {
        const char *nul = memchr(buf + at, '\0', len - at);

        if (nul == NULL) {
            return 0;
        }
        fields[i] = apr_pstrmemdup(p, buf + at, (apr_size_t)(nul - (buf + at)));
        at = (apr_size_t)(nul - buf) + 1;
    }
    user->frontend_groups = fields[0];
    user->email = fields[1];
    user->first_name = fields[2];
    user->last_name = fields[3];
    return rus_attrs_decode(p, buf + at, len - at, &user->attrs) == APR_SUCCESS;
}

/* One lookup of @a key, counting nothing. */
static int lookup(rus_cache_t *cache, const char *key, apr_int64_t now,
                  rus_user_t *user, rus_session_t *session, apr_pool_t *p)
{
    apr_uint64_t fp;
    slot_t *set, copy;
    int i;

    fp = fingerprint(key);
    set = set_of(cache, fp);
    for (i = 0; i < WAYS; i++) {
        if (fp_of(&set[i]) != fp || !read_slot(&set[i], &copy)) {
            continue;
        }
        /* The copy is consistent; the strings in it are terminated by
         * the writer, and once more here for good measure. */
        copy.key[KEY_MAX] = '\0';
        if (strcmp(copy.key, key) != 0 || now < copy.stored_at
            || now - copy.stored_at >= cache->ttl
            || (session != NULL && !copy.has_session)
            || copy.flushes
                   != __atomic_load_n(&cache->hdr->flushes, __ATOMIC_SEQ_CST)
            || copy.gen
                   != __atomic_load_n(gen_of(cache, copy.user.id),
                                      __ATOMIC_SEQ_CST)) {
            continue;
        }
        copy.username[RUS_USERNAME_MAX] = '\0';
        copy.groups[GROUPS_MAX] = '\0';
        copy.vhost[VHOST_MAX] = '\0';
        *user = copy.user;
        user->username = apr_pstrdup(p, copy.username);
        user->groups = apr_pstrdup(p, copy.groups);
        if (!get_profile(user, copy.profile, copy.profile_len, p)) {
            continue;
        }
        if (session != NULL) {
            *session = copy.session;
            session->vhost = apr_pstrdup(p, copy.vhost);
            session->ip = "";
            session->user_agent = "";
        }
        return 1;
    }
    return 0;
}

void rus_cache_set_guard(rus_cache_t *cache, rus_cache_guard_fn *fn,
                         void *baton)
{
    if (cache != NULL) {
        cache->guard = fn;
        cache->guard_baton = baton;
    }
}

int rus_cache_get(rus_cache_t *cache, const char *key, apr_int64_t now,
                  rus_user_t *user, rus_session_t *session, apr_pool_t *p)
{
    int fresh = 1, hit;

    if (cache == NULL || strlen(key) > KEY_MAX) {
        return 0;
    }
    /* PEEK before the lookup: an entry read after every change committed
     * so far was applied may be trusted. Otherwise the entry read may
     * predate a drop under way, so a hit is answered only after SYNC,
     * from a second lookup. */
    if (cache->guard != NULL) {
        fresh = cache->guard(cache->guard_baton, RUS_CACHE_GUARD_PEEK, now);
    }
    hit = lookup(cache, key, now, user, session, p);
    if (hit && !fresh) {
        hit = cache->guard(cache->guard_baton, RUS_CACHE_GUARD_SYNC, now)
              && lookup(cache, key, now, user, session, p);
    }
    __atomic_add_fetch(hit ? &cache->hits : &cache->misses, 1,
                       __ATOMIC_RELAXED);
    return hit;
}

/* A ticket: the set's drop count, and the cache-wide bump count above it. */
static rus_cache_ticket_t ticket_now(rus_cache_t *cache, const slot_t *set)
{
    apr_uint64_t bumps = __atomic_load_n(&cache->hdr->bumps, __ATOMIC_SEQ_CST);

    return (bumps << 32) | __atomic_load_n(&set->epoch, __ATOMIC_SEQ_CST);
}

rus_cache_ticket_t rus_cache_ticket(rus_cache_t *cache, const char *key)
{
    if (cache == NULL || strlen(key) > KEY_MAX) {
        return 0;
    }
    return ticket_now(cache, set_of(cache, fingerprint(key)));
}

/* The slot of @a set a put of @a fp takes: the one holding the key
 * already, else an empty one, else the oldest entry. The hints may be
 * stale: the worst outcome is evicting another entry of the set. */
static slot_t *slot_for_put(slot_t *set, apr_uint64_t fp)
{
    slot_t *empty = NULL, *oldest = &set[0];
    int i;

    for (i = 0; i < WAYS; i++) {
        apr_uint64_t hint = fp_of(&set[i]);

        if (hint == fp) {
            return &set[i];
        }
        if (hint == 0 && empty == NULL) {
            empty = &set[i];
        }
        if (__atomic_load_n(&set[i].stored_at, __ATOMIC_RELAXED)
            < __atomic_load_n(&oldest->stored_at, __ATOMIC_RELAXED)) {
            oldest = &set[i];
        }
    }
    return empty != NULL ? empty : oldest;
}

void rus_cache_put(rus_cache_t *cache, const char *key, apr_int64_t now,
                   rus_cache_ticket_t ticket, const rus_user_t *user,
                   const rus_session_t *session)
{
    const char *groups = user->groups ? user->groups : "";
    char profile[PROFILE_MAX];
    apr_uint32_t profile_len = 0;
    apr_uint64_t fp;
    slot_t *set, *s;

    if (cache == NULL || strlen(key) > KEY_MAX
        || strlen(user->username) > RUS_USERNAME_MAX
        || strlen(groups) > GROUPS_MAX
        || (session != NULL && strlen(session->vhost) > VHOST_MAX)) {
        return;
    }
    if (!put_profile(user, profile, &profile_len)) {
        return;
    }
    fp = fingerprint(key);
    set = set_of(cache, fp);
    s = slot_for_put(set, fp);
    if (!claim(s)) {
        return; /* another writer is at it: a cache may forget */
    }
    if (ticket_now(cache, set) != ticket) {
        /* Dropped or bumped since the caller asked the store: its answer
         * may be older than the write that caused it. */
        release(s);
        return;
    }
    s->gen = __atomic_load_n(gen_of(cache, user->id), __ATOMIC_SEQ_CST);
    s->flushes = __atomic_load_n(&cache->hdr->flushes, __ATOMIC_SEQ_CST);
    apr_cpystrn(s->key, key, sizeof(s->key));
    s->user = *user;
    apr_cpystrn(s->username, user->username, sizeof(s->username));
    apr_cpystrn(s->groups, groups, sizeof(s->groups));
    s->user.username = NULL; /* rebuilt from the arrays by readers */
    s->user.groups = NULL;
    s->user.frontend_groups = NULL; /* in the profile buffer */
    s->user.email = s->user.first_name = s->user.last_name = NULL;
    s->user.attrs = NULL;
    memcpy(s->profile, profile, profile_len);
    s->profile_len = profile_len;
    s->has_session = session != NULL;
    if (session != NULL) {
        s->session = *session;
        apr_cpystrn(s->vhost, session->vhost, sizeof(s->vhost));
        s->session.vhost = NULL;
        s->session.ip = NULL; /* not needed to authenticate: not kept */
        s->session.user_agent = NULL;
    }
    __atomic_store_n(&s->stored_at, now, __ATOMIC_RELAXED);
    __atomic_store_n(&s->fp, fp, __ATOMIC_SEQ_CST);
    if (ticket_now(cache, set) != ticket) {
        /* a drop or a bump came while we wrote: it may have given up on
         * the slot, or read the generation before we did */
        __atomic_store_n(&s->fp, 0, __ATOMIC_RELAXED);
        s->key[0] = '\0';
    }
    release(s);
}

void rus_cache_drop(rus_cache_t *cache, const char *key)
{
    apr_uint64_t fp;
    slot_t *set;
    int i, tries;

    if (cache == NULL || strlen(key) > KEY_MAX) {
        return;
    }
    fp = fingerprint(key);
    set = set_of(cache, fp);
    /* Counted first: a put that has not checked the count yet will see
     * it and refuse; one that has is in its slot or done, and cleared
     * below. */
    __atomic_add_fetch(&set->epoch, 1, __ATOMIC_SEQ_CST);
    for (i = 0; i < WAYS; i++) {
        /* Claimed whatever its hint says: a put holding it may be about to
         * publish this key. */
        for (tries = 0; tries < DROP_TRIES; tries++) {
            if (!claim(&set[i])) {
                apr_thread_yield();
                continue;
            }
            /* Another key with the same fingerprint is dropped too: a
             * miss, which is harmless. */
            if (set[i].fp == fp || strncmp(set[i].key, key, KEY_MAX) == 0) {
                __atomic_store_n(&set[i].fp, 0, __ATOMIC_RELAXED);
                set[i].key[0] = '\0';
            }
            release(&set[i]);
            break;
        }
    }
}

void rus_cache_drop_user(rus_cache_t *cache, apr_int64_t user_id)
{
    if (cache == NULL) {
        return;
    }
    /* Counted first (see the file comment), then the bucket moves. */
    __atomic_add_fetch(&cache->hdr->bumps, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(gen_of(cache, user_id), 1, __ATOMIC_SEQ_CST);
}

void rus_cache_flush(rus_cache_t *cache)
{
    if (cache == NULL) {
        return;
    }
    __atomic_add_fetch(&cache->hdr->bumps, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&cache->hdr->flushes, 1, __ATOMIC_SEQ_CST);
}

apr_int64_t rus_cache_applied(rus_cache_t *cache)
{
    return cache ? __atomic_load_n(&cache->hdr->applied, __ATOMIC_SEQ_CST) : 0;
}

void rus_cache_set_applied(rus_cache_t *cache, apr_int64_t id)
{
    apr_int64_t seen;

    if (cache == NULL) {
        return;
    }
    seen = __atomic_load_n(&cache->hdr->applied, __ATOMIC_SEQ_CST);
    while (seen < id
           && !__atomic_compare_exchange_n(&cache->hdr->applied, &seen, id, 0,
                                           __ATOMIC_SEQ_CST,
                                           __ATOMIC_SEQ_CST)) {
    }
}

void rus_cache_reset_applied(rus_cache_t *cache, apr_int64_t id)
{
    if (cache != NULL) {
        __atomic_store_n(&cache->hdr->applied, id, __ATOMIC_SEQ_CST);
    }
}

void rus_cache_stats(rus_cache_t *cache, apr_uint64_t *phits,
                     apr_uint64_t *pmisses)
{
    *phits = cache ? __atomic_load_n(&cache->hits, __ATOMIC_RELAXED) : 0;
    *pmisses = cache ? __atomic_load_n(&cache->misses, __ATOMIC_RELAXED) : 0;
}
