/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The PostgreSQL backend: the only file that includes libpq or speaks SQL
 * to PostgreSQL.
 *
 * A store is "postgresql://..." (or "postgres://..."): a libpq connection
 * URI, handed to libpq as it is, after our defaults (connect_timeout,
 * TCP keepalives, application_name), so that the URI's own values win.
 *
 * Tables (the SQLite store's names, PostgreSQL's types):
 *   users (id bigint identity, username text, is_active boolean,
 *          date_joined bigint, last_login bigint, email text,
 *          first_name text, last_name text)
 *   user_attributes (user_id bigint, name text, value text)
 *   groups (id bigint identity, name text)
 *   user_groups (user_id bigint, group_id bigint,
 *                origin text: 'admin' or 'frontend')
 *   sessions (token_hash text, user_id bigint, vhost text,
 *             created_at bigint, last_seen bigint, expires_at bigint)
 *   changes (id bigint identity, user_id bigint, session_hash text,
 *            at bigint)
 *   counters (name text, value bigint): counts the store keeps itself
 *            (sessions ended by remoteuser-admin), not logged
 *   rus_schema (version int): one row, the schema version.
 * Times are UNIX seconds, as in SQLite; names and hashes compare by bytes
 * (COLLATE "C"), as SQLite's BINARY collation does.
 *
 * The change log is fed by triggers (rus_changes_*), which fire for every
 * writer of the database (the module, remoteuser-admin, psql, another
 * application) under the same conditions as SQLite's; a TRUNCATE of one
 * of the tables logs a row with neither user nor session, which
 * changes_since() reports as RUS_CHANGES_ENOUGH (drop every answer). Every row goes
 * through rus_log_change(), which first takes the transaction-level
 * advisory lock LOCK_CHANGES: logged writers are serialised from their
 * first logged row to their commit, so ids are handed out in commit order
 * and a reader never sees id N + 1 before N. It then calls
 * pg_notify('rus_changes', '') (one notification per transaction, the
 * payload being constant), which the host's feed LISTENs to. A logged
 * writer that waits for that lock holds the row locks of its statement
 * already (AFTER triggers run at its end): two writers that each want
 * what the other holds (a logout racing a disable of the same user) are
 * a deadlock the server breaks after deadlock_timeout by failing one,
 * which is busy (APR_TIMEUP) here, as a lock wait that lasted too long.
 *
 * The schema is created and migrated under the session-level advisory
 * lock LOCK_SCHEMA: by prepare (httpd's parent), and by any connection
 * that finds it absent or older; one that finds it newer refuses it.
 * The keys, for whoever looks at pg_locks: LOCK_SCHEMA 7500544738700001,
 * LOCK_CHANGES 7500544738700002.
 *
 * A load (rus_store_copy() into this store) runs with the triggers on:
 * the memberships it inserts are logged as changes, which only makes the
 * caches of the target's hosts drop users they cannot hold yet.
 *
 * Statements: the request path's are prepared at the protocol level, once
 * per connection, on first use (a new connection prepares them again);
 * administration uses PQexecParams. Behind a pooler, that needs session
 * pooling, or one that keeps protocol-level prepared statements
 * (PgBouncer 1.21 or later with max_prepared_statements). Request data only ever travels as a
 * parameter. statement_timeout and lock_timeout are the store's busy
 * timeout. A connection lost (or a server shutting down) marks the
 * connection broken: the request fails with RUS_STORE_EUNREACHABLE, and
 * the next one opens a new connection. */

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include <libpq-fe.h>

#include "rus_backend.h"
#include "rus_username.h"

/* ==================================================================== */
/* schema                                                               */

/* The advisory lock keys (pg_advisory_lock's bigint space is shared by
 * every application of the database: "rus" and a number). */
#define LOCK_SCHEMA  "7500544738700001"
#define LOCK_CHANGES "7500544738700002"

/* The notification channel of the change log. */
#define CHANNEL "rus_changes"

/* application_name of the request connections and of the feed. */
#define APP_NAME      "remoteuser-session"
#define APP_NAME_FEED "remoteuser-session-listener"

/* UNIX seconds of the statement, for the change log and its triggers. */
#define PG_NOW \
    "CAST(floor(extract(epoch FROM statement_timestamp())) AS bigint)"

/* migrations[v] moves a database at version v to v + 1, in one
 * transaction. Never edit a step once released: add a new one. */
static const char *const migrations[] = {
    /* 0 -> 1: the SQLite store's schema, version 4, at once */
    "CREATE TABLE rus_schema (version int NOT NULL);"
    "INSERT INTO rus_schema (version) VALUES (0);"
    "CREATE TABLE users ("
    " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " username text COLLATE \"C\" NOT NULL UNIQUE,"
    " is_active boolean NOT NULL DEFAULT true,"
    " date_joined bigint NOT NULL,"
    " last_login bigint"
    ");"
    "CREATE TABLE sessions ("
    " token_hash text COLLATE \"C\" PRIMARY KEY,"
    " user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    " vhost text NOT NULL,"
    " created_at bigint NOT NULL,"
    " last_seen bigint NOT NULL,"
    " expires_at bigint NOT NULL"
    ");"
    "CREATE INDEX sessions_user ON sessions (user_id);"
    "CREATE INDEX sessions_expires ON sessions (expires_at);"
    "CREATE TABLE groups ("
    " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " name text COLLATE \"C\" NOT NULL UNIQUE"
    ");"
    "CREATE TABLE user_groups ("
    " user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    " group_id bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,"
    " PRIMARY KEY (user_id, group_id)"
    ");"
    "CREATE INDEX user_groups_group ON user_groups (group_id);"
    "CREATE TABLE changes ("
    " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " user_id bigint,"
    " session_hash text,"
    " at bigint NOT NULL"
    ");"
    "CREATE INDEX changes_at ON changes (at);"
    /* search_path FROM CURRENT: the function finds its table whatever
     * search_path the writer (psql) runs with. */
    "CREATE FUNCTION rus_log_change(p_user bigint, p_hash text)"
    " RETURNS void LANGUAGE plpgsql SET search_path FROM CURRENT AS $$"
    " BEGIN"
    " PERFORM pg_advisory_xact_lock(" LOCK_CHANGES ");"
    " INSERT INTO changes (user_id, session_hash, at)"
    " VALUES (p_user, p_hash, " PG_NOW ");"
    " PERFORM pg_notify('" CHANNEL "', '');"
    " END $$;"
    "CREATE FUNCTION rus_changes_user() RETURNS trigger LANGUAGE plpgsql"
    " SET search_path FROM CURRENT AS $$"
    " BEGIN PERFORM rus_log_change(OLD.id, NULL); RETURN NULL; END $$;"
    "CREATE FUNCTION rus_changes_session() RETURNS trigger LANGUAGE plpgsql"
    " SET search_path FROM CURRENT AS $$"
    " BEGIN PERFORM rus_log_change(OLD.user_id, OLD.token_hash);"
    " RETURN NULL; END $$;"
    "CREATE FUNCTION rus_changes_member() RETURNS trigger LANGUAGE plpgsql"
    " SET search_path FROM CURRENT AS $$"
    " BEGIN"
    " IF TG_OP <> 'INSERT' THEN PERFORM rus_log_change(OLD.user_id, NULL);"
    " END IF;"
    " IF TG_OP <> 'DELETE' THEN PERFORM rus_log_change(NEW.user_id, NULL);"
    " END IF;"
    " RETURN NULL; END $$;"
    "CREATE FUNCTION rus_changes_group() RETURNS trigger LANGUAGE plpgsql"
    " SET search_path FROM CURRENT AS $$"
    " BEGIN"
    " PERFORM rus_log_change(ug.user_id, NULL) FROM user_groups ug"
    " WHERE ug.group_id = NEW.id;"
    " RETURN NULL; END $$;"
    "CREATE TRIGGER changes_user_update AFTER UPDATE OF is_active, username"
    " ON users FOR EACH ROW WHEN (OLD.is_active IS DISTINCT FROM"
    " NEW.is_active OR OLD.username IS DISTINCT FROM NEW.username)"
    " EXECUTE FUNCTION rus_changes_user();"
    "CREATE TRIGGER changes_user_delete AFTER DELETE ON users"
    " FOR EACH ROW EXECUTE FUNCTION rus_changes_user();"
    /* An expired session is refused from the cache as from the store: the
     * purge of expired sessions logs nothing. */
    "CREATE TRIGGER changes_session_delete AFTER DELETE ON sessions"
    " FOR EACH ROW WHEN (OLD.expires_at > " PG_NOW ")"
    " EXECUTE FUNCTION rus_changes_session();"
    /* A touch lowers expires_at only together with created_at (the clock
     * clamp); an expiry shortened by hand keeps created_at. */
    "CREATE TRIGGER changes_session_update AFTER UPDATE OF token_hash,"
    " user_id, vhost, expires_at ON sessions FOR EACH ROW"
    " WHEN (OLD.token_hash IS DISTINCT FROM NEW.token_hash"
    " OR OLD.user_id IS DISTINCT FROM NEW.user_id"
    " OR OLD.vhost IS DISTINCT FROM NEW.vhost"
    " OR (NEW.expires_at < OLD.expires_at"
    " AND NEW.created_at IS NOT DISTINCT FROM OLD.created_at))"
    " EXECUTE FUNCTION rus_changes_session();"
    "CREATE TRIGGER changes_member AFTER INSERT OR UPDATE OR DELETE"
    " ON user_groups FOR EACH ROW EXECUTE FUNCTION rus_changes_member();"
    /* Cached answers carry group names. A deleted group's memberships go
     * by ON DELETE CASCADE, which fires changes_member. */
    "CREATE TRIGGER changes_group_rename AFTER UPDATE OF name ON groups"
    " FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)"
    " EXECUTE FUNCTION rus_changes_group();"
    /* TRUNCATE (which SQLite has not) fires no row trigger: one row
     * without a user or a session, about every answer. */
    "CREATE FUNCTION rus_changes_all() RETURNS trigger LANGUAGE plpgsql"
    " SET search_path FROM CURRENT AS $$"
    " BEGIN PERFORM rus_log_change(NULL, NULL); RETURN NULL; END $$;"
    "CREATE TRIGGER changes_truncate AFTER TRUNCATE ON users"
    " FOR EACH STATEMENT EXECUTE FUNCTION rus_changes_all();"
    "CREATE TRIGGER changes_truncate AFTER TRUNCATE ON sessions"
    " FOR EACH STATEMENT EXECUTE FUNCTION rus_changes_all();"
    "CREATE TRIGGER changes_truncate AFTER TRUNCATE ON groups"
    " FOR EACH STATEMENT EXECUTE FUNCTION rus_changes_all();"
    "CREATE TRIGGER changes_truncate AFTER TRUNCATE ON user_groups"
    " FOR EACH STATEMENT EXECUTE FUNCTION rus_changes_all();",
    /* 1 -> 2 (#19): what the front end says about a user (the SQLite
     * store's version 5). Memberships made before are an
     * administrator's. */
    "ALTER TABLE users"
    " ADD COLUMN email text COLLATE \"C\" NOT NULL DEFAULT '',"
    " ADD COLUMN first_name text COLLATE \"C\" NOT NULL DEFAULT '',"
    " ADD COLUMN last_name text COLLATE \"C\" NOT NULL DEFAULT '';"
    "CREATE TABLE user_attributes ("
    " user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
    " name text COLLATE \"C\" NOT NULL CHECK (name <> ''),"
    " value text COLLATE \"C\" NOT NULL,"
    " PRIMARY KEY (user_id, name)"
    ");"
    "ALTER TABLE user_groups"
    " ADD COLUMN origin text NOT NULL DEFAULT 'admin'"
    " CONSTRAINT user_groups_origin"
    " CHECK (origin IN ('admin', 'frontend'));"
    /* Cached answers carry the three columns too (last_login stays
     * bookkeeping, never logged). */
    "DROP TRIGGER changes_user_update ON users;"
    "CREATE TRIGGER changes_user_update AFTER UPDATE OF is_active, username,"
    " email, first_name, last_name ON users FOR EACH ROW"
    " WHEN (OLD.is_active IS DISTINCT FROM NEW.is_active"
    " OR OLD.username IS DISTINCT FROM NEW.username"
    " OR OLD.email IS DISTINCT FROM NEW.email"
    " OR OLD.first_name IS DISTINCT FROM NEW.first_name"
    " OR OLD.last_name IS DISTINCT FROM NEW.last_name)"
    " EXECUTE FUNCTION rus_changes_user();"
    /* rus_changes_member() logs OLD's and NEW's user_id: an attribute's
     * row has one too. An update that changes nothing logs nothing. */
    "CREATE TRIGGER changes_attr AFTER INSERT OR DELETE ON user_attributes"
    " FOR EACH ROW EXECUTE FUNCTION rus_changes_member();"
    "CREATE TRIGGER changes_attr_update AFTER UPDATE ON user_attributes"
    " FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)"
    " EXECUTE FUNCTION rus_changes_member();"
    "CREATE TRIGGER changes_truncate AFTER TRUNCATE ON user_attributes"
    " FOR EACH STATEMENT EXECUTE FUNCTION rus_changes_all();",
    /* 2 -> 3 (#20): counts the store keeps itself (the SQLite store's
     * version 6): rus_store_info_t's revoked_*, COUNTER_ADMIN and
     * COUNTER_DEACTIVATION, written in the transaction of what they
     * count. Bookkeeping: no trigger logs them. */
    "CREATE TABLE counters ("
    " name text COLLATE \"C\" PRIMARY KEY,"
    " value bigint NOT NULL"
    ");",
    /* 3 -> 4 (#21, the SQLite store's version 7): what the login's
     * request said of the client, for the user's own list of sessions: its
     * address and User-Agent (as rus_ua_clean() kept it), written once by
     * the session's insert; sessions made before get ''. No cached answer
     * depends on them: the triggers stay as they are. */
    ("ALTER TABLE sessions ADD COLUMN ip text NOT NULL DEFAULT '',"
     " ADD COLUMN user_agent text NOT NULL DEFAULT '';"),
};

/* The counters table's rows: sessions ended by an administrator's tool
 * (opts.admin) revoking them or deleting their user, and by it disabling
 * their user. */
#define COUNTER_ADMIN        "revoked_admin"
#define COUNTER_DEACTIVATION "revoked_deactivation"

/* An administrator's revocation (opts.admin), counted: the DELETE @a del
 * and the upsert of the counter @a name by the rows it deleted, in one
 * statement (one transaction: the count is kept exactly when the
 * revocation is), which returns that number. Its triggers run at its end
 * (AFTER, for the whole statement): as every writer's, the change log's
 * lock comes after the row locks, the counter's among them. Expired
 * sessions not yet purged count too: the count is what the tool
 * reports. */
#define COUNTED(del, name)                                     \
    "WITH d AS (" del " RETURNING 1),"                         \
    " t AS (SELECT count(*) AS n FROM d),"                     \
    " c AS (INSERT INTO counters (name, value)"                \
    " SELECT '" name "', t.n FROM t WHERE t.n > 0"             \
    " ON CONFLICT (name) DO UPDATE SET value = counters.value" \
    " + excluded.value)"                                       \
    " SELECT t.n FROM t"

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* The columns row_to_user() reads, for a users row aliased u; the groups
 * (all, then the front end's), the three columns and the attributes
 * (encoded as rus_attrs_decode() reads them) come along in the same
 * query, so the hot path stays one round trip. The encoding's lengths
 * are those of the bytes the client receives, in its client_encoding
 * (a URI's or PGCLIENTENCODING's may differ from the database's). */
#define USER_COLUMNS                                                 \
    "u.id, u.username, u.is_active, u.date_joined, u.last_login,"    \
    " (SELECT string_agg(g.name, ',') FROM user_groups ug"           \
    " JOIN groups g ON g.id = ug.group_id WHERE ug.user_id = u.id)," \
    " (SELECT string_agg(g.name, ',') FROM user_groups ug"           \
    " JOIN groups g ON g.id = ug.group_id WHERE ug.user_id = u.id"   \
    " AND ug.origin = '" RUS_ORIGIN_FRONTEND "'),"                   \
    " u.email, u.first_name, u.last_name,"                           \
    " (SELECT string_agg(octet_length(convert_to(a.name,"            \
    " pg_client_encoding())) || ':' || a.name"                       \
    " || octet_length(convert_to(a.value, pg_client_encoding()))"    \
    " || ':' || a.value, '' ORDER BY a.name)"                        \
    " FROM user_attributes a WHERE a.user_id = u.id)"
#define USER_COLUMN_COUNT 11

/* The request path's statements, prepared on first use (pg_conn_t). */
enum {
    ST_USER_FIND,
    ST_USER_INSERT,
    ST_USER_TOUCH,
    ST_SESSION_INSERT,
    ST_SESSION_FIND,
    ST_SESSION_TOUCH,
    ST_SESSION_REVOKE,
    ST_SESSION_REVOKE_USER,
    ST_SESSION_PURGE,
    ST_SESSION_TRIM,
    ST_CHANGES_SINCE,
    ST_COUNT
};

static const struct {
    const char *name; /* the protocol-level statement's name */
    const char *sql;
    int nparams;
} stmts[ST_COUNT] = {
    [ST_USER_FIND] = { "rus_user_find",
                       "SELECT " USER_COLUMNS
                       " FROM users u WHERE u.username = $1::text",
                       1 },
    /* A conflict with a row another transaction inserts waits for it, and
     * then inserts nothing: the select that follows finds the winner's. */
    [ST_USER_INSERT] = { "rus_user_insert",
                         "INSERT INTO users (username, is_active,"
                         " date_joined, last_login)"
                         " VALUES ($1::text, true, $2::bigint, $2::bigint)"
                         " ON CONFLICT (username) DO NOTHING"
                         " RETURNING id, username, is_active, date_joined,"
                         " last_login, NULL::text, NULL::text, email,"
                         " first_name, last_name, NULL::text",
                         2 },
    [ST_USER_TOUCH] = { "rus_user_touch",
                        "UPDATE users SET last_login = $2::bigint"
                        " WHERE id = $1::bigint AND (last_login IS NULL"
                        " OR last_login <= $2::bigint - $3::bigint)",
                        3 },
    [ST_SESSION_INSERT] = { "rus_session_insert",
                            "INSERT INTO sessions (token_hash, user_id,"
                            " vhost, created_at, last_seen, expires_at, ip,"
                            " user_agent)"
                            " VALUES ($1::text, $2::bigint, $3::text,"
                            " $4::bigint, $4::bigint, $5::bigint, $6::text,"
                            " $7::text)",
                            7 },
    [ST_SESSION_FIND] = { "rus_session_find",
                          "SELECT s.user_id, s.vhost, s.created_at,"
                          " s.last_seen, s.expires_at, " USER_COLUMNS
                          " FROM sessions s JOIN users u ON u.id = s.user_id"
                          " WHERE s.token_hash = $1::text",
                          1 },
    /* last_seen never goes backwards from a past value (two touches
     * racing); values in the future, written while the clock was ahead,
     * are brought back to now, expires_at with created_at
     * (rus_session_clamp()). SET's right-hand sides read the old row. */
    [ST_SESSION_TOUCH] = { "rus_session_touch",
                           "UPDATE sessions SET last_seen = $2::bigint,"
                           " expires_at = expires_at"
                           " - GREATEST(created_at - $2::bigint, 0),"
                           " created_at = LEAST(created_at, $2::bigint)"
                           " WHERE token_hash = $1::text"
                           " AND (last_seen <> $2::bigint"
                           " OR created_at > $2::bigint)",
                           2 },
    [ST_SESSION_REVOKE] = { "rus_session_revoke",
                            "DELETE FROM sessions WHERE token_hash = $1::text",
                            1 },
    [ST_SESSION_REVOKE_USER] = { "rus_session_revoke_user",
                                 "DELETE FROM sessions"
                                 " WHERE user_id = $1::bigint",
                                 1 },
    /* At most $2 rows (NULL: all) per statement, found through
     * sessions_expires: one statement is one short transaction. */
    [ST_SESSION_PURGE] = { "rus_session_purge",
                           "DELETE FROM sessions WHERE token_hash IN"
                           " (SELECT token_hash FROM sessions"
                           " WHERE expires_at <= $1::bigint LIMIT $2::bigint)",
                           2 },
    /* One statement, so the rows chosen are the rows deleted, whatever
     * other logins of the same user do meanwhile. */
    [ST_SESSION_TRIM] = { "rus_session_trim",
                          "DELETE FROM sessions WHERE user_id = $1::bigint"
                          " AND token_hash <> $3::text"
                          " AND token_hash NOT IN (SELECT token_hash"
                          " FROM sessions WHERE user_id = $1::bigint"
                          " AND token_hash <> $3::text"
                          " ORDER BY created_at DESC, last_seen DESC,"
                          " token_hash LIMIT $2::bigint)"
                          " RETURNING token_hash",
                          3 },
    /* The identity's sequence is the highest id ever handed out (it never
     * goes down, unless the database was restored from a copy), on every
     * row; then a batch of the changes after $1, in id order. */
    [ST_CHANGES_SINCE] = { "rus_changes_since",
                           "SELECT q.high, c.id, c.user_id, c.session_hash,"
                           " c.at FROM (SELECT CASE WHEN is_called"
                           " THEN last_value ELSE 0 END AS high"
                           " FROM changes_id_seq) q"
                           " LEFT JOIN (SELECT * FROM changes"
                           " WHERE id > $1::bigint ORDER BY id"
                           " LIMIT $2::bigint) c ON true ORDER BY c.id",
                           2 },
};

/* How many changes one round trip of changes_since reads. */
#define CHANGES_BATCH      "1000"
#define CHANGES_BATCH_ROWS 1000

typedef struct pg_conn_t {
    rus_conn_t base;       /* must come first */
    PGconn *pg;            /* the connection */
    const char *shown;     /* the store's URI as messages show it */
    unsigned int ready;    /* bit i: stmts[i] is prepared on this connection */
    int in_transaction;    /* a BEGIN of ours is open */
    int copying;           /* a load's COPY of this row kind is open, or 0 */
    apr_int64_t copied;    /* rows sent to it since load_pool was cleared */
    apr_pool_t *load_pool; /* a load's scratch, or NULL */
} pg_conn_t;

/* A feed (rus_store_feed_open()): a connection of its own that LISTENs. */
typedef struct pg_feed_t {
    rus_feed_t base; /* must come first */
    PGconn *pg;
    apr_pool_t *pool;     /* the caller's, for messages */
    const char *location; /* the store's, whose secrets messages mask */
    const char *shown;    /* the store's URI as messages show it */
} pg_feed_t;

/* ==================================================================== */
/* the URI                                                              */

/* The full URI of a location (what follows "postgresql:"). */
static const char *full_uri(apr_pool_t *p, const char *location)
{
    return apr_pstrcat(p, "postgresql:", location, NULL);
}

/* Where the password of a URI location is: between the first ':' of the
 * user information and the last '@' before the parameters. That is where
 * libpq reads it when the password is percent-encoded as it must be
 * (pg_check() refuses a raw '@' or '/' in it), and covers all of it when
 * it is not. *plen 0: none. */
static const char *find_password(const char *location, apr_size_t *plen)
{
    const char *start, *end, *at = NULL, *colon, *s;

    *plen = 0;
    if (strncmp(location, "//", 2) != 0) {
        return NULL;
    }
    start = location + 2;
    /* The last '@' of all: libpq ends the user information at the first
     * '/' only, so a raw '?' or '#' in a password is its part too; a
     * '@' further on (in a parameter) only hides more. */
    end = start + strlen(start);
    for (s = start; s < end; s++) {
        if (*s == '@') {
            at = s;
        }
    }
    if (at == NULL) {
        return NULL;
    }
    colon = memchr(start, ':', (apr_size_t)(at - start));
    if (colon == NULL) {
        return NULL;
    }
    *plen = (apr_size_t)(at - colon - 1);
    return colon + 1;
}

/* Does the user information of a URI location hold a raw '@' or '/'
 * (which libpq would read as the end of it, and then show the rest of
 * the password as a host or a database name in its messages)? */
static int userinfo_ambiguous(const char *location)
{
    const char *start = location + 2, *end, *first, *last = NULL, *s;

    /* as find_password(): a '?' or '#' before the last '@' is ambiguous
     * too (libpq reads it as the password's) */
    end = start + strlen(start);
    first = start + strcspn(start, "@/?#");
    for (s = start; s < end; s++) {
        if (*s == '@') {
            last = s;
        }
    }
    return last != NULL && first != last;
}

/* Is the URI parameter at @a item (up to '&' or the end) password=...,
 * its key percent-decoded as libpq decodes it ("pass%77ord=")? *pvalue
 * gets where its value starts. */
static int param_is_password(const char *item, const char **pvalue)
{
    static const char key[] = "password";
    const char *s = item;
    apr_size_t k = 0;

    while (*s != '\0' && *s != '&' && *s != '=') {
        int ch = (unsigned char)*s;

        if (ch == '%' && apr_isxdigit(s[1]) && apr_isxdigit(s[2])) {
            char hex[3] = { s[1], s[2], '\0' };

            ch = (int)strtol(hex, NULL, 16);
            s += 3;
        }
        else {
            s++;
        }
        if (k >= sizeof(key) - 1 || ch != key[k]) {
            return 0;
        }
        k++;
    }
    if (*s != '=' || k != sizeof(key) - 1) {
        return 0;
    }
    *pvalue = s + 1;
    return 1;
}

/* The location as messages show it: the password of the user information
 * and of a password= parameter as "***", whole URI. */
static const char *pg_display(const char *location, apr_pool_t *p)
{
    apr_size_t len = 0;
    const char *pw = find_password(location, &len), *q;
    char *out, *w;

    if (pw != NULL && len > 0) {
        out = apr_pstrcat(p,
                          apr_pstrmemdup(p, location,
                                         (apr_size_t)(pw - location)),
                          "***", pw + len, NULL);
    }
    else {
        out = apr_pstrdup(p, location);
    }
    q = strchr(out, '?');
    if (q != NULL) {
        /* every password=VALUE among the parameters */
        const char *rest = q + 1;
        char *built = apr_pstrmemdup(p, out, (apr_size_t)(rest - out));

        while (*rest != '\0') {
            apr_size_t n = strcspn(rest, "&");
            const char *item = apr_pstrmemdup(p, rest, n), *value;

            if (param_is_password(item, &value)) {
                item = apr_pstrcat(p,
                                   apr_pstrmemdup(p, item,
                                                  (apr_size_t)(value - item)),
                                   "***", NULL);
            }
            built = apr_pstrcat(p, built, item, rest[n] ? "&" : "", NULL);
            rest += n + (rest[n] ? 1 : 0);
        }
        out = built;
    }
    for (w = out; *w != '\0'; w++) {
        if ((unsigned char)*w < 0x20 || *w == 0x7f) {
            *w = '?';
        }
    }
    return apr_pstrcat(p, "postgresql:", out, NULL);
}

/* Where the value of a password= parameter of a URI location is (the
 * first one, its key percent-decoded); *plen 0: none. */
static const char *find_param_password(const char *location, apr_size_t *plen)
{
    const char *s = strchr(location, '?');

    *plen = 0;
    while (s != NULL) {
        const char *value;

        s++;
        if (param_is_password(s, &value)) {
            *plen = strcspn(value, "&");
            return value;
        }
        s = strchr(s, '&');
    }
    return NULL;
}

/* Copy a libpq message into @a buf as one line: control characters
 * (newlines included) become spaces, runs of them one, and the passwords
 * of @a location (may be NULL), should libpq quote one, "***". */
static void one_line(char *buf, apr_size_t size, const char *msg,
                     const char *location)
{
    const char *secret[2] = { NULL, NULL };
    apr_size_t len[2] = { 0, 0 }, n = 0, k;
    const char *s;
    int space = 0, i, masked;

    if (size == 0) {
        return;
    }
    if (location != NULL) {
        secret[0] = find_password(location, &len[0]);
        secret[1] = find_param_password(location, &len[1]);
    }
    for (s = msg ? msg : ""; *s != '\0' && n + 1 < size;) {
        unsigned char ch = (unsigned char)*s;

        masked = 0;
        for (i = 0; i < 2 && !masked; i++) {
            if (secret[i] != NULL && len[i] > 0
                && strncmp(s, secret[i], len[i]) == 0) {
                for (k = 0; k < 3 && n + 1 < size; k++) {
                    buf[n++] = '*';
                }
                s += len[i];
                space = 0;
                masked = 1;
            }
        }
        if (masked) {
            continue;
        }
        if (ch < 0x20 || ch == 0x7f) {
            if (!space && n > 0) {
                buf[n++] = ' ';
            }
            space = 1;
        }
        else {
            buf[n++] = (char)ch;
            space = 0;
        }
        s++;
    }
    while (n > 0 && buf[n - 1] == ' ') {
        n--;
    }
    buf[n] = '\0';
}

/* The same, allocated from @a p. */
static const char *one_line_p(apr_pool_t *p, const char *msg,
                              const char *location)
{
    char buf[RUS_CONN_ERROR_MAX];

    one_line(buf, sizeof(buf), msg, location);
    return apr_pstrdup(p, buf);
}

/* A column as a 64-bit integer (NULL reads 0). */
static apr_int64_t col_i64(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col)) {
        return 0;
    }
    return apr_atoi64(PQgetvalue(res, row, col));
}

/* A column as a string from @a p (NULL: @a dflt). */
static const char *col_str(const PGresult *res, int row, int col, apr_pool_t *p,
                           const char *dflt)
{
    if (PQgetisnull(res, row, col)) {
        return dflt;
    }
    return apr_pstrmemdup(p, PQgetvalue(res, row, col),
                          (apr_size_t)PQgetlength(res, row, col));
}

/* ==================================================================== */
/* errors                                                               */

/* Is the class of @a state one of a connection lost or refused, or of a
 * server shutting down or not accepting connections yet? */
static int state_unreachable(const char *state)
{
    return state != NULL
           && (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0
               || strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0
               || strcmp(state, "53300") == 0);
}

/* The APR status of a failed statement with SQLSTATE @a state. */
static apr_status_t status_from_state(const char *state)
{
    if (state == NULL) {
        return APR_EGENERAL;
    }
    if (state_unreachable(state)) {
        return RUS_STORE_EUNREACHABLE;
    }
    if (strcmp(state, "23505") == 0) {
        return APR_EEXIST; /* unique_violation */
    }
    /* serialization_failure, deadlock_detected, lock_not_available
     * (lock_timeout), query_canceled (statement_timeout): what SQLite
     * calls busy, a wait that lasted too long */
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0
        || strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0) {
        return APR_TIMEUP;
    }
    if (strcmp(state, "25006") == 0) {
        return RUS_STORE_EREADONLY; /* a standby, read-only transaction */
    }
    if (strcmp(state, "42501") == 0) {
        return APR_EACCES; /* insufficient_privilege */
    }
    if (strcmp(state, "53100") == 0) {
        return APR_ENOSPC; /* disk_full */
    }
    if (strcmp(state, "53200") == 0) {
        return APR_ENOMEM;
    }
    if (strcmp(state, "42P01") == 0 || strcmp(state, "42703") == 0
        || strcmp(state, "42883") == 0) {
        return RUS_STORE_ESCHEMA; /* a table, column or function missing */
    }
    return APR_EGENERAL;
}

