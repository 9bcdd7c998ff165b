/* lapgan serve: run the human real-vs-generated study in a local web server. */
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "study/study.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: lapgan serve --db FILE --model NAME=RUN_DIR [--model ...] [options]\n"
            "Serves the real-vs-generated study: each trial shows one image, a real test image\n"
            "or a sample of one of the models, for a short exposure and asks \"real or\n"
            "generated?\". Every judgement is stored in the SQLite database FILE.\n\n"
            "  --db FILE         study database (created when missing; a restart continues it)\n"
            "  --model NAME=DIR  a trained run directory (repeat for each model compared)\n"
            "  --data SPEC       real images (default fashion-test), see 'lapgan train --help'\n"
            "  --host ADDR       address to listen on (default 127.0.0.1)\n"
            "  --port P          port (default 8080; 0: any free port)\n"
            "  --trials N        trials per participant (default 40)\n"
            "  --exposure LIST   exposure(s) in ms, 50 to 2000, or 'unlimited', comma-separated;\n"
            "                    several are balanced across trials (default 200)\n"
            "  --fixation MS     fixation cross before each image (default 500)\n"
            "  --pool N          images per class and source, made at start-up (default 20)\n"
            "  --scale K         integer enlargement on screen (default: about 224 px)\n"
            "  --interp I        enlargement: nearest (default) or bilinear\n"
            "  --seed S          schedule and sample seed (default 1)\n"
            "  --http-threads T  server threads (default 4)\n"
            "  --max-sessions N  participant sessions accepted (default 10000)\n"
            "  --max-connections N  open connections in all (default 1000)\n"
            "  --per-client N    open connections from one address (default 128, below\n"
            "                    --max-connections, so one client cannot lock others out;\n"
            "                    raise it when many participants share one address)\n"
            "  --idle-timeout S  close a connection idle this many seconds (default 30)\n"
            "  --sync MODE       full (default: fsync every judgement) or normal (WAL fsync at\n"
            "                    checkpoints; a killed server still loses nothing acknowledged)\n"
            "  --threads T       threads for sampling at start-up (default all cores)\n");
}

typedef struct {
    const char *db, *data, *host, *sync;
    lg_study_model_arg models[LG_STUDY_MAX_SOURCES - 1];
    int nmodels;
    long port, pool, threads, http_threads, seed, max_conn, per_client, idle_s;
    lg_study_cfg cfg;
} opts;

static int valid_name(const char *s, size_t n) {
    if (!n || n >= LG_STUDY_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", s[i]))
            return 0;
    return 1;
}

static int parse_model(opts *o, char *v) {
    char *eq = v ? strchr(v, '=') : NULL;
    if (!eq || !eq[1] || !valid_name(v, (size_t)(eq - v)))
        return lg_cli_usage_error("serve", "--model wants NAME=RUN_DIR with NAME of letters, "
                                           "digits, '_.-' (at most %d), got '%s'",
                                  LG_STUDY_NAME_MAX - 1, v ? v : "");
    *eq = 0;
    if (!strcmp(v, "real")) return lg_cli_usage_error("serve", "--model: 'real' is reserved");
    for (int i = 0; i < o->nmodels; i++)
        if (!strcmp(o->models[i].name, v))
            return lg_cli_usage_error("serve", "--model: '%s' given twice", v);
    if (o->nmodels == (int)(sizeof o->models / sizeof o->models[0]))
        return lg_cli_usage_error("serve", "at most %d models", (int)(sizeof o->models / sizeof o->models[0]));
    o->models[o->nmodels++] = (lg_study_model_arg){v, eq + 1};
    return LG_EXIT_OK;
}

static int parse_exposures(lg_study_cfg *c, const char *v) {
    if (!v) return lg_cli_usage_error("serve", "--exposure needs a value");
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    c->nexposure = 0;
    for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        long ms = 0;
        if (c->nexposure == LG_STUDY_MAX_EXPOSURES)
            return lg_cli_usage_error("serve", "--exposure: at most %d values",
                                      LG_STUDY_MAX_EXPOSURES);
        if (strcmp(tok, "unlimited") && lg_cli_int("serve", "--exposure", tok, 50, 2000, &ms))
            return LG_EXIT_USAGE;
        c->exposure_ms[c->nexposure++] = (int)ms;
    }
    if (!c->nexposure) return lg_cli_usage_error("serve", "--exposure: no value in '%s'", v);
    return LG_EXIT_OK;
}

