/* The study's HTTP server (libmicrohttpd, thread pool).
 *
 * Routes: GET / (the page), POST /api/session, GET /api/next,
 * GET /img/<trial>, POST /api/answer, and GET /api/status for the
 * experimenter (loopback clients only). A participant is a random 128-bit
 * session token in an HttpOnly cookie; trials are random 128-bit tokens
 * bound to their session. Nothing a participant can read (URL, headers,
 * length, timing) depends on a trial's source: every image is pre-encoded,
 * of one length, with one set of headers.
 *
 * No client can lock others out: connections from one address are bounded
 * (opts->per_client, below the total), idle ones are closed after
 * opts->idle_timeout_s, so a flood from one address leaves slots for new
 * participants. A failed database write is counted, reported through
 * opts->on_db_error and shown by /api/status.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/check.h"
#include "study/study.h"

#define BODY_MAX 1024
#define COOKIE "lgs"
#define RT_MAX_MS 3600000.0

enum { TRIAL_PENDING, TRIAL_COMMITTING, TRIAL_DONE };

/* Hash table entry header: random 16-byte keys, so their first bytes are
 * already a good hash. */
typedef struct entry {
    uint8_t key[16];
    struct entry *next;
} entry;

typedef struct {
    entry **b;
    size_t nb, n;
} table;

typedef struct trial trial;

typedef struct {
    entry e; /* first: the table links it */
    char token[33];
    int64_t id;
    int next;        /* 0-based index of the next trial to issue */
    trial *pending;  /* issued, not yet judged */
} session;

struct trial {
    entry e;
    char token[33];
    session *sess;
    int t;
    lg_study_trial s;
    int state;
    double shown_at; /* lg_time_s() when its image was first sent; 0: never */
};

struct lg_study_server {
    struct MHD_Daemon *d;
    lg_study_cfg *cfg;
    lg_study_db *db;
    int64_t config_id;
    int port;
    pthread_mutex_t mu; /* sessions, trials and their fields, the failure record */
    table sessions, trials;
    int nsessions;
    void (*on_db_error)(void *ud, const char *msg);
    void *ud;
    int64_t db_failures;
    char last_db_error[512], last_db_error_utc[32];
};

typedef struct {
    char body[BODY_MAX];
    size_t len;
    int too_big;
} request;

/* ---- tables and tokens ---------------------------------------------------- */

static int hex_key(const char *s, uint8_t key[16]) {
    if (!s || strlen(s) != 32) return 0;
    for (int i = 0; i < 32; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0) return 0;
        key[i / 2] = (uint8_t)(i % 2 ? key[i / 2] | v : v << 4);
    }
    return 1;
}

static size_t slot(const table *t, const uint8_t key[16]) {
    uint64_t h;
    memcpy(&h, key, sizeof h);
    return (size_t)(h & (t->nb - 1));
}

static entry *table_find(const table *t, const uint8_t key[16]) {
    if (!t->nb) return NULL;
    for (entry *e = t->b[slot(t, key)]; e; e = e->next)
        if (!memcmp(e->key, key, 16)) return e;
    return NULL;
}

static int table_add(table *t, entry *e) {
    if (t->n + 1 > t->nb) {
        size_t nb = t->nb ? t->nb * 2 : 256;
        entry **b = calloc(nb, sizeof *b);
        if (!b) return 0;
        for (size_t i = 0; i < t->nb; i++)
            for (entry *x = t->b[i], *nx; x; x = nx) {
                nx = x->next;
                size_t k = slot(&(table){b, nb, 0}, x->key);
                x->next = b[k], b[k] = x;
            }
        free(t->b);
        t->b = b, t->nb = nb;
    }
    size_t k = slot(t, e->key);
    e->next = t->b[k], t->b[k] = e;
    t->n++;
    return 1;
}

static void table_free(table *t) {
    for (size_t i = 0; i < t->nb; i++)
        for (entry *x = t->b[i], *nx; x; x = nx) nx = x->next, free(x);
    free(t->b);
}

/* ---- responses ------------------------------------------------------------ */

