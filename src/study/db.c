/* The study's SQLite database: WAL journal, one transaction per judgement,
 * every statement prepared once and run under one mutex (SQLite serialises
 * writers anyway; the mutex keeps the prepared statements single-user). */
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "study/study.h"

#define SCHEMA_VERSION "lapgan-study-1"
#define NOW_UTC "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

static const char *const schema =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT OR IGNORE INTO meta VALUES('schema','" SCHEMA_VERSION "');"
    "CREATE TABLE IF NOT EXISTS config(id INTEGER PRIMARY KEY, started_utc TEXT NOT NULL,"
    " study TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sessions(id INTEGER PRIMARY KEY, token TEXT NOT NULL UNIQUE,"
    " config_id INTEGER NOT NULL REFERENCES config(id), created_utc TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS judgements(id INTEGER PRIMARY KEY,"
    " session_id INTEGER NOT NULL REFERENCES sessions(id), trial INTEGER NOT NULL,"
    " image_id TEXT NOT NULL, image_ref TEXT NOT NULL, source TEXT NOT NULL, class INTEGER,"
    " exposure_ms INTEGER NOT NULL,"
    " answer TEXT NOT NULL CHECK(answer IN ('real','generated')),"
    " rt_ms REAL NOT NULL, server_ms REAL NOT NULL, ts_utc TEXT NOT NULL,"
    " config_id INTEGER NOT NULL REFERENCES config(id), UNIQUE(session_id, trial));";

struct lg_study_db {
    sqlite3 *h;
    char path[512];
    pthread_mutex_t mu;
    sqlite3_stmt *begin, *commit, *rollback, *judge, *count;
};

static lg_status db_err(lg_study_db *db, const char *what) {
    return lg_error(LG_ERR_IO, "%s: %s: %s", db->path, what, sqlite3_errmsg(db->h));
}

static lg_status exec(lg_study_db *db, const char *sql) {
    char *msg = NULL;
    if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) == SQLITE_OK) return LG_OK;
    lg_status st = lg_error(LG_ERR_IO, "%s: %s", db->path, msg ? msg : sqlite3_errmsg(db->h));
    sqlite3_free(msg);
    return st;
}

static lg_status prepare(lg_study_db *db, const char *sql, sqlite3_stmt **out) {
    if (sqlite3_prepare_v2(db->h, sql, -1, out, NULL) != SQLITE_OK)
        return db_err(db, "cannot prepare a statement");
    return LG_OK;
}

static lg_status check_schema(lg_study_db *db) {
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db->h, "SELECT value FROM meta WHERE key='schema'", -1, &q, NULL))
        return lg_error(LG_ERR_FORMAT, "%s: not a lapgan study database (%s)", db->path,
                        sqlite3_errmsg(db->h));
    lg_status st = LG_OK;
    if (sqlite3_step(q) != SQLITE_ROW)
        st = lg_error(LG_ERR_FORMAT, "%s: not a lapgan study database", db->path);
    else if (strcmp((const char *)sqlite3_column_text(q, 0), SCHEMA_VERSION))
        st = lg_error(LG_ERR_FORMAT, "%s: study schema '%s', this build reads '%s'", db->path,
                      sqlite3_column_text(q, 0), SCHEMA_VERSION);
    sqlite3_finalize(q);
    return st;
}

/* A new (empty) file gets the schema; anything else must already be ours. */
static int is_empty(lg_study_db *db) {
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db->h, "SELECT COUNT(*) FROM sqlite_master", -1, &q, NULL)) return 0;
    int empty = sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 0;
    sqlite3_finalize(q);
    return empty;
}