/* Record the failure of @a what (its result @a res, may be NULL) on the
 * connection, and return its status. A connection that lost its server
 * is marked broken. @a res is left to the caller. */
static apr_status_t conn_fail(pg_conn_t *c, const PGresult *res,
                              const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    char line[RUS_CONN_ERROR_MAX];
    apr_status_t rv;

    if (msg == NULL || *msg == '\0') {
        msg = PQerrorMessage(c->pg);
    }
    one_line(line, sizeof(line), msg, c->base.store->location);
    if (PQstatus(c->pg) != CONNECTION_OK || state_unreachable(state)) {
        c->base.broken = 1;
        rus_conn_set_error(&c->base, "%s: %s unreachable: %s", what, c->shown,
                           line);
        return RUS_STORE_EUNREACHABLE;
    }
    rv = status_from_state(state);
    if (rv == APR_TIMEUP && strncmp(state, "40", 2) == 0) {
        /* not a wait that lasted too long: the server ended it */
        rus_conn_set_error(&c->base,
                           "%s: %s failed the transaction (%s); it may be "
                           "tried again: %s",
                           what, c->shown,
                           strcmp(state, "40P01") == 0 ? "deadlock"
                                                       : "serialization",
                           line);
    }
    else if (rv == APR_TIMEUP) {
        rus_conn_set_error(&c->base,
                           "%s: %s is busy: waited longer than the busy "
                           "timeout (%d ms): %s",
                           what, c->shown, c->base.store->opts.busy_timeout_ms,
                           line);
    }
    else if (rv == APR_EEXIST) {
        rus_conn_set_error(&c->base, "%s: already exists", what);
    }
    else {
        rus_conn_set_error(&c->base, "%s: %s (SQLSTATE %s)", what, line,
                           state ? state : "none");
    }
    return rv;
}

