/* Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 */

/* The user's own sessions (the remoteuser-sessions page and its JSON),
 * remoteuser-info's JSON, the CSRF tokens and session references of the
 * page, and the Auto rule of RemoteUserUnauthenticatedAction. No httpd
 * headers here: the glue hands the data in and writes out the text. */

#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <apr_time.h>

#include "rus_profile.h"
#include "rus_selfsvc.h"
#include "rus_token.h"
#include "rus_username.h"

/* ---- HMAC-SHA-256 (RFC 2104) ------------------------------------------ */

/* SHA-256's block size, in bytes. */
#define HMAC_BLOCK 64

void rus_hmac_sha256(unsigned char out[32], const void *key, apr_size_t klen,
                     const void *msg, apr_size_t mlen, apr_pool_t *ptemp)
{
    unsigned char k[HMAC_BLOCK], inner[32];
    unsigned char outer[HMAC_BLOCK + 32];
    unsigned char *buf;
    apr_size_t i;

    memset(k, 0, sizeof(k));
    if (klen > HMAC_BLOCK) {
        rus_sha256(k, key, klen);
    }
    else if (klen > 0) {
        memcpy(k, key, klen);
    }
    /* inner: H((K ^ ipad) || msg) */
    buf = apr_palloc(ptemp, HMAC_BLOCK + mlen);
    for (i = 0; i < HMAC_BLOCK; i++) {
        buf[i] = (unsigned char)(k[i] ^ 0x36);
    }
    if (mlen > 0) {
        memcpy(buf + HMAC_BLOCK, msg, mlen);
    }
    rus_sha256(inner, buf, HMAC_BLOCK + mlen);
    /* outer: H((K ^ opad) || inner) */
    for (i = 0; i < HMAC_BLOCK; i++) {
        outer[i] = (unsigned char)(k[i] ^ 0x5c);
    }
    memcpy(outer + HMAC_BLOCK, inner, sizeof(inner));
    rus_sha256(out, outer, sizeof(outer));
    /* the key is a live session's cookie token: leave nothing of it */
    memset(buf, 0, HMAC_BLOCK + mlen);
    memset(k, 0, sizeof(k));
    memset(inner, 0, sizeof(inner));
    memset(outer, 0, sizeof(outer));
}

/* Lowercase hex of the first @a nhex / 2 bytes of HMAC-SHA-256(@a token,
 * @a msg), from @a p; NULL for a missing or empty token, so that nothing
 * derived from "no token" can ever match (rus_selfsvc_equal()). */
static const char *hmac_hex(apr_pool_t *p, const char *token, const char *msg,
                            apr_size_t nhex)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[32];
    char *s;
    apr_size_t i;

    if (token == NULL || token[0] == '\0') {
        return NULL;
    }
    rus_hmac_sha256(mac, token, strlen(token), msg, strlen(msg), p);
    s = apr_palloc(p, nhex + 1);
    for (i = 0; i < nhex; i++) {
        s[i] = hex[(i % 2 == 0) ? (mac[i / 2] >> 4) : (mac[i / 2] & 0x0f)];
    }
    s[nhex] = '\0';
    memset(mac, 0, sizeof(mac));
    return s;
}

const char *rus_selfsvc_csrf(apr_pool_t *p, const char *token)
{
    return hmac_hex(p, token, "remoteuser-sessions csrf", RUS_SELFSVC_CSRF_LEN);
}

const char *rus_selfsvc_ref(apr_pool_t *p, const char *token, const char *hash)
{
    if (hash == NULL) {
        return NULL;
    }
    return hmac_hex(p, token,
                    apr_pstrcat(p, "remoteuser-sessions ref ", hash, NULL),
                    RUS_SELFSVC_REF_LEN);
}

int rus_selfsvc_equal(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return 0;
    }
    return rus_secret_equal(a, b);
}

/* ---- characters --------------------------------------------------------- */

/* What the character at @a s (@a len bytes left, len > 0) is. */
typedef enum {
    CH_OK = 0,  /* well-formed UTF-8, not a control character */
    CH_CONTROL, /* C0, DEL or C1 (U+0080-U+009F) */
    CH_BAD      /* a byte that does not start a well-formed sequence */
} ch_kind_e;

/* Classify the character at @a s by rus_text_check(), the one judge of
 * text; *pn gets its length in bytes (1 for a bad byte). */