static lg_status db_setup(lg_study_db *db, int create, int sync_full) {
    /* The first statement reads the header: a corrupt file fails here. */
    LG_TRY(exec(db, "PRAGMA journal_mode=WAL"));
    LG_TRY(exec(db, sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
    LG_TRY(exec(db, "PRAGMA foreign_keys=ON"));
    sqlite3_busy_timeout(db->h, 10000);
    if (create && is_empty(db)) LG_TRY(exec(db, schema));
    LG_TRY(check_schema(db));
    LG_TRY(prepare(db, "BEGIN IMMEDIATE", &db->begin));
    LG_TRY(prepare(db, "COMMIT", &db->commit));
    LG_TRY(prepare(db, "ROLLBACK", &db->rollback));
    LG_TRY(prepare(db, "SELECT COUNT(*) FROM judgements", &db->count));
    return prepare(db,
                   "INSERT INTO judgements(session_id, trial, image_id, image_ref, source, class,"
                   " exposure_ms, answer, rt_ms, server_ms, ts_utc, config_id)"
                   " VALUES(?,?,?,?,?,?,?,?,?,?," NOW_UTC ",?)",
                   &db->judge);
}

lg_status lg_study_db_open(lg_study_db **out, const char *path, int create, int sync_full) {
    LG_CHECK(out && path, LG_ERR_ARG, "lg_study_db_open: NULL argument");
    *out = NULL;
    LG_CHECK(create || access(path, F_OK) == 0, LG_ERR_IO, "%s: no such file", path);
    lg_study_db *db = calloc(1, sizeof *db);
    LG_CHECK(db, LG_ERR_NOMEM, "out of memory");
    snprintf(db->path, sizeof db->path, "%s", path);
    pthread_mutex_init(&db->mu, NULL);
    const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) |
                      SQLITE_OPEN_NOMUTEX;
    lg_status st;
    if (sqlite3_open_v2(path, &db->h, flags, NULL) != SQLITE_OK)
        st = lg_error(LG_ERR_IO, "%s: cannot open: %s", path,
                      db->h ? sqlite3_errmsg(db->h) : "out of memory");
    else
        st = db_setup(db, create, sync_full);
    if (st != LG_OK) {
        lg_study_db_close(db);
        return st;
    }
    *out = db;
    return LG_OK;
}

void lg_study_db_close(lg_study_db *db) {
    if (!db) return;
    sqlite3_finalize(db->begin);
    sqlite3_finalize(db->commit);
    sqlite3_finalize(db->rollback);
    sqlite3_finalize(db->judge);
    sqlite3_finalize(db->count);
    sqlite3_close(db->h);
    pthread_mutex_destroy(&db->mu);
    free(db);
}

lg_status lg_study_cfg_json(const lg_study_cfg *cfg, const char *data_spec, char **out) {
    LG_CHECK(cfg && data_spec && out, LG_ERR_ARG, "lg_study_cfg_json: NULL argument");
    json_t *src = json_array(), *exp = json_array(), *cls = json_array();
    for (int i = 0; i < cfg->nsources; i++)
        json_array_append_new(src, json_pack("{s:s,s:s,s:b}", "name", cfg->src[i].name, "path",
                                             cfg->src[i].path, "conditional",
                                             cfg->src[i].conditional));
    for (int i = 0; i < cfg->nexposure; i++)
        json_array_append_new(exp, json_integer(cfg->exposure_ms[i]));
    for (int i = 0; i < cfg->nclasses && i < 64 && cfg->labelled; i++)
        json_array_append_new(cls, json_string(cfg->class_names[i]));
    json_t *j = json_pack("{s:s,s:I,s:i,s:o,s:i,s:s,s:i,s:i,s:i,s:o,s:o}", "data", data_spec,
                          "seed", (json_int_t)cfg->seed, "trials_per_session", cfg->trials,
                          "exposures_ms", exp, "scale", cfg->scale, "interpolation",
                          cfg->interp == LG_INTERP_NEAREST ? "nearest" : "bilinear",
                          "display_px", cfg->display, "fixation_ms", cfg->fixation_ms,
                          "pool_per_class", cfg->src[0].per_class, "classes", cls, "sources",
                          src);
    *out = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    LG_CHECK(*out, LG_ERR_NOMEM, "out of memory for the study configuration");
    return LG_OK;
}

lg_status lg_study_db_config(lg_study_db *db, const char *study_json, int64_t *config_id) {
    LG_CHECK(db && study_json && config_id, LG_ERR_ARG, "lg_study_db_config: NULL argument");
    sqlite3_stmt *q;
    LG_TRY(prepare(db, "SELECT study FROM config ORDER BY id LIMIT 1", &q));
    lg_status st = LG_OK;
    if (sqlite3_step(q) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(q, 0), study_json))
        st = lg_error(LG_ERR_ARG,
                      "%s holds a study with another configuration (models, data, seed, "
                      "schedule or display); use a new --db",
                      db->path);
    sqlite3_finalize(q);
    LG_TRY(st);
    LG_TRY(prepare(db, "INSERT INTO config(started_utc, study) VALUES(" NOW_UTC ", ?)", &q));
    sqlite3_bind_text(q, 1, study_json, -1, SQLITE_STATIC);
    if (sqlite3_step(q) != SQLITE_DONE) st = db_err(db, "cannot store the configuration");
    sqlite3_finalize(q);
    *config_id = sqlite3_last_insert_rowid(db->h);
    return st;
}