/* ==================================================================== */
/* connections                                                          */

/* Notices (of a migration's CREATE, say) are not for httpd's error log,
 * which libpq's default processor would write them to (stderr). */
static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Open a libpq connection to @a store: our defaults, then the URI (whose
 * values win), then for a feed its application_name (which wins). */
static PGconn *pg_open(const rus_store_t *store, int feed, apr_pool_t *p)
{
    int timeout = store->opts.busy_timeout_ms / 1000;
    int busy_ms = store->opts.busy_timeout_ms;
    const char *keys[10], *vals[10];
    PGconn *pg;
    int n = 0;

    keys[n] = "connect_timeout";
    vals[n++] = apr_itoa(p, timeout > 2 ? timeout : 2);
    /* A server that stops answering in the middle of a statement (its
     * host gone, a firewall dropping packets) fails the statement after
     * this long instead of TCP's retransmissions (about 15 minutes):
     * a request thread, the listener and a child's exit never wait for
     * it longer. statement_timeout is the server's, and cannot help. */
    keys[n] = "tcp_user_timeout";
    vals[n++] = apr_itoa(p, busy_ms > 2000 ? busy_ms : 2000);
    keys[n] = "keepalives";
    vals[n++] = "1";
    keys[n] = "keepalives_idle";
    vals[n++] = "30";
    keys[n] = "keepalives_interval";
    vals[n++] = "10";
    keys[n] = "keepalives_count";
    vals[n++] = "3";
    keys[n] = "application_name";
    vals[n++] = APP_NAME;
    keys[n] = "dbname";
    vals[n++] = full_uri(p, store->location);
    if (feed) {
        keys[n] = "application_name";
        vals[n++] = APP_NAME_FEED;
    }
    keys[n] = NULL;
    vals[n] = NULL;
    pg = PQconnectdbParams(keys, vals, 1);
    if (pg != NULL) {
        PQsetNoticeProcessor(pg, ignore_notice, NULL);
    }
    return pg;
}

/* Run a statement without parameters; *pres gets the result when it is
 * @a expect (the caller clears it; NULL to have it cleared here). */
static apr_status_t run_simple(pg_conn_t *c, const char *sql,
                               ExecStatusType expect, PGresult **pres,
                               const char *what)
{
    PGresult *res = PQexec(c->pg, sql);
    apr_status_t rv = APR_SUCCESS;

    if (PQresultStatus(res) != expect) {
        rv = conn_fail(c, res, what);
        PQclear(res);
        return rv;
    }
    if (pres != NULL) {
        *pres = res;
    }
    else {
        PQclear(res);
    }
    return rv;
}

/* The session settings of every connection: the busy timeout bounds
 * every statement and every lock wait; transactions are READ COMMITTED
 * whatever the role or database defaults to, since the login's writes
 * rely on each statement seeing what committed before it (a lock waited
 * for, then the row read again) and would fail with 40001 otherwise. */
static const char *settings_sql(apr_pool_t *p, const rus_store_t *store)
{
    int ms = store->opts.busy_timeout_ms > 0 ? store->opts.busy_timeout_ms : 1;

    return apr_psprintf(p,
                        "SET statement_timeout = %d; SET lock_timeout = %d;"
                        " SET default_transaction_isolation = 'read committed'",
                        ms, ms);
}

/* Read the schema version into *pversion (0: no schema yet). */
static apr_status_t read_version(pg_conn_t *c, int *pversion)
{
    PGresult *res = PQexec(c->pg, "SELECT version FROM rus_schema");
    const char *state;
    apr_status_t rv = APR_SUCCESS;

    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        *pversion = PQntuples(res) > 0 ? (int)col_i64(res, 0, 0) : 0;
    }
    else {
        state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (state != NULL && strcmp(state, "42P01") == 0) {
            *pversion = 0; /* undefined_table: a new database */
        }
        else {
            rv = conn_fail(c, res, "read the schema version");
        }
    }
    PQclear(res);
    return rv;
}

/* Create or migrate the schema under LOCK_SCHEMA, in one transaction:
 * several hosts starting at once do it one after the other, and the
 * later ones find nothing to do. A newer schema is refused. */
static apr_status_t migrate(pg_conn_t *c, apr_pool_t *p)
{
    apr_status_t rv, rv2;
    int version = 0, v;

    rv = run_simple(c, "SELECT pg_advisory_lock(" LOCK_SCHEMA ")",
                    PGRES_TUPLES_OK, NULL, "lock the schema");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = read_version(c, &version);
    if (rv == APR_SUCCESS && (version < 0 || version > SCHEMA_VERSION)) {
        rus_conn_set_error(&c->base,
                           "%s has schema version %d; this build knows "
                           "versions 0 to %d",
                           c->shown, version, SCHEMA_VERSION);
        rv = RUS_STORE_ESCHEMA;
    }
    if (rv == APR_SUCCESS && version < SCHEMA_VERSION) {
        rv = run_simple(c, "BEGIN", PGRES_COMMAND_OK, NULL, "begin migration");
        for (v = version; rv == APR_SUCCESS && v < SCHEMA_VERSION; v++) {
            rv = run_simple(c, migrations[v], PGRES_COMMAND_OK, NULL,
                            apr_psprintf(p, "migration %d -> %d", v, v + 1));
        }
        if (rv == APR_SUCCESS) {
            /* our own constant, not data */
            rv =
                run_simple(c,
                           apr_psprintf(p, "UPDATE rus_schema SET version = %d",
                                        SCHEMA_VERSION),
                           PGRES_COMMAND_OK, NULL, "set schema version");
        }
        if (rv == APR_SUCCESS) {
            rv = run_simple(c, "COMMIT", PGRES_COMMAND_OK, NULL,
                            "commit migration");
        }
        if (rv != APR_SUCCESS && PQstatus(c->pg) == CONNECTION_OK) {
            PQclear(PQexec(c->pg, "ROLLBACK"));
        }
    }
    if (PQstatus(c->pg) == CONNECTION_OK) {
        rv2 = run_simple(c, "SELECT pg_advisory_unlock(" LOCK_SCHEMA ")",
                         PGRES_TUPLES_OK, NULL, "unlock the schema");
        if (rv == APR_SUCCESS) {
            rv = rv2;
        }
    }
    return rv;
}

/* Open and set up a connection for @a store into @a c: settings, and the
 * schema checked (one round trip), migrated when absent or older. */
static apr_status_t conn_open(pg_conn_t *c, const rus_store_t *store,
                              apr_pool_t *p)
{
    PGresult *res;
    const char *state;
    apr_status_t rv;
    int version = 0;

    c->base.store = store;
    c->shown = pg_display(store->location, p);
    c->pg = pg_open(store, 0, p);
    if (c->pg == NULL) {
        rus_conn_set_error(&c->base, "%s: out of memory", c->shown);
        return APR_ENOMEM;
    }
    if (PQstatus(c->pg) != CONNECTION_OK) {
        char line[RUS_CONN_ERROR_MAX];

        one_line(line, sizeof(line), PQerrorMessage(c->pg), store->location);
        rus_conn_set_error(&c->base, "cannot connect to %s: %s", c->shown,
                           line);
        return RUS_STORE_EUNREACHABLE;
    }
    res = PQexec(c->pg, apr_pstrcat(p, settings_sql(p, store),
                                    "; SELECT version FROM rus_schema", NULL));
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        version = PQntuples(res) > 0 ? (int)col_i64(res, 0, 0) : 0;
        PQclear(res);
    }
    else {
        state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (state == NULL || strcmp(state, "42P01") != 0) {
            rv = conn_fail(c, res, "check the schema");
            PQclear(res);
            return rv;
        }
        PQclear(res);
        /* the failed query rolled its SETs back with it */
        rv = run_simple(c, settings_sql(p, store), PGRES_COMMAND_OK, NULL,
                        "set the timeouts");
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    if (version > SCHEMA_VERSION) {
        rus_conn_set_error(&c->base,
                           "%s has schema version %d; this build knows "
                           "versions 0 to %d",
                           c->shown, version, SCHEMA_VERSION);
        return RUS_STORE_ESCHEMA;
    }
    if (version < SCHEMA_VERSION) {
        return migrate(c, p);
    }
    return APR_SUCCESS;
}

static apr_status_t pg_check(const rus_store_t *store, apr_pool_t *ptemp,
                             const char **pmsg)
{
    PQconninfoOption *opts;
    char *err = NULL;

    if (strncmp(store->location, "//", 2) != 0) {
        /* Not shown: a key=value string may hold a password anywhere. */
        *pmsg =
            apr_psprintf(ptemp, "not a PostgreSQL URI (what follows "
                                "'postgresql:' must start with '//'); expected "
                                "postgresql://[USER[:PASSWORD]@]HOST[:PORT]/"
                                "DBNAME[?PARAM=VALUE&...]");
        return RUS_STORE_ESPEC;
    }
    if (userinfo_ambiguous(store->location)) {
        *pmsg = apr_psprintf(ptemp,
                             "%s: a '@', '/', '?' or '#' in the user name "
                             "or password, and a '@' after the host, must "
                             "be percent-encoded (%%40, %%2F, %%3F, %%23)",
                             pg_display(store->location, ptemp));
        return RUS_STORE_ESPEC;
    }
    /* Parse only: configtest connects to nothing. */
    opts = PQconninfoParse(full_uri(ptemp, store->location), &err);
    if (opts == NULL) {
        *pmsg =
            apr_psprintf(ptemp, "%s: %s", pg_display(store->location, ptemp),
                         err ? one_line_p(ptemp, err, store->location)
                             : "out of memory");
        PQfreemem(err);
        return RUS_STORE_ESPEC;
    }
    PQconninfoFree(opts);
    return APR_SUCCESS;
}

static apr_status_t pg_prepare(const rus_store_t *store, apr_pool_t *ptemp,
                               const rus_store_owner_t *owner,
                               const char **pwarn, const char **pmsg)
{
    pg_conn_t c;
    apr_status_t rv;

    (void)owner; /* the server owns its files */
    (void)pwarn;
    rv = pg_check(store, ptemp, pmsg);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    memset(&c, 0, sizeof(c));
    rv = conn_open(&c, store, ptemp);
    if (rv != APR_SUCCESS) {
        *pmsg = apr_pstrdup(ptemp, c.base.error);
    }
    PQfinish(c.pg);
    return rv;
}

static void pg_disconnect(rus_conn_t *conn)
{
    pg_conn_t *c = (pg_conn_t *)conn;

    PQfinish(c->pg);
    c->pg = NULL;
    c->ready = 0;
}