static int parse(opts *o, int argc, char **argv) {
    long trials = 40, fixation = 500, scale = 0, max_sessions = 10000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = 0;
        if (lg_cli_is_help(a)) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "--db") && v) o->db = v;
        else if (!strcmp(a, "--data") && v) o->data = v;
        else if (!strcmp(a, "--host") && v) o->host = v;
        else if (!strcmp(a, "--sync") && v) o->sync = v;
        else if (!strcmp(a, "--model")) r = parse_model(o, v);
        else if (!strcmp(a, "--exposure")) r = parse_exposures(&o->cfg, v);
        else if (!strcmp(a, "--interp") && v) {
            if (!strcmp(v, "nearest")) o->cfg.interp = LG_INTERP_NEAREST;
            else if (!strcmp(v, "bilinear")) o->cfg.interp = LG_INTERP_BILINEAR;
            else r = lg_cli_usage_error("serve", "--interp wants nearest or bilinear, got '%s'", v);
        } else if (!strcmp(a, "--port")) r = lg_cli_int("serve", a, v, 0, 65535, &o->port);
        else if (!strcmp(a, "--trials")) r = lg_cli_int("serve", a, v, 1, 100000, &trials);
        else if (!strcmp(a, "--fixation")) r = lg_cli_int("serve", a, v, 0, 5000, &fixation);
        else if (!strcmp(a, "--pool")) r = lg_cli_int("serve", a, v, 1, 10000, &o->pool);
        else if (!strcmp(a, "--scale")) r = lg_cli_int("serve", a, v, 1, 64, &scale);
        else if (!strcmp(a, "--seed")) r = lg_cli_int("serve", a, v, 0, 0x7fffffffffffffffL, &o->seed);
        else if (!strcmp(a, "--http-threads")) r = lg_cli_int("serve", a, v, 1, 256, &o->http_threads);
        else if (!strcmp(a, "--max-sessions")) r = lg_cli_int("serve", a, v, 1, 10000000, &max_sessions);
        else if (!strcmp(a, "--threads")) r = lg_cli_int("serve", a, v, 1, 1024, &o->threads);
        else if (!strcmp(a, "--max-connections")) r = lg_cli_int("serve", a, v, 2, 100000, &o->max_conn);
        else if (!strcmp(a, "--per-client")) r = lg_cli_int("serve", a, v, 1, 100000, &o->per_client);
        else if (!strcmp(a, "--idle-timeout")) r = lg_cli_int("serve", a, v, 1, 3600, &o->idle_s);
        else return lg_cli_usage_error("serve", v || a[0] != '-' ? "unknown option '%s'"
                                                                  : "%s needs a value", a);
        if (r) return r;
        i++;
    }
    if (!o->db) return lg_cli_usage_error("serve", "--db FILE is required");
    if (!o->nmodels) return lg_cli_usage_error("serve", "at least one --model NAME=RUN_DIR is required");
    if (o->per_client >= o->max_conn)
        return lg_cli_usage_error("serve", "--per-client %ld must be below --max-connections %ld",
                                  o->per_client, o->max_conn);
    if (strcmp(o->sync, "full") && strcmp(o->sync, "normal"))
        return lg_cli_usage_error("serve", "--sync wants full or normal, got '%s'", o->sync);
    o->cfg.trials = (int)trials;
    o->cfg.fixation_ms = (int)fixation;
    o->cfg.scale = (int)scale;
    o->cfg.max_sessions = (int)max_sessions;
    o->cfg.seed = (uint64_t)o->seed;
    return LG_EXIT_OK;
}

/* Every open connection is a file descriptor: raises the soft limit to
 * what --max-connections needs (plus the database, pools and stdio), up
 * to the hard limit, which the server then cannot exceed. */