lg_status lg_study_db_session_new(lg_study_db *db, const char *token, int64_t config_id,
                                  int64_t *id) {
    pthread_mutex_lock(&db->mu);
    sqlite3_stmt *q;
    lg_status st = prepare(db,
                           "INSERT INTO sessions(token, config_id, created_utc)"
                           " VALUES(?, ?, " NOW_UTC ")",
                           &q);
    if (st == LG_OK) {
        sqlite3_bind_text(q, 1, token, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, config_id);
        if (sqlite3_step(q) != SQLITE_DONE) st = db_err(db, "cannot store a session");
        *id = sqlite3_last_insert_rowid(db->h);
        sqlite3_finalize(q);
    }
    pthread_mutex_unlock(&db->mu);
    return st;
}

lg_status lg_study_db_sessions(lg_study_db *db,
                               lg_status (*fn)(void *ud, int64_t id, const char *token,
                                               int next_trial),
                               void *ud) {
    sqlite3_stmt *q;
    LG_TRY(prepare(db,
                   "SELECT s.id, s.token, COALESCE(MAX(j.trial), 0) FROM sessions s"
                   " LEFT JOIN judgements j ON j.session_id = s.id GROUP BY s.id",
                   &q));
    lg_status st = LG_OK;
    int rc;
    while (st == LG_OK && (rc = sqlite3_step(q)) == SQLITE_ROW)
        st = fn(ud, sqlite3_column_int64(q, 0), (const char *)sqlite3_column_text(q, 1),
                sqlite3_column_int(q, 2));
    if (st == LG_OK && rc != SQLITE_DONE) st = db_err(db, "cannot read sessions");
    sqlite3_finalize(q);
    return st;
}

static int step_done(sqlite3_stmt *s) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc;
}

lg_status lg_study_db_judge(lg_study_db *db, const lg_study_judgement *j) {
    LG_CHECK(db && j, LG_ERR_ARG, "lg_study_db_judge: NULL argument");
    pthread_mutex_lock(&db->mu);
    lg_status st = LG_OK;
    sqlite3_stmt *q = db->judge;
    if (step_done(db->begin) != SQLITE_DONE) {
        st = db_err(db, "cannot begin a transaction");
        goto out;
    }
    sqlite3_bind_int64(q, 1, j->session_id);
    sqlite3_bind_int(q, 2, j->trial);
    sqlite3_bind_text(q, 3, j->image_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, j->image_ref, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, j->source, -1, SQLITE_STATIC);
    if (j->cls >= 0) sqlite3_bind_int(q, 6, j->cls);
    else sqlite3_bind_null(q, 6);
    sqlite3_bind_int(q, 7, j->exposure_ms);
    sqlite3_bind_text(q, 8, j->judged_real ? "real" : "generated", -1, SQLITE_STATIC);
    sqlite3_bind_double(q, 9, j->rt_ms);
    sqlite3_bind_double(q, 10, j->server_ms);
    sqlite3_bind_int64(q, 11, j->config_id);
    int rc = step_done(q);
    sqlite3_clear_bindings(q);
    if (rc != SQLITE_DONE) {
        st = (rc & 0xff) == SQLITE_CONSTRAINT
                 ? lg_error(LG_ERR_ARG, "trial %d of session %lld is already judged", j->trial,
                            (long long)j->session_id)
                 : db_err(db, "cannot store a judgement");
        step_done(db->rollback);
    } else if (step_done(db->commit) != SQLITE_DONE) {
        st = db_err(db, "cannot commit a judgement");
        step_done(db->rollback);
    }
out:
    pthread_mutex_unlock(&db->mu);
    return st;
}

int64_t lg_study_db_count(lg_study_db *db) {
    pthread_mutex_lock(&db->mu);
    int64_t n = sqlite3_step(db->count) == SQLITE_ROW ? sqlite3_column_int64(db->count, 0) : -1;
    sqlite3_reset(db->count);
    pthread_mutex_unlock(&db->mu);
    return n;
}