static apr_status_t pg_connect(rus_conn_t **pconn, const rus_store_t *store,
                               apr_pool_t *cpool, apr_pool_t *ptemp,
                               const char **pmsg)
{
    pg_conn_t *c = apr_pcalloc(cpool, sizeof(*c));
    apr_status_t rv;

    rv = conn_open(c, store, cpool);
    if (rv != APR_SUCCESS) {
        *pmsg = apr_pstrdup(ptemp, c->base.error);
        pg_disconnect(&c->base);
        return rv;
    }
    *pconn = &c->base;
    return APR_SUCCESS;
}

/* No round trip: what libpq knows of the connection, after reading what
 * the server may have sent meanwhile (the notice of a server shutting
 * down, or the end of the connection). */
static apr_status_t pg_validate(rus_conn_t *conn)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    struct pollfd pfd;
    int i;

    /* An idle connection has nothing to read but what the server sends on
     * its own: a notice, or the error and the end of the connection of a
     * server shutting down or of a killed server process. A few reads
     * take in both (libpq marks the connection bad at the end). */
    for (i = 0; i < 4 && c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK;
         i++) {
        pfd.fd = PQsocket(c->pg);
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (pfd.fd < 0 || poll(&pfd, 1, 0) <= 0 || !PQconsumeInput(c->pg)) {
            break;
        }
    }
    if (c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK
        && PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        /* a transaction left open (or failed) by a request: not reused */
        conn->broken = 1;
        rus_conn_set_error(conn, "%s: a connection was left in a transaction",
                           c->shown);
        return RUS_STORE_EUNREACHABLE;
    }
    if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK) {
        char line[RUS_CONN_ERROR_MAX];

        one_line(line, sizeof(line), c->pg ? PQerrorMessage(c->pg) : "",
                 conn->store->location);
        conn->broken = 1;
        rus_conn_set_error(conn, "%s unreachable: %s", c->shown,
                           *line ? line : "connection lost");
        return RUS_STORE_EUNREACHABLE;
    }
    return APR_SUCCESS;
}

/* ==================================================================== */
/* running statements                                                   */

/* A bigint parameter in @a buf (21 bytes). */
static const char *i64(char *buf, apr_int64_t v)
{
    apr_snprintf(buf, 21, "%" APR_INT64_T_FMT, v);
    return buf;
}

/* Run the request statement @a st with its parameters, preparing it first
 * on this connection when it is not yet; *pres gets a result of @a expect
 * (the caller clears it). */
static apr_status_t run_stmt(pg_conn_t *c, int st, const char *const *params,
                             ExecStatusType expect, PGresult **pres,
                             const char *what)
{
    PGresult *res;
    apr_status_t rv;

    if (!(c->ready & (1u << st))) {
        res = PQprepare(c->pg, stmts[st].name, stmts[st].sql, stmts[st].nparams,
                        NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

            rv = conn_fail(c, res, what);
            if (state != NULL && strcmp(state, "42P05") == 0) {
                /* the name is taken on the server (a pooler handing over
                 * another client's session): not this connection's to
                 * use, the next one prepares its own */
                c->base.broken = 1;
            }
            PQclear(res);
            return rv;
        }
        PQclear(res);
        c->ready |= 1u << st;
    }
    res = PQexecPrepared(c->pg, stmts[st].name, stmts[st].nparams, params, NULL,
                         NULL, 0);
    if (PQresultStatus(res) != expect) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

        rv = conn_fail(c, res, what);
        if (state != NULL && strcmp(state, "26000") == 0) {
            /* The server forgot the statements (DEALLOCATE ALL, a pooler
             * between us): this connection is not reused, the next one
             * prepares them again. */
            c->ready = 0;
            c->base.broken = 1;
        }
        PQclear(res);
        return rv;
    }
    *pres = res;
    return APR_SUCCESS;
}

/* Run an administration statement with @a n text parameters. */
static apr_status_t run_params(pg_conn_t *c, const char *sql, int n,
                               const char *const *params, ExecStatusType expect,
                               PGresult **pres, const char *what)
{
    PGresult *res = PQexecParams(c->pg, sql, n, NULL, params, NULL, NULL, 0);
    apr_status_t rv;

    if (PQresultStatus(res) != expect) {
        rv = conn_fail(c, res, what);
        PQclear(res);
        return rv;
    }
    *pres = res;
    return APR_SUCCESS;
}

/* Run a write with parameters; *pchanges (if given) gets the rows it
 * changed. */
static apr_status_t exec_params(pg_conn_t *c, int *pchanges, const char *what,
                                const char *sql, int n,
                                const char *const *params)
{
    PGresult *res = NULL;
    apr_status_t rv;

    rv = run_params(c, sql, n, params, PGRES_COMMAND_OK, &res, what);
    if (rv == APR_SUCCESS) {
        if (pchanges != NULL) {
            *pchanges = (int)apr_atoi64(PQcmdTuples(res));
        }
        PQclear(res);
    }
    return rv;
}

/* Run a write that must change a row: APR_ENOENT if none. */
static apr_status_t exec_one(pg_conn_t *c, const char *what, const char *sql,
                             int n, const char *const *params)
{
    int changed = 0;
    apr_status_t rv = exec_params(c, &changed, what, sql, n, params);

    return rv == APR_SUCCESS && changed == 0 ? APR_ENOENT : rv;
}

/* Run a request write statement; *pchanges (if given) gets its count. */
static apr_status_t write_stmt(pg_conn_t *c, int st, const char *const *params,
                               int *pchanges, const char *what)
{
    PGresult *res = NULL;
    apr_status_t rv;

    rv = run_stmt(c, st, params, PGRES_COMMAND_OK, &res, what);
    if (rv == APR_SUCCESS) {
        if (pchanges != NULL) {
            *pchanges = (int)apr_atoi64(PQcmdTuples(res));
        }
        PQclear(res);
    }
    return rv;
}

static apr_status_t tx_begin(pg_conn_t *c, const char *sql)
{
    apr_status_t rv = run_simple(c, sql, PGRES_COMMAND_OK, NULL, "begin");

    c->in_transaction = (rv == APR_SUCCESS);
    return rv;
}

/* In a copy's transaction: its COPY and its dump last as long as the
 * other store feeds or reads them, not a request's statement, so the
 * busy timeout is not theirs (lock_timeout still is). */
static apr_status_t no_statement_timeout(pg_conn_t *c)
{
    return run_simple(c, "SET LOCAL statement_timeout = 0", PGRES_COMMAND_OK,
                      NULL, "lift the statement timeout for the copy");
}

/* Commit when @a rv is a success, else roll back; returns the outcome. */
static apr_status_t tx_end(pg_conn_t *c, apr_status_t rv)
{
    if (!c->in_transaction) {
        return rv;
    }
    c->in_transaction = 0;
    if (rv == APR_SUCCESS) {
        return run_simple(c, "COMMIT", PGRES_COMMAND_OK, NULL, "commit");
    }
    if (PQstatus(c->pg) == CONNECTION_OK) {
        PQclear(PQexec(c->pg, "ROLLBACK"));
    }
    return rv;
}

/* Fill @a user from USER_COLUMNS starting at column @a at of @a row;
 * RUS_STORE_ECORRUPT (said on @a c) when its attributes do not decode. */
static apr_status_t row_to_user(pg_conn_t *c, const PGresult *res, int row,
                                int at, rus_user_t *user, apr_pool_t *p)
{
    apr_status_t rv;

    user->id = col_i64(res, row, at);
    user->username = col_str(res, row, at + 1, p, "");
    user->is_active = PQgetvalue(res, row, at + 2)[0] == 't';
    user->date_joined = col_i64(res, row, at + 3);
    user->last_login = col_i64(res, row, at + 4);
    /* string_agg() promises no order; the facade sorts the names. */
    user->groups = col_str(res, row, at + 5, p, "");
    user->frontend_groups = col_str(res, row, at + 6, p, "");
    user->email = col_str(res, row, at + 7, p, "");
    user->first_name = col_str(res, row, at + 8, p, "");
    user->last_name = col_str(res, row, at + 9, p, "");
    user->attrs = NULL;
    if (PQgetisnull(res, row, at + 10)) {
        return APR_SUCCESS;
    }
    rv = rus_attrs_decode(p, PQgetvalue(res, row, at + 10),
                          (apr_size_t)PQgetlength(res, row, at + 10),
                          &user->attrs);
    if (rv != APR_SUCCESS) {
        rus_conn_set_error(&c->base,
                           "%s: the attributes of user id %" APR_INT64_T_FMT
                           " do not decode",
                           c->shown, user->id);
        return RUS_STORE_ECORRUPT;
    }
    return APR_SUCCESS;
}

/* A pg_read_fn (below): a user's row. */
static apr_status_t read_user(pg_conn_t *c, const PGresult *res, int i,
                              void *elt, apr_pool_t *p)
{
    return row_to_user(c, res, i, 0, elt, p);
}

/* ==================================================================== */
/* users                                                                */

static apr_status_t pg_user_find(rus_conn_t *conn, const char *username,
                                 rus_user_t *user, apr_pool_t *p)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    const char *params[1] = { username };
    PGresult *res = NULL;
    apr_status_t rv;
    rus_user_t got;

    rv = run_stmt(c, ST_USER_FIND, params, PGRES_TUPLES_OK, &res, "find user");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (PQntuples(res) > 0) {
        rv = row_to_user(c, res, 0, 0, &got, p);
    }
    else {
        rv = APR_ENOENT;
    }
    PQclear(res);
    if (rv == APR_SUCCESS) {
        *user = got;
    }
    return rv;
}

/* The separator of the lists that one parameter of the profile's
 * statements carries (string_to_array($N, chr(31))): a control
 * character, which no checked group name, attribute name or value holds
 * (rus_profile.h), so that a whole list goes in one round trip. */
#define LIST_SEP '\x1f'
#define LIST_1   "string_to_array($1::text, chr(31))"
#define LIST_2   "string_to_array($2::text, chr(31))"
#define LIST_3   "string_to_array($3::text, chr(31))"

/* @a items (const char *) joined by LIST_SEP into *plist; APR_EINVAL
 * (said on @a c, naming @a what) when one holds the separator, which a
 * checked value never does. */
static apr_status_t join_list(pg_conn_t *c, const apr_array_header_t *items,
                              const char *what, const char **plist,
                              apr_pool_t *p)
{
    int i;

    for (i = 0; i < items->nelts; i++) {
        if (strchr(APR_ARRAY_IDX(items, i, const char *), LIST_SEP) != NULL) {
            rus_conn_set_error(&c->base,
                               "%s: a value holds a control character", what);
            return APR_EINVAL;
        }
    }
    *plist = apr_array_pstrcat(p, items, LIST_SEP);
    return APR_SUCCESS;
}

/* Run @a sql with the user's id @a id as $1 and the list @a items as $2
 * (@a id NULL: the list as $1); nothing when the list is empty. */
