/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The per-process answer cache: 2-way set-associative slots of fixed size
 * under one mutex. No allocation after creation. */

#include <string.h>

#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "rus_cache.h"
#include "rus_username.h"

#define KEY_MAX    200
#define GROUPS_MAX 512
#define VHOST_MAX  256

typedef struct slot_t {
    char key[KEY_MAX + 1]; /* "" when empty */
    apr_int64_t stored_at; /* UNIX seconds */
    rus_user_t user;       /* strings point into this slot */
    char username[RUS_USERNAME_MAX + 1];
    char groups[GROUPS_MAX + 1];
    int has_session;
    rus_session_t session;
    char vhost[VHOST_MAX + 1];
} slot_t;

struct rus_cache_t {
    apr_thread_mutex_t *lock;
    apr_int64_t ttl;
    unsigned int nslots;
    slot_t *slots;
};

rus_cache_t *rus_cache_create(apr_pool_t *p, int slots, apr_int64_t ttl)
{
    rus_cache_t *cache;

    if (ttl <= 0 || slots <= 0) {
        return NULL;
    }
    cache = apr_pcalloc(p, sizeof(*cache));
    if (apr_thread_mutex_create(&cache->lock, APR_THREAD_MUTEX_DEFAULT, p)
        != APR_SUCCESS) {
        return NULL;
    }
    cache->ttl = ttl;
    cache->nslots = (unsigned int)(slots < 2 ? 2 : slots + (slots & 1));
    cache->slots = apr_pcalloc(p, sizeof(slot_t) * cache->nslots);
    return cache;
}

/* The set of two slots a key can live in (2-way set associative: a
 * collision evicts the older of two entries, not a live one at once).
 * FNV-1a: keys are token hashes or user names. */
static slot_t *set_of(rus_cache_t *cache, const char *key)
{
    apr_uint32_t h = 2166136261u;
    const unsigned char *k;

    for (k = (const unsigned char *)key; *k; k++) {
        h = (h ^ *k) * 16777619u;
    }
    return &cache->slots[(h % (cache->nslots / 2)) * 2];
}

/* The slot of @key within its set, or NULL. Call with the lock held. */
static slot_t *find_slot(slot_t *set, const char *key)
{
    if (strcmp(set[0].key, key) == 0) {
        return &set[0];
    }
    if (strcmp(set[1].key, key) == 0) {
        return &set[1];
    }
    return NULL;
}

int rus_cache_get(rus_cache_t *cache, const char *key, apr_int64_t now,
                  rus_user_t *user, rus_session_t *session, apr_pool_t *p)
{
    char username[RUS_USERNAME_MAX + 1], groups[GROUPS_MAX + 1];
    char vhost[VHOST_MAX + 1];
    rus_session_t sess;
    rus_user_t u;
    slot_t *s;
    int hit = 0;

    if (cache == NULL || strlen(key) > KEY_MAX) {
        return 0;
    }
    /* Copy out under the lock, allocate after it: the lock is held for a
     * few hundred bytes of memcpy only. */
    apr_thread_mutex_lock(cache->lock);
    s = find_slot(set_of(cache, key), key);
    if (s != NULL && now >= s->stored_at && now - s->stored_at < cache->ttl
        && (session == NULL || s->has_session)) {
        u = s->user;
        memcpy(username, s->username, sizeof(username));
        memcpy(groups, s->groups, sizeof(groups));
        if (session != NULL) {
            sess = s->session;
            memcpy(vhost, s->vhost, sizeof(vhost));
        }
        hit = 1;
    }
    apr_thread_mutex_unlock(cache->lock);
    if (hit) {
        *user = u;
        user->username = apr_pstrdup(p, username);
        user->groups = apr_pstrdup(p, groups);
        if (session != NULL) {
            *session = sess;
            session->vhost = apr_pstrdup(p, vhost);
        }
    }
    return hit;
}

void rus_cache_put(rus_cache_t *cache, const char *key, apr_int64_t now,
                   const rus_user_t *user, const rus_session_t *session)
{
    const char *groups = user->groups ? user->groups : "";
    slot_t *set, *s;

    if (cache == NULL || strlen(key) > KEY_MAX
        || strlen(user->username) > RUS_USERNAME_MAX
        || strlen(groups) > GROUPS_MAX
        || (session != NULL && strlen(session->vhost) > VHOST_MAX)) {
        return;
    }
    apr_thread_mutex_lock(cache->lock);
    set = set_of(cache, key);
    s = find_slot(set, key);
    if (s == NULL) {
        /* an empty slot, else the older entry */
        s = set[0].key[0] == '\0'                  ? &set[0]
            : set[1].key[0] == '\0'                ? &set[1]
            : set[0].stored_at <= set[1].stored_at ? &set[0]
                                                   : &set[1];
    }
    apr_cpystrn(s->key, key, sizeof(s->key));
    s->stored_at = now;
    s->user = *user;
    apr_cpystrn(s->username, user->username, sizeof(s->username));
    apr_cpystrn(s->groups, groups, sizeof(s->groups));
    s->user.username = s->username;
    s->user.groups = s->groups;
    s->has_session = session != NULL;
    if (session != NULL) {
        s->session = *session;
        apr_cpystrn(s->vhost, session->vhost, sizeof(s->vhost));
        s->session.vhost = s->vhost;
    }
    apr_thread_mutex_unlock(cache->lock);
}

void rus_cache_drop(rus_cache_t *cache, const char *key)
{
    slot_t *s;

    if (cache == NULL || strlen(key) > KEY_MAX) {
        return;
    }
    apr_thread_mutex_lock(cache->lock);
    s = find_slot(set_of(cache, key), key);
    if (s != NULL) {
        s->key[0] = '\0';
    }
    apr_thread_mutex_unlock(cache->lock);
}