static ch_kind_e char_at(const unsigned char *s, apr_size_t len, apr_size_t *pn)
{
    apr_size_t n;

    if (s[0] < 0x80) {
        n = 1;
    }
    else if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        n = 2;
    }
    else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        n = 3;
    }
    else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        n = 4;
    }
    else {
        *pn = 1;
        return CH_BAD;
    }
    if (n > len) {
        *pn = 1;
        return CH_BAD;
    }
    switch (rus_text_check((const char *)s, n)) {
    case RUS_NAME_OK:
        *pn = n;
        return CH_OK;
    case RUS_NAME_CONTROL:
        *pn = n;
        return CH_CONTROL;
    default:
        *pn = 1;
        return CH_BAD;
    }
}

const char *rus_ua_clean(apr_pool_t *p, const char *ua)
{
    const unsigned char *s = (const unsigned char *)ua;
    apr_size_t len, off = 0, w = 0, n;
    char *out;

    if (ua == NULL) {
        return "";
    }
    len = strlen(ua);
    out = apr_palloc(p, RUS_UA_MAX + 1);
    while (off < len) {
        switch (char_at(s + off, len - off, &n)) {
        case CH_OK:
            if (w + n > RUS_UA_MAX) {
                goto leave;
            }
            memcpy(out + w, s + off, n);
            w += n;
            break;
        case CH_CONTROL:
            break;
        case CH_BAD:
            if (w + 1 > RUS_UA_MAX) {
                goto leave;
            }
            out[w++] = '?';
            break;
        }
        off += n;
    }
leave:
    out[w] = '\0';
    return out;
}

/* ---- output --------------------------------------------------------------- */

/* Text built in pieces, joined once at the end. */
typedef struct out_t {
    apr_pool_t *p;              /* the pieces' */
    apr_array_header_t *pieces; /* const char * */
} out_t;

/* A new, empty text from @a p. */
static void out_init(out_t *out, apr_pool_t *p)
{
    out->p = p;
    out->pieces = apr_array_make(p, 64, sizeof(const char *));
}

/* Append @a s (not copied: it must live as long as out->p). */
static void put(out_t *out, const char *s)
{
    APR_ARRAY_PUSH(out->pieces, const char *) = s;
}

/* The text so far, from out->p. */
static const char *out_text(out_t *out)
{
    return apr_array_pstrcat(out->p, out->pieces, 0);
}

/* @a s for HTML text and quoted attribute values: & < > " ' as
 * character references; control characters dropped and bytes that are not
 * UTF-8 shown as '?' (values were checked before; this is the last line).
 * NULL is "". */
static const char *html_esc(apr_pool_t *p, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t len, off = 0, w = 0, n;
    char *buf;

    if (s == NULL) {
        return "";
    }
    len = strlen(s);
    buf = apr_palloc(p, len * 6 + 1); /* "&quot;" is the longest */
    while (off < len) {
        ch_kind_e kind = char_at(u + off, len - off, &n);
        const char *ref = NULL;

        if (kind == CH_BAD) {
            buf[w++] = '?';
        }
        else if (kind == CH_OK) {
            switch (u[off]) {
            case '&':
                ref = "&amp;";
                break;
            case '<':
                ref = "&lt;";
                break;
            case '>':
                ref = "&gt;";
                break;
            case '"':
                ref = "&quot;";
                break;
            case '\'':
                ref = "&#39;";
                break;
            default:
                memcpy(buf + w, u + off, n);
                w += n;
            }
            if (ref != NULL) {
                memcpy(buf + w, ref, strlen(ref));
                w += strlen(ref);
            }
        }
        off += n;
    }
    buf[w] = '\0';
    return buf;
}

/* @a s as a JSON string, quotes included (RFC 8259): " and \ escaped,
 * control characters (C0, DEL, C1) as \u00XX, < > & and U+2028/U+2029 as
 * \uXXXX too (the text stays inert if it ever lands in HTML or a script),
 * bytes that are not UTF-8 as \ufffd. NULL is null. */