static apr_status_t exec_list(pg_conn_t *c, const char *id,
                              const apr_array_header_t *items, const char *what,
                              const char *sql, apr_pool_t *p)
{
    const char *params[2] = { id, NULL };
    int n = id != NULL ? 2 : 1;
    apr_status_t rv;

    if (items->nelts == 0) {
        return APR_SUCCESS;
    }
    rv = join_list(c, items, what, &params[n - 1], p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return exec_params(c, NULL, what, sql, n, params);
}

/* @a want when it is given and differs from @a have, else NULL (keep). */
static const char *column_change(const char *want, const char *have)
{
    return want != NULL && strcmp(want, have ? have : "") != 0 ? want : NULL;
}

/* Write, in the open transaction, what @a profile says and the user's
 * row @a cur (as this transaction read it, the row locked or its own)
 * lacks; what needs no write sends no statement, and each statement
 * writes only what differs (its WHERE or ON CONFLICT says so again).
 * The missing groups are created first, in name order, by a statement
 * that logs nothing: a transaction that waits for another one's new
 * group holds no lock of the change log yet, and two never wait for each
 * other's groups. Then the three columns, the attributes ("" deletes
 * one), and the memberships: the missing ones added as the front end's
 * (a membership the user has as an administrator's stays one); with
 * groups_replace, the front end's memberships not listed deleted. */
static apr_status_t apply_profile(pg_conn_t *c, const rus_user_t *cur,
                                  const rus_profile_t *profile, apr_pool_t *p)
{
    apr_array_header_t *join = apr_array_make(p, 4, sizeof(const char *));
    apr_array_header_t *leave = apr_array_make(p, 4, sizeof(const char *));
    apr_array_header_t *names = apr_array_make(p, 4, sizeof(const char *));
    apr_array_header_t *values = apr_array_make(p, 4, sizeof(const char *));
    apr_array_header_t *drop = apr_array_make(p, 4, sizeof(const char *));
    const char *cols[4], *have;
    apr_status_t rv = APR_SUCCESS;
    char a[21];
    int i;

    cols[0] = i64(a, cur->id);
    if (profile->groups != NULL) {
        for (i = 0; i < profile->groups->nelts; i++) {
            const char *g = APR_ARRAY_IDX(profile->groups, i, const char *);

            if (!rus_group_list_has(cur->groups, g)) {
                APR_ARRAY_PUSH(join, const char *) = g;
            }
        }
    }
    if (profile->groups != NULL && profile->groups_replace
        && cur->frontend_groups != NULL && *cur->frontend_groups != '\0') {
        char *copy = apr_pstrdup(p, cur->frontend_groups), *tok, *last = NULL;

        for (tok = apr_strtok(copy, ",", &last); tok != NULL;
             tok = apr_strtok(NULL, ",", &last)) {
            if (!rus_names_have(profile->groups, tok)) {
                APR_ARRAY_PUSH(leave, const char *) = tok;
            }
        }
    }
    if (join->nelts > 0) {
        rv = exec_list(c, NULL, join, "create groups",
                       "INSERT INTO groups (name) SELECT n"
                       " FROM unnest(" LIST_1 ") AS t(n)"
                       " ORDER BY n ON CONFLICT (name) DO NOTHING",
                       p);
    }
    cols[1] = column_change(profile->email, cur->email);
    cols[2] = column_change(profile->first_name, cur->first_name);
    cols[3] = column_change(profile->last_name, cur->last_name);
    if (rv == APR_SUCCESS
        && (cols[1] != NULL || cols[2] != NULL || cols[3] != NULL)) {
        rv = exec_params(c, NULL, "write the user's columns",
                         "UPDATE users SET email = COALESCE($2::text, email),"
                         " first_name = COALESCE($3::text, first_name),"
                         " last_name = COALESCE($4::text, last_name)"
                         " WHERE id = $1::bigint AND (email IS DISTINCT"
                         " FROM COALESCE($2::text, email)"
                         " OR first_name IS DISTINCT FROM"
                         " COALESCE($3::text, first_name)"
                         " OR last_name IS DISTINCT FROM"
                         " COALESCE($4::text, last_name))",
                         4, cols);
    }
    for (i = 0; profile->attrs != NULL && i < profile->attrs->nelts; i++) {
        const rus_attr_t *at = &APR_ARRAY_IDX(profile->attrs, i, rus_attr_t);

        have = rus_attrs_get(cur->attrs, at->name);
        if (*at->value == '\0' && have != NULL) {
            APR_ARRAY_PUSH(drop, const char *) = at->name;
        }
        else if (*at->value != '\0'
                 && (have == NULL || strcmp(have, at->value) != 0)) {
            APR_ARRAY_PUSH(names, const char *) = at->name;
            APR_ARRAY_PUSH(values, const char *) = at->value;
        }
    }
    if (rv == APR_SUCCESS && names->nelts > 0) {
        const char *params[3] = { cols[0], NULL, NULL };

        rv = join_list(c, names, "write attributes", &params[1], p);
        if (rv == APR_SUCCESS) {
            rv = join_list(c, values, "write attributes", &params[2], p);
        }
        if (rv == APR_SUCCESS) {
            rv = exec_params(c, NULL, "write attributes",
                             "INSERT INTO user_attributes (user_id, name,"
                             " value) SELECT $1::bigint, n, v"
                             " FROM unnest(" LIST_2 ", " LIST_3 ") AS t(n, v)"
                             " ON CONFLICT (user_id, name) DO UPDATE"
                             " SET value = EXCLUDED.value"
                             " WHERE user_attributes.value"
                             " IS DISTINCT FROM EXCLUDED.value",
                             3, params);
        }
    }
    if (rv == APR_SUCCESS) {
        rv = exec_list(c, cols[0], drop, "delete attributes",
                       "DELETE FROM user_attributes WHERE user_id = $1::bigint"
                       " AND name = ANY (" LIST_2 ")",
                       p);
    }
    if (rv == APR_SUCCESS) {
        rv = exec_list(c, cols[0], join, "add memberships",
                       "INSERT INTO user_groups (user_id, group_id, origin)"
                       " SELECT $1::bigint, g.id, '" RUS_ORIGIN_FRONTEND "'"
                       " FROM groups g WHERE g.name = ANY (" LIST_2 ")"
                       " ORDER BY g.id"
                       " ON CONFLICT (user_id, group_id) DO NOTHING",
                       p);
    }
    if (rv == APR_SUCCESS) {
        rv = exec_list(c, cols[0], leave, "remove memberships",
                       "DELETE FROM user_groups ug USING groups g"
                       " WHERE ug.user_id = $1::bigint"
                       " AND ug.origin = '" RUS_ORIGIN_FRONTEND "'"
                       " AND g.id = ug.group_id"
                       " AND g.name = ANY (" LIST_2 ")",
                       p);
    }
    return rv;
}

/* Without a profile, one autocommit statement (the hot path of a new
 * user); with one, a transaction: the row and its profile come into
 * being together or not at all, and a row another transaction inserted
 * first gets nothing of it (the caller syncs it if its policy says so). */
static apr_status_t pg_user_create(rus_conn_t *conn, const char *username,
                                   apr_int64_t now,
                                   const rus_profile_t *profile,
                                   rus_user_t *user, int *pcreated,
                                   apr_pool_t *p)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    char nb[21];
    const char *params[2] = { username, i64(nb, now) };
    PGresult *res = NULL;
    apr_status_t rv;
    rus_user_t got;
    int inserted = 0;

    if (profile != NULL) {
        rv = tx_begin(c, "BEGIN");
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    rv = run_stmt(c, ST_USER_INSERT, params, PGRES_TUPLES_OK, &res,
                  "create user");
    if (rv == APR_SUCCESS) {
        inserted = PQntuples(res) > 0;
        if (inserted) {
            rv = row_to_user(c, res, 0, 0, &got, p);
        }
        PQclear(res);
    }
    if (rv == APR_SUCCESS && inserted && profile != NULL) {
        rv = apply_profile(c, &got, profile, p);
        if (rv == APR_SUCCESS) {
            /* the row as this transaction wrote it */
            rv = pg_user_find(conn, username, &got, p);
        }
    }
    if (profile != NULL) {
        rv = tx_end(c, rv);
    }
    if (rv == APR_SUCCESS && !inserted) {
        /* Someone else's row (committed before ours could be): read it. */
        rv = pg_user_find(conn, username, &got, p);
        if (rv == APR_ENOENT) {
            rus_conn_set_error(conn, "user row vanished right after creation");
            rv = APR_EGENERAL;
        }
    }
    if (rv == APR_SUCCESS) {
        *user = got;
        *pcreated = inserted;
    }
    return rv;
}

static apr_status_t pg_user_touch(rus_conn_t *conn, apr_int64_t user_id,
                                  apr_int64_t now, apr_int64_t interval)
{
    char a[21], b[21], d[21];
    const char *params[3] = { i64(a, user_id), i64(b, now), i64(d, interval) };

    return write_stmt((pg_conn_t *)conn, ST_USER_TOUCH, params, NULL,
                      "record login");
}

/* One transaction: the user's row locked first (FOR NO KEY UPDATE: two
 * logins of one user serialise, and sessions and memberships that only
 * refer to the row do not wait), read with its profile as the last
 * writer committed it, then what differs written and the login
 * recorded. */
static apr_status_t pg_user_sync(rus_conn_t *conn, apr_int64_t user_id,
                                 const rus_profile_t *profile, apr_int64_t now,
                                 apr_int64_t interval)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    char a[21], b[21], d[21];
    const char *params[3] = { i64(a, user_id), i64(b, now), i64(d, interval) };
    PGresult *res = NULL;
    apr_pool_t *p = NULL;
    apr_status_t rv;
    rus_user_t cur;

    rv = tx_begin(c, "BEGIN");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_create(&p, conn->pool);
    /* The lock, then the read: a statement that waited for the lock
     * rereads the locked row, but not what its subqueries read (the
     * groups, the attributes) from its snapshot, taken before the other
     * writer committed. The next statement's snapshot has it. */
    rv = run_params(c,
                    "SELECT 1 FROM users WHERE id = $1::bigint"
                    " FOR NO KEY UPDATE",
                    1, params, PGRES_TUPLES_OK, &res, "lock user");
    if (rv == APR_SUCCESS) {
        rv = PQntuples(res) > 0 ? APR_SUCCESS : APR_ENOENT;
        PQclear(res);
    }
    if (rv == APR_SUCCESS) {
        rv = run_params(c,
                        "SELECT " USER_COLUMNS " FROM users u"
                        " WHERE u.id = $1::bigint",
                        1, params, PGRES_TUPLES_OK, &res, "find user");
    }
    if (rv == APR_SUCCESS) {
        rv = PQntuples(res) > 0 ? row_to_user(c, res, 0, 0, &cur, p)
                                : APR_ENOENT;
        PQclear(res);
    }
    if (rv == APR_SUCCESS) {
        rv = apply_profile(c, &cur, profile, p);
    }
    if (rv == APR_SUCCESS) {
        rv = write_stmt(c, ST_USER_TOUCH, params, NULL, "record login");
    }
    rv = tx_end(c, rv);
    apr_pool_destroy(p);
    return rv;
}

/* ==================================================================== */
/* sessions                                                             */

static apr_status_t pg_session_insert(rus_conn_t *conn, const char *token_hash,
                                      apr_int64_t user_id, const char *vhost,
                                      const char *ip, const char *user_agent,
                                      apr_int64_t now, apr_int64_t expires_at)
{
    char a[21], b[21], d[21];
    const char *params[7] = { token_hash,  i64(a, user_id),    vhost,
                              i64(b, now), i64(d, expires_at), ip,
                              user_agent };

    return write_stmt((pg_conn_t *)conn, ST_SESSION_INSERT, params, NULL,
                      "create session");
}

static apr_status_t pg_session_find(rus_conn_t *conn, const char *token_hash,
                                    rus_session_t *session, rus_user_t *user,
                                    apr_pool_t *p)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    const char *params[1] = { token_hash };
    PGresult *res = NULL;
    apr_status_t rv;
    rus_session_t got;
    rus_user_t owner;

    rv = run_stmt(c, ST_SESSION_FIND, params, PGRES_TUPLES_OK, &res,
                  "find session");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (PQntuples(res) > 0) {
        got.user_id = col_i64(res, 0, 0);
        got.vhost = col_str(res, 0, 1, p, "");
        got.created_at = col_i64(res, 0, 2);
        got.last_seen = col_i64(res, 0, 3);
        got.expires_at = col_i64(res, 0, 4);
        if (user != NULL) {
            rv = row_to_user(c, res, 0, 5, &owner, p);
        }
    }
    else {
        rv = APR_ENOENT;
    }
    PQclear(res);
    if (rv == APR_SUCCESS) {
        *session = got;
        if (user != NULL) {
            *user = owner;
        }
    }
    return rv;
}

static apr_status_t pg_session_touch(rus_conn_t *conn, const char *token_hash,
                                     apr_int64_t now)
{
    char a[21];
    const char *params[2] = { token_hash, i64(a, now) };

    return write_stmt((pg_conn_t *)conn, ST_SESSION_TOUCH, params, NULL,
                      "touch session");
}

/* Run the COUNTED() statement @a sql with @a n parameters; *pcount (if
 * given) gets the number of sessions it deleted. */
static apr_status_t run_counted(pg_conn_t *c, const char *sql, int n,
                                const char *const *params, int *pcount,
                                const char *what)
{
    PGresult *res = NULL;
    apr_status_t rv;

    rv = run_params(c, sql, n, params, PGRES_TUPLES_OK, &res, what);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (pcount != NULL) {
        *pcount = (int)col_i64(res, 0, 0);
    }
    PQclear(res);
    return APR_SUCCESS;
}

/* httpd's (a logout, a user switch) is the prepared statement alone; an
 * administrator's tool's is counted (COUNTED()). */
static apr_status_t pg_session_revoke(rus_conn_t *conn, const char *token_hash)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    const char *params[1] = { token_hash };

    if (conn->store->opts.admin) {
        return run_counted(
            c,
            COUNTED("DELETE FROM sessions WHERE token_hash = $1::text",
                    COUNTER_ADMIN),
            1, params, NULL, "revoke session");
    }
    return write_stmt(c, ST_SESSION_REVOKE, params, NULL, "revoke session");
}

/* As pg_session_revoke(). */
static apr_status_t pg_session_revoke_user(rus_conn_t *conn,
                                           apr_int64_t user_id)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    char a[21];
    const char *params[1] = { i64(a, user_id) };

    if (conn->store->opts.admin) {
        return run_counted(
            c,
            COUNTED("DELETE FROM sessions WHERE user_id = $1::bigint",
                    COUNTER_ADMIN),
            1, params, NULL, "revoke sessions of user");
    }
    return write_stmt(c, ST_SESSION_REVOKE_USER, params, NULL,
                      "revoke sessions of user");
}

static apr_status_t pg_session_purge(rus_conn_t *conn, apr_int64_t before,
                                     int limit, int *pcount)
{
    char a[21], b[21];
    const char *params[2] = { i64(a, before),
                              limit > 0 ? i64(b, limit) : NULL };
    int count = 0;
    apr_status_t rv;

    rv = write_stmt((pg_conn_t *)conn, ST_SESSION_PURGE, params, &count,
                    "purge sessions");
    if (rv == APR_SUCCESS) {
        *pcount = count;
    }
    return rv;
}

/* Reads row @a i of a result into the array element @a elt; a failure
 * is said on @a c. */
typedef apr_status_t pg_read_fn(pg_conn_t *c, const PGresult *res, int i,
                                void *elt, apr_pool_t *p);

/* The rows of @a res (cleared here), each read by @a fn into an element
 * of @a size bytes of a new array, *parr (set on success only). */
static apr_status_t rows_to_array(pg_conn_t *c, PGresult *res, int size,
                                  pg_read_fn *fn, apr_array_header_t **parr,
                                  apr_pool_t *p)
{
    apr_array_header_t *a = apr_array_make(p, PQntuples(res) + 1, size);
    apr_status_t rv = APR_SUCCESS;
    int i;

    for (i = 0; rv == APR_SUCCESS && i < PQntuples(res); i++) {
        rv = fn(c, res, i, apr_array_push(a), p);
    }
    PQclear(res);
    if (rv == APR_SUCCESS) {
        *parr = a;
    }
    return rv;
}

/* pg_read_fn: the first column as a string. */
static apr_status_t read_str(pg_conn_t *c, const PGresult *res, int i,
                             void *elt, apr_pool_t *p)
{
    (void)c;
    *(const char **)elt = col_str(res, i, 0, p, "");
    return APR_SUCCESS;
}

static apr_status_t pg_session_trim_user(rus_conn_t *conn, apr_int64_t user_id,
                                         int keep, const char *newest,
                                         apr_array_header_t **phashes,
                                         apr_pool_t *p)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    char a[21], b[21];
    const char *params[3] = { i64(a, user_id), i64(b, keep > 0 ? keep - 1 : 0),
                              newest };
    PGresult *res = NULL;
    apr_status_t rv;

    rv = run_stmt(c, ST_SESSION_TRIM, params, PGRES_TUPLES_OK, &res,
                  "trim sessions of user");
    if (rv == APR_SUCCESS) {
        rv = rows_to_array(c, res, sizeof(char *), read_str, phashes, p);
    }
    return rv;
}

/* ==================================================================== */
/* administration: rare, so each statement goes as PQexecParams         */

static apr_status_t pg_user_list(rus_conn_t *conn, apr_array_header_t **pusers,
                                 apr_pool_t *p)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    PGresult *res = NULL;
    apr_status_t rv;

    rv = run_params(c, "SELECT " USER_COLUMNS " FROM users u", 0, NULL,
                    PGRES_TUPLES_OK, &res, "list users");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return rows_to_array(c, res, sizeof(rus_user_t), read_user, pusers, p);
}

static apr_status_t pg_user_add(rus_conn_t *conn, const char *username,
                                apr_int64_t now, int active, rus_user_t *user,
                                apr_pool_t *p)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    char a[21];
    const char *params[3] = { username, active ? "true" : "false",
                              i64(a, now) };
    apr_status_t rv;

    rv = exec_params(c, NULL, "add user",
                     "INSERT INTO users (username, is_active, date_joined)"
                     " VALUES ($1::text, $2::boolean, $3::bigint)",
                     3, params);
    if (rv == APR_SUCCESS) {
        rv = pg_user_find(conn, username, user, p);
    }
    return rv;
}

/* One transaction, the user's row locked first: a disabled user never
 * keeps a live session, and what is reported is what it did. */