static enum MHD_Result respond(struct MHD_Connection *c, unsigned code, const char *type,
                            const void *body, size_t len, enum MHD_ResponseMemoryMode mode,
                            const char *cookie) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, mode);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    if (!strncmp(type, "text/html", 9))
        MHD_add_response_header(r, "Content-Security-Policy",
                                "default-src 'none'; script-src 'unsafe-inline'; style-src "
                                "'unsafe-inline'; img-src blob: data:; connect-src 'self'; "
                                "form-action 'none'; frame-ancestors 'none'; base-uri 'none'");
    if (cookie) MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, cookie);
    enum MHD_Result ok = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned code, const char *cookie,
                                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned code, const char *cookie,
                                 const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf) n = 0;
    return respond(c, code, "application/json", buf, (size_t)n, MHD_RESPMEM_MUST_COPY, cookie);
}

/* Sends j (taking it; NULL: out of memory) as written by jansson. */
static enum MHD_Result send_value(struct MHD_Connection *c, unsigned code, json_t *j) {
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!body) return MHD_NO;
    enum MHD_Result r = respond(c, code, "application/json", body, strlen(body),
                                MHD_RESPMEM_MUST_COPY, NULL);
    free(body);
    return r;
}

/* {"error": msg}, escaped by jansson: msg may hold quotes (the 400's
 * description of a valid answer does). */
static enum MHD_Result error(struct MHD_Connection *c, unsigned code, const char *msg) {
    return send_value(c, code, json_pack("{s:s}", "error", msg));
}

/* Records a failed database write (lg_errmsg() holds its message) and
 * hands it to the caller's hook, outside the lock. */
static void db_failed(lg_study_server *s) {
    char msg[512], utc[32];
    snprintf(msg, sizeof msg, "%s", lg_errmsg());
    time_t now = time(NULL);
    struct tm tm;
    strftime(utc, sizeof utc, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    pthread_mutex_lock(&s->mu);
    s->db_failures++;
    memcpy(s->last_db_error, msg, sizeof msg);
    memcpy(s->last_db_error_utc, utc, sizeof utc);
    pthread_mutex_unlock(&s->mu);
    if (s->on_db_error) s->on_db_error(s->ud, msg);
}

/* ---- sessions and trials (callers hold s->mu) ----------------------------- */

static session *find_session(lg_study_server *s, struct MHD_Connection *c) {
    uint8_t key[16];
    const char *tok = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, COOKIE);
    return hex_key(tok, key) ? (session *)table_find(&s->sessions, key) : NULL;
}

static session *add_session(lg_study_server *s, int64_t id, const char *token, int next) {
    session *p = calloc(1, sizeof *p);
    if (!p || !hex_key(token, p->e.key) || !table_add(&s->sessions, &p->e)) {
        free(p);
        return NULL;
    }
    snprintf(p->token, sizeof p->token, "%s", token);
    p->id = id;
    p->next = next;
    s->nsessions++;
    return p;
}

static trial *issue_trial(lg_study_server *s, session *p) {
    trial *t = calloc(1, sizeof *t);
    if (!t || lg_study_token(t->token) != LG_OK || !hex_key(t->token, t->e.key) ||
        !table_add(&s->trials, &t->e)) {
        free(t);
        return NULL;
    }
    t->sess = p;
    t->t = p->next++;
    lg_study_schedule(s->cfg, p->id, t->t, &t->s);
    p->pending = t;
    return t;
}

/* ---- handlers ------------------------------------------------------------- */