static int fit_fd_limit(opts *o) {
    enum { SPARE = 64 };
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return LG_EXIT_OK;
    rlim_t need = (rlim_t)o->max_conn + SPARE;
    if (rl.rlim_cur < need) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < need)
        return lg_cli_usage_error("serve",
                                  "--max-connections %ld needs %lu open files; this process "
                                  "may have %lu (ulimit -n)",
                                  o->max_conn, (unsigned long)need, (unsigned long)rl.rlim_cur);
    return LG_EXIT_OK;
}

/* One stderr line per failed database write, from a server thread: the
 * participant got a 500 and may retry; the experimenter must know. */
static void report_db_error(void *ud, const char *msg) {
    fprintf(stderr, "lapgan serve: database write failed (the participant got HTTP 500): %s\n", msg);
}

static sigset_t stop_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return set;
}

/* True when SIGINT or SIGTERM came while they were blocked. */
static int stop_pending(void) {
    sigset_t set = stop_signals();
    struct timespec zero = {0, 0};
    return sigtimedwait(&set, NULL, &zero) > 0;
}

int lg_cmd_serve(int argc, char **argv) {
    opts o = {.data = "fashion-test", .host = "127.0.0.1", .sync = "full", .port = 8080,
              .pool = 20, .threads = 0, .http_threads = 4, .seed = 1, .max_conn = 1000,
              .per_client = 128, .idle_s = 30,
              .cfg = {.nexposure = 1, .exposure_ms = {200}}};
    int r = parse(&o, argc, argv);
    if (r) return r < 0 ? LG_EXIT_OK : r;
    if ((r = fit_fd_limit(&o))) return r;
    /* Blocked before any thread (OpenMP's, the server's) exists, so that
     * SIGINT/SIGTERM reach sigwait below and nothing else; one that comes
     * while the pools are made stops the server before it listens. */
    sigset_t set = stop_signals();
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    lg_set_threads((int)o.threads);
    lg_study_db *db = NULL;
    lg_study_server *srv = NULL;
    char *json = NULL;
    int64_t config_id = 0;
    lg_status st = lg_study_db_open(&db, o.db, 1, !strcmp(o.sync, "full"));
    double t0 = lg_time_s();
    if (st == LG_OK)
        st = lg_study_pools_build(&o.cfg, o.data, o.models, o.nmodels, (int)o.pool);
    if (st == LG_OK) st = lg_study_cfg_json(&o.cfg, o.data, &json);
    if (st == LG_OK) st = lg_study_db_config(db, json, &config_id);
    if (st == LG_OK && stop_pending()) st = lg_error(LG_ERR_INTERRUPTED, "interrupted");
    const lg_study_server_opts so = {.host = o.host, .port = (int)o.port,
                                     .threads = (int)o.http_threads,
                                     .max_connections = (int)o.max_conn,
                                     .per_client = (int)o.per_client,
                                     .idle_timeout_s = (int)o.idle_s,
                                     .on_db_error = report_db_error};
    if (st == LG_OK) st = lg_study_server_start(&srv, &o.cfg, db, config_id, &so);
    if (st == LG_OK) {
        const lg_study_cfg *c = &o.cfg;
        printf("study: %d sources x %d classes x %d images, %dx%d px (%s x%d), %zu-byte PNGs, "
               "made in %.1f s\n",
               c->nsources, c->nclasses, c->src[0].per_class, c->display, c->display,
               c->interp == LG_INTERP_NEAREST ? "nearest" : "bilinear", c->scale, c->png_len,
               lg_time_s() - t0);
        printf("database: %s (%lld judgements so far)\n", o.db,
               (long long)lg_study_db_count(db));
        printf("listening on http://%s%s%s:%d/\n", strchr(o.host, ':') ? "[" : "", o.host,
               strchr(o.host, ':') ? "]" : "", lg_study_server_port(srv));
        fflush(stdout);
        int sig;
        sigwait(&set, &sig);
        const long long failed = (long long)lg_study_server_db_failures(srv);
        lg_study_server_stop(srv);
        printf("stopped: %lld judgements in %s", (long long)lg_study_db_count(db), o.db);
        if (failed) printf(" (%lld database writes failed, see above)", failed);
        printf("\n");
    }
    free(json);
    lg_study_pools_free(&o.cfg);
    lg_study_db_close(db);
    return st == LG_OK ? LG_EXIT_OK : lg_cli_fail("serve", st);
}