static apr_status_t pg_user_set_active(rus_conn_t *conn, apr_int64_t user_id,
                                       int active, rus_user_change_t *change)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    rus_user_change_t out = { 0, 0 };
    char a[21];
    const char *params[2] = { i64(a, user_id), active ? "true" : "false" };
    PGresult *res = NULL;
    apr_status_t rv;

    rv = tx_begin(c, "BEGIN");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = run_params(c, "SELECT 1 FROM users WHERE id = $1::bigint FOR UPDATE",
                    1, params, PGRES_TUPLES_OK, &res, "find user");
    if (rv == APR_SUCCESS) {
        rv = PQntuples(res) > 0 ? APR_SUCCESS : APR_ENOENT;
        PQclear(res);
    }
    /* The sessions first: their row locks are all taken before this
     * transaction takes the change log's lock (at the end of the
     * DELETE, its triggers). The other order deadlocks with a logout of
     * one of them, which holds its session row and waits for that lock
     * while this waits for the row. */
    if (rv == APR_SUCCESS && !active && conn->store->opts.admin) {
        rv = run_counted(
            c,
            COUNTED("DELETE FROM sessions WHERE user_id = $1::bigint",
                    COUNTER_DEACTIVATION),
            1, params, &out.sessions_ended, "revoke sessions of user");
    }
    else if (rv == APR_SUCCESS && !active) {
        rv = exec_params(c, &out.sessions_ended, "revoke sessions of user",
                         "DELETE FROM sessions WHERE user_id = $1::bigint", 1,
                         params);
    }
    if (rv == APR_SUCCESS) {
        rv = exec_params(c, &out.changed, "set user state",
                         "UPDATE users SET is_active = $2::boolean"
                         " WHERE id = $1::bigint AND is_active <> $2::boolean",
                         2, params);
    }
    rv = tx_end(c, rv);
    if (rv == APR_SUCCESS) {
        *change = out;
    }
    return rv;
}

static apr_status_t pg_user_delete(rus_conn_t *conn, apr_int64_t user_id)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    char a[21];
    const char *params[1] = { i64(a, user_id) };
    PGresult *res = NULL;
    apr_status_t rv;

    /* Sessions and memberships go with the row (ON DELETE CASCADE), in
     * the statement's own transaction. */
    if (!conn->store->opts.admin) {
        return exec_one(c, "delete user",
                        "DELETE FROM users WHERE id = $1::bigint", 1, params);
    }
    /* An administrator's tool counts the sessions, deleted first (and
     * counted) in the delete's transaction, the user's row locked before
     * as pg_user_set_active() does: no login adds one in between (its
     * insert waits for the row). */
    rv = tx_begin(c, "BEGIN");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = run_params(c, "SELECT 1 FROM users WHERE id = $1::bigint FOR UPDATE",
                    1, params, PGRES_TUPLES_OK, &res, "find user");
    if (rv == APR_SUCCESS) {
        rv = PQntuples(res) > 0 ? APR_SUCCESS : APR_ENOENT;
        PQclear(res);
    }
    if (rv == APR_SUCCESS) {
        rv = run_counted(
            c,
            COUNTED("DELETE FROM sessions WHERE user_id = $1::bigint",
                    COUNTER_ADMIN),
            1, params, NULL, "revoke sessions of user");
    }
    if (rv == APR_SUCCESS) {
        rv = exec_one(c, "delete user",
                      "DELETE FROM users WHERE id = $1::bigint", 1, params);
    }
    return tx_end(c, rv);
}

static apr_status_t pg_user_rename(rus_conn_t *conn, apr_int64_t user_id,
                                   const char *new_name)
{
    char a[21];
    const char *params[2] = { new_name, i64(a, user_id) };

    return exec_one((pg_conn_t *)conn, "rename user",
                    "UPDATE users SET username = $1::text"
                    " WHERE id = $2::bigint",
                    2, params);
}

#define GROUP_COLUMNS                                    \
    "g.id, g.name, (SELECT count(*) FROM user_groups ug" \
    " WHERE ug.group_id = g.id)"

static void row_to_group(const PGresult *res, int row, rus_group_t *g,
                         apr_pool_t *p)
{
    g->id = col_i64(res, row, 0);
    g->name = col_str(res, row, 1, p, "");
    g->members = (int)col_i64(res, row, 2);
}

/* pg_read_fn: a group's row. */
static apr_status_t read_group(pg_conn_t *c, const PGresult *res, int i,
                               void *elt, apr_pool_t *p)
{
    (void)c;
    row_to_group(res, i, elt, p);
    return APR_SUCCESS;
}

static apr_status_t pg_group_list(rus_conn_t *conn,
                                  apr_array_header_t **pgroups, apr_pool_t *p)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    PGresult *res = NULL;
    apr_status_t rv;

    rv = run_params(c, "SELECT " GROUP_COLUMNS " FROM groups g", 0, NULL,
                    PGRES_TUPLES_OK, &res, "list groups");
    if (rv == APR_SUCCESS) {
        rv = rows_to_array(c, res, sizeof(rus_group_t), read_group, pgroups, p);
    }
    return rv;
}

static apr_status_t pg_group_find(rus_conn_t *conn, const char *name,
                                  rus_group_t *group, apr_pool_t *p)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    const char *params[1] = { name };
    PGresult *res = NULL;
    apr_status_t rv;

    rv = run_params(c,
                    "SELECT " GROUP_COLUMNS
                    " FROM groups g WHERE g.name = $1::text",
                    1, params, PGRES_TUPLES_OK, &res, "find group");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (PQntuples(res) > 0) {
        row_to_group(res, 0, group, p);
    }
    else {
        rv = APR_ENOENT;
    }
    PQclear(res);
    return rv;
}

static apr_status_t pg_group_add(rus_conn_t *conn, const char *name)
{
    const char *params[1] = { name };

    return exec_params((pg_conn_t *)conn, NULL, "add group",
                       "INSERT INTO groups (name) VALUES ($1::text)", 1,
                       params);
}

static apr_status_t pg_group_delete(rus_conn_t *conn, apr_int64_t group_id)
{
    char a[21];
    const char *params[1] = { i64(a, group_id) };

    return exec_one((pg_conn_t *)conn, "delete group",
                    "DELETE FROM groups WHERE id = $1::bigint", 1, params);
}

static apr_status_t pg_group_members(rus_conn_t *conn, apr_int64_t group_id,
                                     apr_array_header_t **pnames, apr_pool_t *p)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    char a[21];
    const char *params[1] = { i64(a, group_id) };
    PGresult *res = NULL;
    apr_status_t rv;

    rv = run_params(c,
                    "SELECT u.username FROM user_groups ug"
                    " JOIN users u ON u.id = ug.user_id"
                    " WHERE ug.group_id = $1::bigint",
                    1, params, PGRES_TUPLES_OK, &res, "list members");
    if (rv == APR_SUCCESS) {
        rv = rows_to_array(c, res, sizeof(char *), read_str, pnames, p);
    }
    return rv;
}

/* One statement: a new membership is an administrator's, one the front
 * end gave becomes one (which its Replace keeps), and one that is an
 * administrator's already changes no row: APR_EEXIST. */
static apr_status_t pg_group_add_member(rus_conn_t *conn, apr_int64_t group_id,
                                        apr_int64_t user_id)
{
    char a[21], b[21];
    const char *params[2] = { i64(a, user_id), i64(b, group_id) };
    int changed = 0;
    apr_status_t rv;

    rv = exec_params((pg_conn_t *)conn, &changed, "add member",
                     "INSERT INTO user_groups (user_id, group_id, origin)"
                     " VALUES ($1::bigint, $2::bigint, '" RUS_ORIGIN_ADMIN "')"
                     " ON CONFLICT (user_id, group_id) DO UPDATE"
                     " SET origin = EXCLUDED.origin"
                     " WHERE user_groups.origin <> EXCLUDED.origin",
                     2, params);
    if (rv == APR_SUCCESS && changed == 0) {
        rus_conn_set_error(conn, "add member: already exists");
        rv = APR_EEXIST;
    }
    return rv;
}

static apr_status_t pg_group_remove_member(rus_conn_t *conn,
                                           apr_int64_t group_id,
                                           apr_int64_t user_id)
{
    char a[21], b[21];
    const char *params[2] = { i64(a, user_id), i64(b, group_id) };

    return exec_one((pg_conn_t *)conn, "remove member",
                    "DELETE FROM user_groups WHERE user_id = $1::bigint"
                    " AND group_id = $2::bigint",
                    2, params);
}

/* pg_read_fn: a membership's row (group name, origin). */
static apr_status_t read_membership(pg_conn_t *c, const PGresult *res, int i,
                                    void *elt, apr_pool_t *p)
{
    rus_membership_t *m = elt;

    (void)c;
    m->group = col_str(res, i, 0, p, "");
    m->origin = col_str(res, i, 1, p, RUS_ORIGIN_ADMIN);
    return APR_SUCCESS;
}

static apr_status_t pg_user_memberships(rus_conn_t *conn, apr_int64_t user_id,
                                        apr_array_header_t **prows,
                                        apr_pool_t *p)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    char a[21];
    const char *params[1] = { i64(a, user_id) };
    PGresult *res = NULL;
    apr_status_t rv;

    rv = run_params(c,
                    "SELECT g.name, ug.origin FROM user_groups ug"
                    " JOIN groups g ON g.id = ug.group_id"
                    " WHERE ug.user_id = $1::bigint",
                    1, params, PGRES_TUPLES_OK, &res, "list memberships");
    if (rv == APR_SUCCESS) {
        rv = rows_to_array(c, res, sizeof(rus_membership_t), read_membership,
                           prows, p);
    }
    return rv;
}

/* The columns of a session listing. */
#define SESSION_ROW_COLUMNS                                         \
    "s.token_hash, u.username, s.vhost, s.created_at, s.last_seen," \
    " s.expires_at, s.user_id, s.ip, s.user_agent"

/* The first nine columns of a session listing (SESSION_ROW_COLUMNS) into
 * @a row. */
static void session_row_read(const PGresult *res, int i, rus_session_row_t *row,
                             apr_pool_t *p);

/* pg_read_fn: a session listing's row. */
static apr_status_t read_session(pg_conn_t *c, const PGresult *res, int i,
                                 void *elt, apr_pool_t *p)
{
    (void)c;
    session_row_read(res, i, elt, p);
    return APR_SUCCESS;
}

static void session_row_read(const PGresult *res, int i, rus_session_row_t *row,
                             apr_pool_t *p)
{
    row->token_hash = col_str(res, i, 0, p, "");
    row->username = col_str(res, i, 1, p, "");
    row->session.vhost = col_str(res, i, 2, p, "");
    row->session.created_at = col_i64(res, i, 3);
    row->session.last_seen = col_i64(res, i, 4);
    row->session.expires_at = col_i64(res, i, 5);
    row->session.user_id = col_i64(res, i, 6);
    row->session.ip = col_str(res, i, 7, p, "");
    row->session.user_agent = col_str(res, i, 8, p, "");
}

static apr_status_t pg_session_list(rus_conn_t *conn, apr_int64_t user_id,
                                    apr_array_header_t **prows, apr_pool_t *p)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    char a[21];
    const char *params[1] = { i64(a, user_id) };
    PGresult *res = NULL;
    apr_status_t rv;

    rv = run_params(c,
                    "SELECT " SESSION_ROW_COLUMNS
                    " FROM sessions s JOIN users u ON u.id = s.user_id"
                    " WHERE $1::bigint <= 0 OR s.user_id = $1::bigint",
                    1, params, PGRES_TUPLES_OK, &res, "list sessions");
    if (rv == APR_SUCCESS) {
        rv = rows_to_array(c, res, sizeof(rus_session_row_t), read_session,
                           prows, p);
    }
    return rv;
}

static apr_status_t pg_session_revoke_all(rus_conn_t *conn, int *pcount)
{
    pg_conn_t *c = (pg_conn_t *)conn;

    if (conn->store->opts.admin) {
        return run_counted(c, COUNTED("DELETE FROM sessions", COUNTER_ADMIN), 0,
                           NULL, pcount, "revoke all sessions");
    }
    return exec_params(c, pcount, "revoke all sessions", "DELETE FROM sessions",
                       0, NULL);
}

/* A range on the primary key (bytewise, COLLATE "C") finds the hashes
 * that start with @a prefix: every one sorts at or after it and before the
 * prefix with its last character raised by one. */
static apr_status_t pg_session_find_prefix(rus_conn_t *conn, const char *prefix,
                                           int *pcount, rus_session_row_t *row,
                                           apr_pool_t *p)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    char *upper = apr_pstrdup(p, prefix);
    const char *params[2] = { prefix, upper };
    PGresult *res = NULL;
    apr_status_t rv;

    upper[strlen(upper) - 1]++;
    rv = run_params(c,
                    "SELECT " SESSION_ROW_COLUMNS ", count(*) OVER ()"
                    " FROM sessions s JOIN users u ON u.id = s.user_id"
                    " WHERE s.token_hash >= $1::text"
                    " AND s.token_hash < $2::text"
                    " ORDER BY s.token_hash LIMIT 1",
                    2, params, PGRES_TUPLES_OK, &res, "find sessions by id");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (PQntuples(res) > 0) {
        *pcount = (int)col_i64(res, 0, 9);
        session_row_read(res, 0, row, p);
    }
    else {
        *pcount = 0;
    }
    PQclear(res);
    return APR_SUCCESS;
}

static apr_status_t pg_backup(rus_conn_t *conn, const char *path, int overwrite,
                              apr_pool_t *ptemp)
{
    (void)path;
    (void)overwrite;
    (void)ptemp;
    rus_conn_set_error(conn,
                       "a PostgreSQL store is not copied to a file: use "
                       "pg_dump (or remoteuser-admin db copy to an SQLite "
                       "store)");
    return APR_ENOTIMPL;
}

static apr_status_t pg_info(rus_conn_t *conn, apr_int64_t now,
                            rus_store_info_t *info)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    char a[21];
    const char *params[1] = { i64(a, now) };
    PGresult *res = NULL;
    apr_status_t rv;

    rv = run_params(c,
                    "SELECT (SELECT version FROM rus_schema),"
                    " (SELECT count(*) FROM users),"
                    " (SELECT count(*) FROM groups),"
                    " (SELECT count(*) FROM sessions),"
                    " (SELECT count(*) FROM sessions"
                    " WHERE expires_at <= $1::bigint),"
                    " (SELECT count(*) FROM changes),"
                    " coalesce((SELECT value FROM counters"
                    " WHERE name = '" COUNTER_ADMIN "'), 0),"
                    " coalesce((SELECT value FROM counters"
                    " WHERE name = '" COUNTER_DEACTIVATION "'), 0)",
                    1, params, PGRES_TUPLES_OK, &res, "count rows");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    memset(info, 0, sizeof(*info));
    info->schema_version = (int)col_i64(res, 0, 0);
    info->users = col_i64(res, 0, 1);
    info->groups = col_i64(res, 0, 2);
    info->sessions = col_i64(res, 0, 3);
    info->sessions_expired = col_i64(res, 0, 4);
    info->changes = col_i64(res, 0, 5);
    info->revoked_admin = col_i64(res, 0, 6);
    info->revoked_deactivation = col_i64(res, 0, 7);
    PQclear(res);
    return APR_SUCCESS;
}