static const char *json_str(apr_pool_t *p, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t len, off = 0, w = 0, n;
    char *buf;

    if (s == NULL) {
        return "null";
    }
    len = strlen(s);
    /* at most 6 bytes out per byte in ("\u00XX"), plus the quotes */
    buf = apr_palloc(p, len * 6 + 3);
    buf[w++] = '"';
    while (off < len) {
        ch_kind_e kind = char_at(u + off, len - off, &n);
        unsigned long cp = u[off];

        if (kind == CH_BAD) {
            memcpy(buf + w, "\\ufffd", 6);
            w += 6;
        }
        else if (kind == CH_CONTROL) {
            if (n == 2) {
                cp =
                    ((unsigned long)(u[off] & 0x1F) << 6) | (u[off + 1] & 0x3F);
            }
            apr_snprintf(buf + w, 7, "\\u%04lx", cp);
            w += 6;
        }
        else if (cp == '"' || cp == '\\') {
            buf[w++] = '\\';
            buf[w++] = (char)cp;
        }
        else if (cp == '<' || cp == '>' || cp == '&') {
            apr_snprintf(buf + w, 7, "\\u%04lx", cp);
            w += 6;
        }
        else if (n == 3 && u[off] == 0xE2 && u[off + 1] == 0x80
                 && (u[off + 2] == 0xA8 || u[off + 2] == 0xA9)) {
            memcpy(buf + w, u[off + 2] == 0xA8 ? "\\u2028" : "\\u2029", 6);
            w += 6;
        }
        else {
            memcpy(buf + w, u + off, n);
            w += n;
        }
        off += n;
    }
    buf[w++] = '"';
    buf[w] = '\0';
    return buf;
}

/* A JSON number. */
static const char *json_int(apr_pool_t *p, apr_int64_t v)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT, v);
}

/* Is @a s usable text (rus_text_check())? NULL is not. */
static int text_ok(const char *s)
{
    return s != NULL && rus_text_check(s, strlen(s)) == RUS_NAME_OK;
}

/* ---- the sessions page -------------------------------------------------- */

/* The page's inline style: calm, readable, no external resource. */
static const char page_style[] =
    "body{margin:0;padding:2rem 1rem;background:#f6f7f9;color:#1f2328;"
    "font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}"
    "main{max-width:64rem;margin:0 auto}"
    "h1{font-size:1.6rem;margin:0 0 .25rem}"
    "h1 .user{display:block;font-size:1rem;font-weight:normal;color:#57606a}"
    "h1 .user strong{color:#1f2328}"
    "p{margin:.5rem 0 1rem}"
    ".intro{color:#57606a}"
    ".notice{padding:.6rem .9rem;border:1px solid #9fd3a9;"
    "border-radius:6px;background:#e9f7ec;color:#1a5e2a}"
    "table{width:100%;border-collapse:collapse;background:#fff;"
    "border:1px solid #d0d7de;border-radius:6px}"
    "th,td{padding:.6rem .75rem;text-align:left;vertical-align:top;"
    "border-bottom:1px solid #d0d7de}"
    "th{font-size:.85rem;font-weight:600;color:#57606a;background:#f0f2f5}"
    "tr.current td{background:#eef5ff}"
    "time{white-space:nowrap}"
    ".ago,.unknown{color:#57606a}"
    ".ago{display:block;font-size:.85rem}"
    ".browser{font-size:.9rem;overflow-wrap:break-word}"
    ".badge{display:inline-block;padding:.1rem .5rem;border-radius:1rem;"
    "background:#0969da;color:#fff;font-size:.85rem;white-space:nowrap}"
    "form{margin:0}"
    "button{font:inherit;font-size:.9rem;padding:.35rem .9rem;"
    "border:1px solid #cf222e;border-radius:6px;background:#fff;"
    "color:#cf222e;cursor:pointer;white-space:nowrap}"
    "button:hover,button:focus{background:#cf222e;color:#fff}"
    "#signout-others{margin-top:1rem}"
    ".hidden{position:absolute;width:1px;height:1px;overflow:hidden;"
    "clip:rect(0 0 0 0)}"
    /* narrow screens: one card per session, each value under its label */
    "@media (max-width:40rem){"
    "table,tbody,tr,td{display:block}"
    "thead{position:absolute;width:1px;height:1px;overflow:hidden;"
    "clip:rect(0 0 0 0)}"
    "tr.session{border-bottom:2px solid #d0d7de}"
    "td{border:0;padding:.35rem .75rem}"
    "td[data-label]::before{content:attr(data-label);display:block;"
    "font-size:.8rem;font-weight:600;color:#57606a}"
    "td.action{padding-bottom:.75rem}}";

/* "N unit(s) ago" for @a n units. */
static const char *ago_n(apr_pool_t *p, apr_int64_t n, const char *unit)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT " %s%s ago", n, unit,
                        n == 1 ? "" : "s");
}