static enum MHD_Result h_session(lg_study_server *s, struct MHD_Connection *c) {
    pthread_mutex_lock(&s->mu);
    session *p = find_session(s, c);
    if (p) {
        int done = p->next - (p->pending != NULL);
        pthread_mutex_unlock(&s->mu);
        return send_json(c, 200, NULL, "{\"trials\":%d,\"done\":%d}", s->cfg->trials, done);
    }
    if (s->nsessions >= s->cfg->max_sessions) {
        pthread_mutex_unlock(&s->mu);
        return error(c, 503, "the study is full");
    }
    char token[33], cookie[128];
    int64_t id = 0;
    lg_status st = lg_study_token(token);
    int db_fail = 0;
    if (st == LG_OK) {
        st = lg_study_db_session_new(s->db, token, s->config_id, &id);
        db_fail = st != LG_OK;
    }
    p = st == LG_OK ? add_session(s, id, token, 0) : NULL;
    pthread_mutex_unlock(&s->mu);
    if (db_fail) db_failed(s);
    if (!p) return error(c, 500, "cannot start a session");
    snprintf(cookie, sizeof cookie, COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict", token);
    return send_json(c, 200, cookie, "{\"trials\":%d,\"done\":0}", s->cfg->trials);
}

static enum MHD_Result h_next(lg_study_server *s, struct MHD_Connection *c) {
    pthread_mutex_lock(&s->mu);
    session *p = find_session(s, c);
    if (!p) {
        pthread_mutex_unlock(&s->mu);
        return error(c, 401, "no session");
    }
    trial *t = p->pending;
    if (!t && p->next >= s->cfg->trials) {
        pthread_mutex_unlock(&s->mu);
        return send_json(c, 200, NULL, "{\"done\":true,\"total\":%d}", s->cfg->trials);
    }
    if (!t) t = issue_trial(s, p);
    if (!t) {
        pthread_mutex_unlock(&s->mu);
        return error(c, 500, "cannot issue a trial");
    }
    char tok[33];
    memcpy(tok, t->token, sizeof tok);
    const int number = t->t + 1, exposure = t->s.exposure_ms;
    pthread_mutex_unlock(&s->mu);
    return send_json(c, 200, NULL,
                     "{\"trial\":\"%s\",\"image\":\"/img/%s\",\"exposure_ms\":%d,"
                     "\"fixation_ms\":%d,\"number\":%d,\"total\":%d}",
                     tok, tok, exposure, s->cfg->fixation_ms, number, s->cfg->trials);
}

/* The trial named by a token, when it belongs to the caller's session. */
static trial *own_trial(lg_study_server *s, struct MHD_Connection *c, const char *tok) {
    uint8_t key[16];
    session *p = find_session(s, c);
    trial *t = p && hex_key(tok, key) ? (trial *)table_find(&s->trials, key) : NULL;
    return t && t->sess == p ? t : NULL;
}

static enum MHD_Result h_image(lg_study_server *s, struct MHD_Connection *c, const char *tok) {
    pthread_mutex_lock(&s->mu);
    trial *t = own_trial(s, c, tok);
    const lg_study_image *im = NULL;
    if (t && t->state == TRIAL_PENDING) {
        im = &s->cfg->src[t->s.source].img[t->s.image];
        if (!t->shown_at) t->shown_at = lg_time_s();
    }
    pthread_mutex_unlock(&s->mu);
    if (!im) return error(c, 404, "no such image");
    return respond(c, 200, "image/png", im->png, im->len, MHD_RESPMEM_PERSISTENT, NULL);
}

/* {"trial": hex, "answer": "real"|"generated", "rt_ms": number}, nothing else. */
static int parse_answer(const request *rq, char tok[33], int *real, double *rt) {
    json_error_t err;
    json_t *j = json_loadb(rq->body, rq->len, JSON_REJECT_DUPLICATES, &err);
    const char *tr, *ans;
    json_t *rtv;
    int ok = j && json_is_object(j) && json_object_size(j) == 3 &&
             !json_unpack(j, "{s:s,s:s,s:o}", "trial", &tr, "answer", &ans, "rt_ms", &rtv) &&
             json_is_number(rtv) && strlen(tr) == 32 &&
             (!strcmp(ans, "real") || !strcmp(ans, "generated"));
    if (ok) {
        memcpy(tok, tr, 33);
        *real = !strcmp(ans, "real");
        *rt = json_number_value(rtv);
        ok = isfinite(*rt) && *rt >= 0 && *rt <= RT_MAX_MS;
    }
    json_decref(j);
    return ok;
}

static enum MHD_Result h_answer(lg_study_server *s, struct MHD_Connection *c, const request *rq) {
    char tok[33];
    int real;
    double rt;
    if (!parse_answer(rq, tok, &real, &rt))
        return error(c, 400, "want {\"trial\":id,\"answer\":\"real\"|\"generated\",\"rt_ms\":ms}");
    pthread_mutex_lock(&s->mu);
    if (!find_session(s, c)) {
        pthread_mutex_unlock(&s->mu);
        return error(c, 401, "no session");
    }
    trial *t = own_trial(s, c, tok);
    const char *why = !t ? "no such trial" : t->state != TRIAL_PENDING ? "already answered"
                                         : !t->shown_at              ? "image not shown yet"
                                                                     : NULL;
    if (why) {
        pthread_mutex_unlock(&s->mu);
        return error(c, t ? 409 : 404, why);
    }
    t->state = TRIAL_COMMITTING; /* a concurrent replay now gets 409 */
    const lg_study_source *src = &s->cfg->src[t->s.source];
    const lg_study_image *im = &src->img[t->s.image];
    lg_study_judgement j = {.session_id = t->sess->id, .config_id = s->config_id,
                            .trial = t->t + 1, .image_id = im->id, .image_ref = im->ref,
                            .source = src->name, .cls = t->s.cls,
                            .exposure_ms = t->s.exposure_ms, .judged_real = real, .rt_ms = rt,
                            .server_ms = (lg_time_s() - t->shown_at) * 1e3};
    pthread_mutex_unlock(&s->mu);
    lg_status st = lg_study_db_judge(s->db, &j);
    pthread_mutex_lock(&s->mu);
    t->state = st == LG_OK ? TRIAL_DONE : TRIAL_PENDING;
    if (st == LG_OK && t->sess->pending == t) t->sess->pending = NULL;
    const int done = t->sess->next - (t->sess->pending != NULL);
    pthread_mutex_unlock(&s->mu);
    if (st == LG_ERR_ARG) return error(c, 409, "already answered");
    if (st != LG_OK) {
        db_failed(s);
        return error(c, 500, "cannot store the judgement; please try again");
    }
    return send_json(c, 200, NULL, "{\"ok\":true,\"done\":%d,\"total\":%d}", done,
                     s->cfg->trials);
}

/* Whether the client is this machine (127.0.0.0/8, ::1, or ::ffff:127.x). */
static int from_loopback(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET)
        return ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24 == 127;
    if (sa && sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return 0;
}

/* The experimenter's view: counts, open connections and the database
 * failures, which participants only see as a 500. Not for participants
 * (it names the database file), so loopback only. */
static enum MHD_Result h_status(lg_study_server *s, struct MHD_Connection *c) {
    if (!from_loopback(c)) return error(c, 404, "not found");
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    const int64_t judged = lg_study_db_count(s->db);
    pthread_mutex_lock(&s->mu);
    json_t *j = json_pack("{s:i,s:I,s:i,s:I,s:s?,s:s?}", "sessions", s->nsessions,
                          "judgements", (json_int_t)judged, "connections",
                          di ? (int)di->num_connections : -1, "db_write_failures",
                          (json_int_t)s->db_failures, "last_db_error",
                          s->db_failures ? s->last_db_error : NULL, "last_db_error_utc",
                          s->db_failures ? s->last_db_error_utc : NULL);
    pthread_mutex_unlock(&s->mu);
    return send_value(c, 200, j);
}

static enum MHD_Result route(lg_study_server *s, struct MHD_Connection *c, const char *url,
                             const char *method, const request *rq) {
    const int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    const int post = !strcmp(method, "POST");
    if (rq->too_big) return error(c, 413, "request body too large");
    if (!strcmp(url, "/")) {
        if (!get) return error(c, 405, "method not allowed");
        return respond(c, 200, "text/html; charset=utf-8", lg_study_page, lg_study_page_len,
                    MHD_RESPMEM_PERSISTENT, NULL);
    }
    if (!strcmp(url, "/api/session")) return post ? h_session(s, c) : error(c, 405, "use POST");
    if (!strcmp(url, "/api/next")) return get ? h_next(s, c) : error(c, 405, "use GET");
    if (!strcmp(url, "/api/answer")) return post ? h_answer(s, c, rq) : error(c, 405, "use POST");
    if (!strcmp(url, "/api/status")) return get ? h_status(s, c) : error(c, 405, "use GET");
    if (!strncmp(url, "/img/", 5) && strlen(url) == 5 + 32)
        return get ? h_image(s, c, url + 5) : error(c, 405, "use GET");
    return error(c, 404, "not found");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **ctx) {
    lg_study_server *s = cls;
    request *rq = *ctx;
    if (!rq) {
        rq = calloc(1, sizeof *rq);
        if (!rq) return MHD_NO;
        *ctx = rq;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) >= BODY_MAX) {
            rq->too_big = 1;
            return error(c, 413, "request body too large");
        }
        return MHD_YES;
    }
    if (*upload_size) { /* keep what fits, note that more came */
        if (rq->len + *upload_size >= BODY_MAX) rq->too_big = 1;
        else memcpy(rq->body + rq->len, upload, *upload_size), rq->len += *upload_size;
        *upload_size = 0;
        return MHD_YES;
    }
    return route(s, c, url, method, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ctx,
                         enum MHD_RequestTerminationCode toe) {
    free(*ctx);
    *ctx = NULL;
}