/* The highest id each sequence handed out (0: none yet). */
#define SEQ_HIGH_OF      " last_value - CASE WHEN is_called THEN 0 ELSE 1 END"
#define SEQ_HIGH_CHANGES "(SELECT" SEQ_HIGH_OF " FROM changes_id_seq)"
#define SEQ_HIGH_USERS   "(SELECT" SEQ_HIGH_OF " FROM users_id_seq)"
#define SEQ_HIGH_GROUPS  "(SELECT" SEQ_HIGH_OF " FROM groups_id_seq)"

/* What the unique indexes and foreign keys should make impossible, looked
 * for by sequential scans (an index that lost entries would hide its own
 * duplicates), and ids the sequences would hand out again. */
#define SQL_INTEGRITY                                                     \
    "SELECT 'duplicate username ' || quote_literal(username) FROM users"  \
    " GROUP BY username HAVING count(*) > 1"                              \
    " UNION ALL SELECT 'duplicate user id ' || id FROM users"             \
    " GROUP BY id HAVING count(*) > 1"                                    \
    " UNION ALL SELECT 'duplicate group name ' || quote_literal(name)"    \
    " FROM groups GROUP BY name HAVING count(*) > 1"                      \
    " UNION ALL SELECT 'duplicate group id ' || id FROM groups"           \
    " GROUP BY id HAVING count(*) > 1"                                    \
    " UNION ALL SELECT 'duplicate session ' || token_hash FROM sessions"  \
    " GROUP BY token_hash HAVING count(*) > 1"                            \
    " UNION ALL SELECT 'duplicate membership of user ' || user_id"        \
    " || ' in group ' || group_id FROM user_groups"                       \
    " GROUP BY user_id, group_id HAVING count(*) > 1"                     \
    " UNION ALL SELECT 'session ' || s.token_hash || ' of missing user '" \
    " || s.user_id FROM sessions s"                                       \
    " WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id)"    \
    " UNION ALL SELECT 'membership of missing user ' || m.user_id"        \
    " FROM user_groups m"                                                 \
    " WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = m.user_id)"    \
    " UNION ALL SELECT 'membership in missing group ' || m.group_id"      \
    " FROM user_groups m"                                                 \
    " WHERE NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = m.group_id)"  \
    " UNION ALL SELECT 'duplicate attribute ' || quote_literal(name)"     \
    " || ' of user ' || user_id FROM user_attributes"                     \
    " GROUP BY user_id, name HAVING count(*) > 1"                         \
    " UNION ALL SELECT 'attribute ' || quote_literal(a.name)"             \
    " || ' of missing user ' || a.user_id FROM user_attributes a"         \
    " WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = a.user_id)"    \
    " UNION ALL SELECT 'membership of user ' || user_id || ' in group '"  \
    " || group_id || ' of unknown origin ' || quote_literal(origin)"      \
    " FROM user_groups WHERE origin NOT IN ('" RUS_ORIGIN_ADMIN           \
    "', '" RUS_ORIGIN_FRONTEND "')"                                       \
    " UNION ALL SELECT 'duplicate change id ' || id FROM changes"         \
    " GROUP BY id HAVING count(*) > 1"                                    \
    " UNION ALL SELECT 'change id ' || max(id) || ' above its sequence'"  \
    " FROM changes HAVING max(id) > " SEQ_HIGH_CHANGES                    \
    " UNION ALL SELECT 'user id ' || max(id) || ' above its sequence'"    \
    " FROM users HAVING max(id) > " SEQ_HIGH_USERS                        \
    " UNION ALL SELECT 'group id ' || max(id) || ' above its sequence'"   \
    " FROM groups HAVING max(id) > " SEQ_HIGH_GROUPS

static apr_status_t pg_integrity(rus_conn_t *conn, int *pok,
                                 const char **presult, apr_pool_t *p)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    const char *result = NULL;
    PGresult *res = NULL;
    apr_status_t rv;
    int i;

    rv = tx_begin(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (rv == APR_SUCCESS) {
        rv = run_simple(c,
                        "SET LOCAL enable_indexscan = off;"
                        " SET LOCAL enable_indexonlyscan = off;"
                        " SET LOCAL enable_bitmapscan = off",
                        PGRES_COMMAND_OK, NULL, "integrity check");
    }
    if (rv == APR_SUCCESS) {
        rv = run_simple(c, SQL_INTEGRITY, PGRES_TUPLES_OK, &res,
                        "integrity check");
    }
    if (rv == APR_SUCCESS) {
        for (i = 0; i < PQntuples(res); i++) {
            const char *line = col_str(res, i, 0, p, "?");

            result = result ? apr_pstrcat(p, result, "\n", line, NULL) : line;
        }
        PQclear(res);
    }
    rv = tx_end(c, rv);
    if (rv == APR_SUCCESS) {
        *presult = result ? result : "ok";
        *pok = result == NULL;
    }
    return rv;
}

/* ==================================================================== */
/* what changed: the change log                                         */

static apr_status_t pg_changes_since(rus_conn_t *conn, apr_int64_t since,
                                     rus_change_fn *fn, void *baton,
                                     apr_int64_t *plast)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    apr_int64_t last = since;
    apr_status_t rv = APR_SUCCESS;
    char a[21];
    const char *params[2] = { NULL, CHANGES_BATCH };
    PGresult *res = NULL;
    rus_change_t ch;
    int i, n;

    do {
        params[0] = i64(a, last);
        rv = run_stmt(c, ST_CHANGES_SINCE, params, PGRES_TUPLES_OK, &res,
                      "list changes");
        if (rv != APR_SUCCESS) {
            return rv;
        }
        n = 0;
        for (i = 0; i < PQntuples(res); i++) {
            if (i == 0 && col_i64(res, 0, 0) < since) {
                /* the log went backwards: restored from a copy */
                *plast = col_i64(res, 0, 0);
                PQclear(res);
                return RUS_CHANGES_ENOUGH;
            }
            if (PQgetisnull(res, i, 1)) {
                continue; /* the row of a log with nothing after @a since */
            }
            n++;
            if (PQgetisnull(res, i, 2) && PQgetisnull(res, i, 3)) {
                /* about every answer (a TRUNCATE): as if told of all */
                rv = RUS_CHANGES_ENOUGH;
                last = col_i64(res, i, 1);
                break;
            }
            ch.id = col_i64(res, i, 1);
            ch.user_id = col_i64(res, i, 2);
            ch.session_hash =
                PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3);
            ch.at = col_i64(res, i, 4);
            rv = fn(baton, &ch);
            if (rv != APR_SUCCESS) {
                break;
            }
            last = ch.id;
        }
        PQclear(res);
    } while (rv == APR_SUCCESS && n == CHANGES_BATCH_ROWS);
    if (rv == RUS_CHANGES_ENOUGH) {
        /* The caller drops everything after this: the newest id now. */
        rv = run_simple(c, "SELECT COALESCE(max(id), 0) FROM changes",
                        PGRES_TUPLES_OK, &res, "find the last change");
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (col_i64(res, 0, 0) > last) {
            last = col_i64(res, 0, 0);
        }
        PQclear(res);
        *plast = last;
        return RUS_CHANGES_ENOUGH;
    }
    if (rv == APR_SUCCESS) {
        *plast = last;
    }
    return rv;
}

static apr_status_t pg_changes_prune(rus_conn_t *conn, apr_int64_t before,
                                     int *pcount)
{
    char a[21];
    const char *params[1] = { i64(a, before) };

    return exec_params((pg_conn_t *)conn, pcount, "prune changes",
                       "DELETE FROM changes WHERE at < $1::bigint", 1, params);
}

/* ==================================================================== */
/* the feed: one LISTEN connection per host                             */

/* Record the failure of @a what on the feed into *pmsg; the feed is to be
 * closed. */
static apr_status_t feed_fail(pg_feed_t *f, const PGresult *res,
                              const char *what, const char **pmsg)
{
    const char *msg = res ? PQresultErrorMessage(res) : NULL;

    if (msg == NULL || *msg == '\0') {
        msg = PQerrorMessage(f->pg);
    }
    *pmsg = apr_psprintf(f->pool, "%s: %s: %s", what, f->shown,
                         one_line_p(f->pool, msg, f->location));
    return RUS_STORE_EUNREACHABLE;
}

static void pg_feed_close(rus_feed_t *feed)
{
    pg_feed_t *f = (pg_feed_t *)feed;

    if (f != NULL && f->pg != NULL) {
        PQfinish(f->pg);
        f->pg = NULL;
    }
}

static apr_status_t pg_feed_open(const rus_store_t *store, rus_feed_t **pfeed,
                                 apr_pool_t *p, const char **pmsg)
{
    pg_feed_t *f = apr_pcalloc(p, sizeof(*f));
    PGresult *res;

    f->base.backend = &rus_backend_pg;
    f->pool = p;
    f->location = apr_pstrdup(p, store->location);
    f->shown = pg_display(store->location, p);
    f->pg = pg_open(store, 1, p);
    if (f->pg == NULL || PQstatus(f->pg) != CONNECTION_OK) {
        *pmsg = apr_psprintf(p, "cannot connect to %s: %s", f->shown,
                             f->pg ? one_line_p(p, PQerrorMessage(f->pg),
                                                store->location)
                                   : "out of memory");
        pg_feed_close(&f->base);
        return RUS_STORE_EUNREACHABLE;
    }
    res = PQexec(f->pg, apr_pstrcat(p, settings_sql(p, store),
                                    "; LISTEN " CHANNEL, NULL));
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        apr_status_t rv = feed_fail(f, res, "listen", pmsg);

        PQclear(res);
        pg_feed_close(&f->base);
        return rv;
    }
    PQclear(res);
    *pfeed = &f->base;
    return APR_SUCCESS;
}

static apr_status_t pg_feed_wait(rus_feed_t *feed, int timeout_ms,
                                 apr_int64_t *plast, const char **pmsg)
{
    pg_feed_t *f = (pg_feed_t *)feed;
    PGnotify *note;
    PGresult *res;
    struct pollfd pfd;
    int got = 0, rc;

    if (f->pg == NULL || PQstatus(f->pg) != CONNECTION_OK) {
        return feed_fail(f, NULL, "listen", pmsg);
    }
    /* Notifications read with an earlier result wait in libpq already. */
    while ((note = PQnotifies(f->pg)) != NULL) {
        PQfreemem(note);
        got = 1;
    }
    if (!got && timeout_ms > 0) {
        pfd.fd = PQsocket(f->pg);
        pfd.events = POLLIN;
        pfd.revents = 0;
        rc = poll(&pfd, 1, timeout_ms);
        if (rc < 0 && errno != EINTR) {
            apr_status_t os = APR_FROM_OS_ERROR(errno);

            *pmsg = apr_psprintf(f->pool, "wait for notifications: %s: %pm",
                                 f->shown, &os);
            return RUS_STORE_EUNREACHABLE;
        }
        if (rc > 0 && !PQconsumeInput(f->pg)) {
            return feed_fail(f, NULL, "listen", pmsg);
        }
        while ((note = PQnotifies(f->pg)) != NULL) {
            PQfreemem(note);
        }
    }
    /* After a notification or not: notifications are not replayed to a
     * feed that was not connected, and the read is the fallback. */
    res = PQexec(f->pg, "SELECT COALESCE(max(id), 0) FROM changes");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        apr_status_t rv = feed_fail(f, res, "read the last change", pmsg);

        PQclear(res);
        return rv;
    }
    *plast = col_i64(res, 0, 0);
    PQclear(res);
    return APR_SUCCESS;
}

/* ==================================================================== */
/* a whole store copied (rus_store_copy())                              */

/* Run @a sql in single-row mode, calling @a each for every row. */
static apr_status_t
dump_query(pg_conn_t *c, const char *sql,
           apr_status_t (*each)(pg_conn_t *c, const PGresult *res,
                                rus_store_row_t *row, apr_pool_t *p),
           rus_row_fn *fn, void *baton, apr_pool_t *p)
{
    apr_status_t rv = APR_SUCCESS, frv = APR_SUCCESS;
    rus_store_row_t row;
    PGresult *res;
    apr_pool_t *rp = NULL;

    if (!PQsendQuery(c->pg, sql) || !PQsetSingleRowMode(c->pg)) {
        return conn_fail(c, NULL, "dump");
    }
    apr_pool_create(&rp, p);
    while ((res = PQgetResult(c->pg)) != NULL) {
        ExecStatusType st = PQresultStatus(res);

        if (st == PGRES_SINGLE_TUPLE && frv == APR_SUCCESS) {
            memset(&row, 0, sizeof(row));
            apr_pool_clear(rp);
            frv = each(c, res, &row, rp);
            if (frv == APR_SUCCESS) {
                frv = fn(baton, &row);
            }
        }
        else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK
                 && rv == APR_SUCCESS) {
            rv = conn_fail(c, res, "dump");
        }
        PQclear(res);
    }
    apr_pool_destroy(rp);
    return rv != APR_SUCCESS ? rv : frv;
}

/* Its groups and attributes NULL: they come as their own rows. */
static apr_status_t dump_user(pg_conn_t *c, const PGresult *res,
                              rus_store_row_t *row, apr_pool_t *p)
{
    apr_status_t rv;

    row->kind = RUS_ROW_USER;
    rv = row_to_user(c, res, 0, 0, &row->user, p);
    row->user.groups = NULL;
    row->user.frontend_groups = NULL;
    row->user.attrs = NULL;
    return rv;
}

static apr_status_t dump_group(pg_conn_t *c, const PGresult *res,
                               rus_store_row_t *row, apr_pool_t *p)
{
    (void)c;
    row->kind = RUS_ROW_GROUP;
    row->group.id = col_i64(res, 0, 0);
    row->group.name = col_str(res, 0, 1, p, "");
    return APR_SUCCESS;
}

static apr_status_t dump_member(pg_conn_t *c, const PGresult *res,
                                rus_store_row_t *row, apr_pool_t *p)
{
    (void)c;
    row->kind = RUS_ROW_MEMBER;
    row->user_id = col_i64(res, 0, 0);
    row->group_id = col_i64(res, 0, 1);
    row->origin = col_str(res, 0, 2, p, RUS_ORIGIN_ADMIN);
    return APR_SUCCESS;
}