/* How long before @a now @a t was, in words ("just now", "5 minutes ago",
 * "2 days ago"); a time in the future counts as now. */
static const char *ago(apr_pool_t *p, apr_int64_t t, apr_int64_t now)
{
    apr_int64_t d = now - t;

    if (d < 60) {
        return "just now";
    }
    if (d < 3600) {
        return ago_n(p, d / 60, "minute");
    }
    if (d < 86400) {
        return ago_n(p, d / 3600, "hour");
    }
    return ago_n(p, d / 86400, "day");
}

/* A time cell's content: <time> with the UTC minute, and how long ago. */
static const char *time_cell(apr_pool_t *p, apr_int64_t t, apr_int64_t now)
{
    apr_time_exp_t tm;

    if (t <= 0 || apr_time_exp_gmt(&tm, apr_time_from_sec(t)) != APR_SUCCESS) {
        return "<span class=\"unknown\">unknown</span>";
    }
    return apr_psprintf(p,
                        "<time datetime=\"%04d-%02d-%02dT%02d:%02d:%02dZ\">"
                        "%04d-%02d-%02d %02d:%02d UTC</time>"
                        "<span class=\"ago\">%s</span>",
                        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                        tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                        ago(p, t, now));
}

/* A text cell's content: @a s escaped, or "unknown" when empty. */
static const char *text_cell(apr_pool_t *p, const char *s)
{
    if (s == NULL || s[0] == '\0') {
        return "<span class=\"unknown\">unknown</span>";
    }
    return html_esc(p, s);
}

/* The hidden csrf field of a form. */
static const char *csrf_field(apr_pool_t *p, const char *csrf)
{
    return apr_pstrcat(p, "<input type=\"hidden\" name=\"csrf\" value=\"",
                       html_esc(p, csrf), "\">", NULL);
}

const char *rus_selfsvc_html(apr_pool_t *p, const char *user,
                             const apr_array_header_t *rows, const char *action,
                             const char *csrf, const char *notice,
                             apr_int64_t now)
{
    const char *act = html_esc(p, action);
    int i, others = 0, n = rows ? rows->nelts : 0;
    out_t out;

    out_init(&out, p);
    put(&out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
              "<meta charset=\"utf-8\">\n"
              "<meta name=\"viewport\" content=\"width=device-width, "
              "initial-scale=1\">\n"
              "<title>Your sessions</title>\n<style>");
    put(&out, page_style);
    put(&out, "</style>\n</head>\n<body>\n<main>\n<h1>Your sessions "
              "<span class=\"user\">Signed in as <strong>");
    put(&out, html_esc(p, user));
    put(&out, "</strong></span></h1>\n");
    if (notice != NULL && notice[0] != '\0') {
        put(&out, "<p class=\"notice\" role=\"status\">");
        put(&out, html_esc(p, notice));
        put(&out, "</p>\n");
    }
    put(&out, "<p class=\"intro\">These are the places where you are signed "
              "in. Signing out a session ends it at once; to end this one, "
              "log out.</p>\n");
    put(&out, "<table id=\"sessions\">\n<thead>\n<tr>"
              "<th scope=\"col\">Signed in</th>"
              "<th scope=\"col\">Last seen</th>"
              "<th scope=\"col\">Address</th>"
              "<th scope=\"col\">Browser</th>"
              "<th scope=\"col\"><span class=\"hidden\">Action</span></th>"
              "</tr>\n</thead>\n<tbody>\n");
    for (i = 0; i < n; i++) {
        const rus_selfsvc_row_t *row =
            &APR_ARRAY_IDX(rows, i, rus_selfsvc_row_t);

        put(&out, row->current ? "<tr class=\"session current\">"
                               : "<tr class=\"session\">");
        put(&out, "<td data-label=\"Signed in\">");
        put(&out, time_cell(p, row->created_at, now));
        put(&out, "</td><td data-label=\"Last seen\">");
        put(&out, time_cell(p, row->last_seen, now));
        put(&out, "</td><td class=\"address\" data-label=\"Address\">");
        put(&out, text_cell(p, row->ip));
        put(&out, "</td><td class=\"browser\" data-label=\"Browser\">");
        put(&out, text_cell(p, row->user_agent));
        put(&out, "</td><td class=\"action\">");
        if (row->current) {
            put(&out, "<span class=\"badge\">This session</span>");
        }
        else {
            others++;
            put(&out, apr_pstrcat(p, "<form method=\"post\" action=\"", act,
                                  "\" class=\"signout\">", csrf_field(p, csrf),
                                  "<input type=\"hidden\" name=\"action\" "
                                  "value=\"signout\">"
                                  "<input type=\"hidden\" name=\"session\" "
                                  "value=\"",
                                  html_esc(p, row->ref),
                                  "\"><button type=\"submit\">Sign out"
                                  "</button></form>",
                                  NULL));
        }
        put(&out, "</td></tr>\n");
    }
    if (n == 0) {
        put(&out, "<tr><td colspan=\"5\">No sessions.</td></tr>\n");
    }
    put(&out, "</tbody>\n</table>\n");
    if (others > 0) {
        put(&out, apr_pstrcat(p, "<form method=\"post\" action=\"", act,
                              "\" id=\"signout-others\">", csrf_field(p, csrf),
                              "<input type=\"hidden\" name=\"action\" "
                              "value=\"signout-others\">"
                              "<button type=\"submit\">Sign out all other "
                              "sessions</button></form>\n",
                              NULL));
    }
    else {
        put(&out, "<p class=\"intro\">You are signed in nowhere else.</p>\n");
    }
    put(&out, "</main>\n</body>\n</html>\n");
    return out_text(&out);
}