static void quiet_logger(void *cls, const char *fmt, va_list ap) {}

/* ---- start and stop -------------------------------------------------------- */

static lg_status restore_session(void *ud, int64_t id, const char *token, int next) {
    lg_study_server *s = ud;
    LG_CHECK(add_session(s, id, token, next), LG_ERR_FORMAT,
             "session %lld has a bad token or memory ran out", (long long)id);
    return LG_OK;
}

static lg_status parse_host(const char *host, int port, struct sockaddr_storage *sa, int *v6) {
    memset(sa, 0, sizeof *sa);
    struct sockaddr_in *a4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)sa;
    if (!strcmp(host, "localhost")) host = "127.0.0.1";
    *v6 = 0;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *v6 = 1;
    } else {
        return lg_error(LG_ERR_ARG, "--host '%s' is not an IPv4 or IPv6 address", host);
    }
    return LG_OK;
}

lg_status lg_study_server_start(lg_study_server **out, lg_study_cfg *cfg, lg_study_db *db,
                                int64_t config_id, const lg_study_server_opts *o) {
    LG_CHECK(out && cfg && db && o && o->host && o->port >= 0 && o->port <= 65535 &&
                 o->threads >= 1 && o->max_connections >= 2 && o->per_client >= 1 &&
                 o->idle_timeout_s >= 1,
             LG_ERR_ARG, "lg_study_server_start: bad argument");
    /* Below the total, so one address can never take every slot. */
    LG_CHECK(o->per_client < o->max_connections, LG_ERR_ARG,
             "--per-client %d must be below --max-connections %d", o->per_client,
             o->max_connections);
    *out = NULL;
    struct sockaddr_storage sa;
    int v6;
    LG_TRY(parse_host(o->host, o->port, &sa, &v6));
    lg_study_server *s = calloc(1, sizeof *s);
    LG_CHECK(s, LG_ERR_NOMEM, "out of memory");
    s->cfg = cfg, s->db = db, s->config_id = config_id;
    s->on_db_error = o->on_db_error, s->ud = o->ud;
    pthread_mutex_init(&s->mu, NULL);
    lg_status st = lg_study_db_sessions(db, restore_session, s);
    if (st == LG_OK) {
        s->d = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | (v6 ? MHD_USE_IPv6 : 0), 0, NULL,
            NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->threads,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_connections,
            MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)o->per_client,
            MHD_OPTION_STRICT_FOR_CLIENT, 1, MHD_OPTION_CONNECTION_TIMEOUT,
            (unsigned)o->idle_timeout_s, MHD_OPTION_LISTEN_BACKLOG_SIZE, 256u,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_EXTERNAL_LOGGER,
            quiet_logger, NULL, MHD_OPTION_END);
        if (!s->d)
            st = lg_error(LG_ERR_IO, "cannot listen on %s port %d (in use?)", o->host, o->port);
    }
    if (st != LG_OK) {
        lg_study_server_stop(s);
        return st;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : o->port;
    *out = s;
    return LG_OK;
}

int lg_study_server_port(const lg_study_server *s) { return s ? s->port : 0; }

int64_t lg_study_server_db_failures(lg_study_server *s) {
    pthread_mutex_lock(&s->mu);
    int64_t n = s->db_failures;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void lg_study_server_stop(lg_study_server *s) {
    if (!s) return;
    if (s->d) MHD_stop_daemon(s->d);
    table_free(&s->trials);
    table_free(&s->sessions);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