static apr_status_t dump_attr(pg_conn_t *c, const PGresult *res,
                              rus_store_row_t *row, apr_pool_t *p)
{
    (void)c;
    row->kind = RUS_ROW_ATTR;
    row->user_id = col_i64(res, 0, 0);
    row->attr.name = col_str(res, 0, 1, p, "");
    row->attr.value = col_str(res, 0, 2, p, "");
    return APR_SUCCESS;
}

static apr_status_t dump_session(pg_conn_t *c, const PGresult *res,
                                 rus_store_row_t *row, apr_pool_t *p)
{
    (void)c;
    row->kind = RUS_ROW_SESSION;
    row->session.token_hash = col_str(res, 0, 0, p, "");
    row->session.username = NULL;
    row->session.session.user_id = col_i64(res, 0, 1);
    row->session.session.vhost = col_str(res, 0, 2, p, "");
    row->session.session.created_at = col_i64(res, 0, 3);
    row->session.session.last_seen = col_i64(res, 0, 4);
    row->session.session.expires_at = col_i64(res, 0, 5);
    row->session.session.ip = col_str(res, 0, 6, p, "");
    row->session.session.user_agent = col_str(res, 0, 7, p, "");
    return APR_SUCCESS;
}

/* Every row from one snapshot, in rus_row_kind_e order. */
static apr_status_t pg_dump(rus_conn_t *conn, rus_row_fn *fn, void *baton,
                            apr_pool_t *p)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    apr_status_t rv;

    rv = tx_begin(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (rv == APR_SUCCESS) {
        rv = no_statement_timeout(c);
    }
    if (rv == APR_SUCCESS) {
        rv = dump_query(c,
                        "SELECT id, username, is_active, date_joined,"
                        " last_login, NULL::text, NULL::text, email,"
                        " first_name, last_name, NULL::text"
                        " FROM users ORDER BY id",
                        dump_user, fn, baton, p);
    }
    if (rv == APR_SUCCESS) {
        rv = dump_query(c, "SELECT id, name FROM groups ORDER BY id",
                        dump_group, fn, baton, p);
    }
    if (rv == APR_SUCCESS) {
        rv = dump_query(c,
                        "SELECT user_id, group_id, origin FROM user_groups"
                        " ORDER BY user_id, group_id",
                        dump_member, fn, baton, p);
    }
    if (rv == APR_SUCCESS) {
        rv = dump_query(c,
                        "SELECT token_hash, user_id, vhost, created_at,"
                        " last_seen, expires_at, ip, user_agent"
                        " FROM sessions ORDER BY token_hash",
                        dump_session, fn, baton, p);
    }
    if (rv == APR_SUCCESS) {
        rv = dump_query(c,
                        "SELECT user_id, name, value FROM user_attributes"
                        " ORDER BY user_id, name",
                        dump_attr, fn, baton, p);
    }
    /* read only: nothing to commit, either way */
    return tx_end(c, rv);
}

/* The load's transaction, on a store found empty under its locks. The
 * triggers stay on: the memberships loaded are logged as changes, which
 * only makes the target's caches (empty, or of users that did not exist)
 * drop those users. */
static apr_status_t pg_load_begin(rus_conn_t *conn)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    PGresult *res = NULL;
    apr_status_t rv;

    rv = tx_begin(c, "BEGIN");
    if (rv == APR_SUCCESS) {
        rv = no_statement_timeout(c);
    }
    if (rv == APR_SUCCESS) {
        rv = run_simple(c,
                        "LOCK TABLE users, groups, user_groups, sessions,"
                        " user_attributes IN SHARE ROW EXCLUSIVE MODE",
                        PGRES_COMMAND_OK, NULL, "lock the tables");
    }
    if (rv == APR_SUCCESS) {
        rv = run_simple(c,
                        "SELECT (SELECT count(*) FROM users),"
                        " (SELECT count(*) FROM groups),"
                        " (SELECT count(*) FROM sessions)",
                        PGRES_TUPLES_OK, &res, "count rows");
    }
    if (rv == APR_SUCCESS) {
        apr_int64_t users = col_i64(res, 0, 0), groups = col_i64(res, 0, 1),
                    sessions = col_i64(res, 0, 2);

        PQclear(res);
        if (users || groups || sessions) {
            rus_conn_set_error(conn,
                               "%s is not empty: it holds %" APR_INT64_T_FMT
                               " users, %" APR_INT64_T_FMT
                               " groups and %" APR_INT64_T_FMT " sessions",
                               c->shown, users, groups, sessions);
            rv = APR_EEXIST;
        }
    }
    if (rv != APR_SUCCESS) {
        tx_end(c, rv);
        return rv;
    }
    c->copying = 0;
    c->copied = 0;
    if (c->load_pool == NULL) {
        apr_pool_create(&c->load_pool, conn->pool);
    }
    return APR_SUCCESS;
}

/* The COPY that loads rows of @a kind (rus_row_kind_e), in text format;
 * identity columns take the values given, as with OVERRIDING SYSTEM
 * VALUE. */
static const char *copy_sql(int kind)
{
    switch (kind) {
    case RUS_ROW_USER:
        return "COPY users (id, username, is_active, date_joined, last_login,"
               " email, first_name, last_name) FROM STDIN";
    case RUS_ROW_GROUP:
        return "COPY groups (id, name) FROM STDIN";
    case RUS_ROW_MEMBER:
        return "COPY user_groups (user_id, group_id, origin) FROM STDIN";
    case RUS_ROW_ATTR:
        return "COPY user_attributes (user_id, name, value) FROM STDIN";
    default:
        return "COPY sessions (token_hash, user_id, vhost, created_at,"
               " last_seen, expires_at, ip, user_agent) FROM STDIN";
    }
}

/* End the load's open COPY, if any: with @a abort, make it fail (the
 * transaction is rolled back after). Its outcome, which is where a row
 * the server refused (a duplicate, a missing user) shows. */
static apr_status_t copy_end(pg_conn_t *c, int abort)
{
    apr_status_t rv = APR_SUCCESS;
    PGresult *res;

    if (!c->copying) {
        return APR_SUCCESS;
    }
    c->copying = 0;
    if (PQputCopyEnd(c->pg, abort ? "load abandoned" : NULL) != 1) {
        return conn_fail(c, NULL, "load");
    }
    while ((res = PQgetResult(c->pg)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && rv == APR_SUCCESS
            && !abort) {
            rv = conn_fail(c, res, "load");
        }
        PQclear(res);
    }
    return rv;
}

/* @a v as a COPY text field: backslash, tab, newline and carriage return
 * escaped; NULL as \N. */
static const char *copy_text(apr_pool_t *p, const char *v)
{
    apr_size_t n = 0;
    const char *s;
    char *out, *w;

    if (v == NULL) {
        return "\\N";
    }
    for (s = v; *s != '\0'; s++) {
        n += (*s == '\\' || *s == '\t' || *s == '\n' || *s == '\r') ? 2 : 1;
    }
    out = w = apr_palloc(p, n + 1);
    for (s = v; *s != '\0'; s++) {
        switch (*s) {
        case '\\':
            *w++ = '\\';
            *w++ = '\\';
            break;
        case '\t':
            *w++ = '\\';
            *w++ = 't';
            break;
        case '\n':
            *w++ = '\\';
            *w++ = 'n';
            break;
        case '\r':
            *w++ = '\\';
            *w++ = 'r';
            break;
        default:
            *w++ = *s;
        }
    }
    *w = '\0';
    return out;
}

/* @a v, or "" for NULL (a column NOT NULL DEFAULT ''). */
static const char *or_empty(const char *v)
{
    return v != NULL ? v : "";
}

/* Rows go to the server by COPY, one per row kind (the dump gives them
 * kind by kind): a row the server refuses fails the load at the next
 * change of kind or at load_end, and the whole load is rolled back. */
static apr_status_t pg_load_row(rus_conn_t *conn, const rus_store_row_t *row)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    apr_pool_t *p = c->load_pool;
    const char *line;
    PGresult *res;
    apr_status_t rv;

    if (p == NULL || !c->in_transaction) {
        rus_conn_set_error(conn, "load: no load begun");
        return APR_EINVAL;
    }
    if (row->kind < RUS_ROW_USER || row->kind > RUS_ROW_ATTR) {
        rus_conn_set_error(conn, "load: unknown row kind %d", (int)row->kind);
        return APR_EINVAL;
    }
    if (c->copying != (int)row->kind) {
        rv = copy_end(c, 0);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        res = PQexec(c->pg, copy_sql(row->kind));
        if (PQresultStatus(res) != PGRES_COPY_IN) {
            rv = conn_fail(c, res, "load");
            PQclear(res);
            return rv;
        }
        PQclear(res);
        c->copying = (int)row->kind;
    }
    if (++c->copied % 1024 == 0) {
        apr_pool_clear(p);
    }
    switch (row->kind) {
    case RUS_ROW_USER:
        line =
            apr_psprintf(p,
                         "%" APR_INT64_T_FMT "\t%s\t%s\t%" APR_INT64_T_FMT
                         "\t%s\t%s\t%s\t%s\n",
                         row->user.id, copy_text(p, row->user.username),
                         row->user.is_active ? "t" : "f", row->user.date_joined,
                         row->user.last_login
                             ? apr_psprintf(p, "%" APR_INT64_T_FMT,
                                            row->user.last_login)
                             : "\\N",
                         copy_text(p, or_empty(row->user.email)),
                         copy_text(p, or_empty(row->user.first_name)),
                         copy_text(p, or_empty(row->user.last_name)));
        break;
    case RUS_ROW_GROUP:
        line = apr_psprintf(p, "%" APR_INT64_T_FMT "\t%s\n", row->group.id,
                            copy_text(p, row->group.name));
        break;
    case RUS_ROW_MEMBER:
        /* a source without origins (none before #19) has an
         * administrator's memberships only */
        line =
            apr_psprintf(p, "%" APR_INT64_T_FMT "\t%" APR_INT64_T_FMT "\t%s\n",
                         row->user_id, row->group_id,
                         copy_text(p, row->origin ? row->origin
                                                  : RUS_ORIGIN_ADMIN));
        break;
    case RUS_ROW_ATTR:
        line = apr_psprintf(p, "%" APR_INT64_T_FMT "\t%s\t%s\n", row->user_id,
                            copy_text(p, row->attr.name),
                            copy_text(p, row->attr.value));
        break;
    default:
        line =
            apr_psprintf(p,
                         "%s\t%" APR_INT64_T_FMT "\t%s\t%" APR_INT64_T_FMT
                         "\t%" APR_INT64_T_FMT "\t%" APR_INT64_T_FMT
                         "\t%s\t%s\n",
                         copy_text(p, row->session.token_hash),
                         row->session.session.user_id,
                         copy_text(p, row->session.session.vhost),
                         row->session.session.created_at,
                         row->session.session.last_seen,
                         row->session.session.expires_at,
                         copy_text(p, or_empty(row->session.session.ip)),
                         copy_text(p,
                                   or_empty(row->session.session.user_agent)));
        break;
    }
    if (PQputCopyData(c->pg, line, (int)strlen(line)) != 1) {
        return conn_fail(c, NULL, "load");
    }
    return APR_SUCCESS;
}

/* Ids handed out later come after the loaded ones (and after any the
 * sequence handed out before). */
#define SQL_LOAD_SEQUENCES                                   \
    "SELECT setval(pg_get_serial_sequence('users', 'id'),"   \
    " GREATEST((SELECT COALESCE(max(id), 0) FROM users),"    \
    " (SELECT last_value FROM users_id_seq)));"              \
    " SELECT setval(pg_get_serial_sequence('groups', 'id')," \
    " GREATEST((SELECT COALESCE(max(id), 0) FROM groups),"   \
    " (SELECT last_value FROM groups_id_seq)))"

static apr_status_t pg_load_end(rus_conn_t *conn, int commit)
{
    pg_conn_t *c = (pg_conn_t *)conn;
    apr_status_t rv;

    rv = copy_end(c, !commit);
    if (!commit) {
        rv = APR_EGENERAL; /* roll back */
    }
    if (rv == APR_SUCCESS) {
        rv = run_simple(c, SQL_LOAD_SEQUENCES, PGRES_TUPLES_OK, NULL,
                        "move the id sequences");
    }
    rv = tx_end(c, rv);
    if (c->load_pool != NULL) {
        apr_pool_destroy(c->load_pool);
        c->load_pool = NULL;
    }
    return commit ? rv : APR_SUCCESS;
}

const rus_backend_t rus_backend_pg = {
    .scheme = "postgresql",
    .alias = "postgres",
    .location_is_path = 0,
    .example = "//USER@HOST/DBNAME",
    .restore_hint = "restore a PostgreSQL store with pg_restore or "
                    "remoteuser-admin db copy into an empty database",
    .check = pg_check,
    .prepare = pg_prepare,
    .connect = pg_connect,
    .validate = pg_validate,
    .disconnect = pg_disconnect,
    .user_find = pg_user_find,
    .user_create = pg_user_create,
    .user_touch = pg_user_touch,
    .user_sync = pg_user_sync,
    .session_insert = pg_session_insert,
    .session_find = pg_session_find,
    .session_touch = pg_session_touch,
    .session_revoke = pg_session_revoke,
    .session_revoke_user = pg_session_revoke_user,
    .session_purge = pg_session_purge,
    .session_trim_user = pg_session_trim_user,
    .user_list = pg_user_list,
    .user_add = pg_user_add,
    .user_set_active = pg_user_set_active,
    .user_delete = pg_user_delete,
    .user_rename = pg_user_rename,
    .group_list = pg_group_list,
    .group_find = pg_group_find,
    .group_add = pg_group_add,
    .group_delete = pg_group_delete,
    .group_members = pg_group_members,
    .group_add_member = pg_group_add_member,
    .group_remove_member = pg_group_remove_member,
    .user_memberships = pg_user_memberships,
    .session_list = pg_session_list,
    .session_revoke_all = pg_session_revoke_all,
    .session_find_prefix = pg_session_find_prefix,
    .backup = pg_backup,
    .info = pg_info,
    .integrity = pg_integrity,
    .checkpoint = NULL, /* no log of ours to empty */
    .watch = NULL,      /* shared: the host's board (rus_board.h) */
    .watch_mark = NULL,
    .changes_since = pg_changes_since,
    .changes_prune = pg_changes_prune,
    .feed_open = pg_feed_open,
    .feed_wait = pg_feed_wait,
    .feed_close = pg_feed_close,
    .dump = pg_dump,
    .load_begin = pg_load_begin,
    .load_row = pg_load_row,
    .load_end = pg_load_end,
    .display = pg_display,
};