const char *rus_selfsvc_json(apr_pool_t *p, const char *user,
                             const apr_array_header_t *rows, const char *csrf)
{
    int i, n = rows ? rows->nelts : 0;
    out_t out;

    out_init(&out, p);
    put(&out, "{\"user\":");
    put(&out, json_str(p, user));
    put(&out, ",\"csrf\":");
    put(&out, json_str(p, csrf));
    put(&out, ",\"sessions\":[");
    for (i = 0; i < n; i++) {
        const rus_selfsvc_row_t *row =
            &APR_ARRAY_IDX(rows, i, rus_selfsvc_row_t);

        put(&out, i == 0 ? "{\"id\":" : ",{\"id\":");
        put(&out, json_str(p, row->ref));
        put(&out, row->current ? ",\"current\":true" : ",\"current\":false");
        put(&out, ",\"created\":");
        put(&out, json_int(p, row->created_at));
        put(&out, ",\"last_seen\":");
        put(&out, json_int(p, row->last_seen));
        put(&out, ",\"expires\":");
        put(&out, json_int(p, row->expires_at));
        put(&out, ",\"ip\":");
        put(&out, json_str(p, row->ip ? row->ip : ""));
        put(&out, ",\"user_agent\":");
        put(&out, json_str(p, row->user_agent ? row->user_agent : ""));
        put(&out, "}");
    }
    put(&out, "]}");
    return out_text(&out);
}

/* ---- remoteuser-info ------------------------------------------------------ */

/* ,"key":value for one of the three columns, when set and usable. */
static void info_column(out_t *out, const char *key, const char *value)
{
    if (value != NULL && value[0] != '\0' && text_ok(value)) {
        put(out, apr_pstrcat(out->p, ",\"", key, "\":", json_str(out->p, value),
                             NULL));
    }
}

/* The groups of comma-separated @a list as a JSON array (empty names and
 * unusable ones left out). */
static void info_groups(out_t *out, const char *list)
{
    const char *s = list ? list : "";
    int first = 1;

    put(out, ",\"groups\":[");
    while (*s != '\0') {
        const char *comma = strchr(s, ',');
        apr_size_t len = comma ? (apr_size_t)(comma - s) : strlen(s);
        const char *name = apr_pstrmemdup(out->p, s, len);

        if (len > 0 && text_ok(name)) {
            put(out, first ? "" : ",");
            put(out, json_str(out->p, name));
            first = 0;
        }
        s += len;
        if (*s == ',') {
            s++;
        }
    }
    put(out, "]");
}

/* The attributes (rus_attr_t) as a JSON object (unusable ones left out). */
static void info_attrs(out_t *out, const apr_array_header_t *attrs)
{
    int i, first = 1;

    put(out, ",\"attributes\":{");
    for (i = 0; attrs != NULL && i < attrs->nelts; i++) {
        const rus_attr_t *a = &APR_ARRAY_IDX(attrs, i, rus_attr_t);

        if (!text_ok(a->name) || a->name[0] == '\0' || !text_ok(a->value)) {
            continue;
        }
        put(out, first ? "" : ",");
        put(out, json_str(out->p, a->name));
        put(out, ":");
        put(out, json_str(out->p, a->value));
        first = 0;
    }
    put(out, "}");
}

const char *rus_info_json(apr_pool_t *p, const rus_info_t *info)
{
    const rus_user_t *u = info->user;
    out_t out;

    out_init(&out, p);
    put(&out, "{\"user\":");
    if (u != NULL) {
        put(&out, json_str(p, u->username));
        put(&out, ",\"id\":");
        put(&out, json_int(p, u->id));
        info_groups(&out, u->groups);
        info_column(&out, "email", u->email);
        info_column(&out, "first_name", u->first_name);
        info_column(&out, "last_name", u->last_name);
        info_attrs(&out, u->attrs);
    }
    else {
        put(&out, "null,\"id\":null,\"groups\":[],\"attributes\":{}");
    }
    put(&out, ",\"source\":");
    put(&out, json_str(p, info->source));
    if (info->session != NULL) {
        put(&out, ",\"created\":");
        put(&out, json_int(p, info->session->created_at));
        put(&out, ",\"expires\":");
        put(&out, json_int(p, info->expires));
        put(&out, ",\"idle_expires\":");
        put(&out,
            info->idle_expires > 0 ? json_int(p, info->idle_expires) : "null");
    }
    put(&out, "}");
    return out_text(&out);
}

const char *rus_unauth_json(apr_pool_t *p, const char *login_url)
{
    return apr_pstrcat(p, "{\"error\":\"unauthenticated\",\"login\":",
                       json_str(p, login_url), "}", NULL);
}

/* ---- RemoteUserUnauthenticatedAction Auto --------------------------------- */

/* Is @a c optional white space (RFC 9110 OWS)? */
static int ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Is [s, e) equal to @a word, ignoring case and surrounding OWS? */
static int token_is(const char *s, const char *e, const char *word)
{
    apr_size_t len = strlen(word);

    while (s < e && ows(*s)) {
        s++;
    }
    while (e > s && ows(e[-1])) {
        e--;
    }
    return (apr_size_t)(e - s) == len && strncasecmp(s, word, len) == 0;
}

/* Is the qvalue [s, e) zero ("0", "0.", "0.0" ... "0.000")? Anything that
 * is not a zero, a malformed value too, counts as not zero: the range
 * keeps counting, which leans to a navigation (what clients got before). */
static int qvalue_zero(const char *s, const char *e)
{
    while (s < e && ows(*s)) {
        s++;
    }
    while (e > s && ows(e[-1])) {
        e--;
    }
    if (s == e || *s != '0') {
        return 0;
    }
    s++;
    if (s == e) {
        return 1;
    }
    if (*s != '.') {
        return 0;
    }
    for (s++; s < e; s++) {
        if (*s != '0') {
            return 0;
        }
    }
    return 1;
}

/* Does the media range [s, e) of an Accept header (with its parameters)
 * take HTML: text/html, any text type or any type at all, without q=0? */
static int range_takes_html(const char *s, const char *e)
{
    const char *semi = memchr(s, ';', (apr_size_t)(e - s));
    const char *type_end = semi ? semi : e;

    if (!token_is(s, type_end, "text/html") && !token_is(s, type_end, "text/*")
        && !token_is(s, type_end, "*/*")) {
        return 0;
    }
    while (semi != NULL) {
        const char *pstart = semi + 1;
        const char *pend, *eq;

        semi = memchr(pstart, ';', (apr_size_t)(e - pstart));
        pend = semi ? semi : e;
        eq = memchr(pstart, '=', (apr_size_t)(pend - pstart));
        if (eq != NULL && token_is(pstart, eq, "q")
            && qvalue_zero(eq + 1, pend)) {
            return 0;
        }
    }
    return 1;
}

int rus_unauth_programmatic(const char *xrw, const char *mode,
                            const char *accept)
{
    const char *s, *e;

    if (xrw != NULL && token_is(xrw, xrw + strlen(xrw), "XMLHttpRequest")) {
        return 1;
    }
    if (mode != NULL && !token_is(mode, mode + strlen(mode), "navigate")) {
        return 1;
    }
    if (accept == NULL) {
        return 0;
    }
    for (s = accept;; s = e + 1) {
        e = strchr(s, ',');
        if (e == NULL) {
            e = s + strlen(s);
        }
        if (range_takes_html(s, e)) {
            return 0;
        }
        if (*e == '\0') {
            break;
        }
    }
    return 1;
}
