/* lapgan study: the human real-vs-generated study (the paper's section 5.3).
 *
 * A participant's browser gets one self-contained page from an embedded
 * HTTP server (libmicrohttpd), which issues trials from a seeded, balanced
 * schedule, serves each trial's image under an opaque random id and stores
 * every judgement in SQLite (WAL, one transaction per judgement; a judgement
 * is acknowledged only after its COMMIT returned).
 *
 * Internal to lapgan: the CLI (serve, study report) is its only user. Like
 * the rest of the library nothing here prints.
 */
#ifndef LG_STUDY_STUDY_H
#define LG_STUDY_STUDY_H
#include <stddef.h>
#include <stdint.h>

#include "lapgan/core.h"
#include "lapgan/data.h"

#define LG_STUDY_MAX_SOURCES 16 /* real + up to 15 models */
#define LG_STUDY_MAX_EXPOSURES 16
#define LG_STUDY_NAME_MAX 32

/* Display interpolation: the server enlarges every image itself, so the
 * browser shows the bytes as they are (CSS image-rendering: pixelated). */
typedef enum { LG_INTERP_NEAREST = 0, LG_INTERP_BILINEAR = 1 } lg_interp;

/* One PNG, pre-encoded in memory. Every image of a study has the same
 * dimensions and, stored without compression, the same byte length. */
typedef struct {
    uint8_t *png;
    size_t len;
    char id[33];      /* opaque random hex, never shown to participants */
    char ref[96];     /* provenance: "fashion-test#123" or "lapgan seed=7 i=4" */
} lg_study_image;

/* A source of images: the real test set or one model. */
typedef struct {
    char name[LG_STUDY_NAME_MAX]; /* "real" or the --model NAME */
    char path[512];               /* run dir or data spec */
    int conditional;              /* images chosen per class */
    int per_class;                /* images per class (conditional) or in all */
    lg_study_image *img;          /* [nclasses * per_class] or [per_class] */
} lg_study_source;

typedef struct {
    /* set by the caller */
    uint64_t seed;
    int trials;                         /* per session */
    int nexposure;
    int exposure_ms[LG_STUDY_MAX_EXPOSURES]; /* 0: unlimited */
    int scale;                          /* integer enlargement (0: about 224 px) */
    lg_interp interp;
    int fixation_ms;                    /* blank + cross before each image */
    int max_sessions;
    /* filled by lg_study_pools_build */
    int nsources;                       /* [0] is "real" */
    lg_study_source src[LG_STUDY_MAX_SOURCES];
    int nclasses;                       /* 1 when the data set is unlabelled */
    int labelled;
    char class_names[64][32];           /* the first 64 classes' names */
    int c, size, display;               /* channels, native and shown size */
    size_t png_len;
} lg_study_cfg;

/* ---- pools (pool.c) ------------------------------------------------------ */

typedef struct {
    const char *name; /* "lapgan" */
    const char *run_dir;
} lg_study_model_arg;

/* Loads the data set and every model, picks per_class real images per class
 * and draws per_class samples per class from each model (seeded), enlarges
 * and encodes them. Fails naming the model or data set that does not fit. */
lg_status lg_study_pools_build(lg_study_cfg *cfg, const char *data_spec,
                               const lg_study_model_arg *models, int nmodels, int per_class);
void lg_study_pools_free(lg_study_cfg *cfg);
/* Uncompressed PNG of an 8-bit HWC image (malloc'd, deterministic length). */
lg_status lg_study_png_encode(const uint8_t *px, int w, int h, int c, uint8_t **out,
                              size_t *len);
/* Enlarges a CHW image to HWC bytes, scale times in each direction. */
void lg_study_enlarge(const uint8_t *chw, int c, int s, int scale, lg_interp interp,
                      uint8_t *hwc);
/* 128-bit random token as 32 hex digits (getrandom). */
lg_status lg_study_token(char hex[33]);

/* ---- schedule (schedule.c) ------------------------------------------------ */

typedef struct {
    int source;   /* index into cfg->src */
    int cls;      /* class shown (-1: unconditional model or unlabelled data) */
    int image;    /* index into cfg->src[source].img */
    int exposure_ms;
} lg_study_trial;

/* Trial t (0-based) of session s: sources and classes come in shuffled
 * blocks of nsources * nclasses in which each (source, class) pair occurs
 * once; exposures in shuffled blocks of nexposure. Pure function of
 * (cfg->seed, s, t). */
void lg_study_schedule(const lg_study_cfg *cfg, int64_t session, int t, lg_study_trial *out);

/* ---- database (db.c) -------------------------------------------------------- */

typedef struct lg_study_db lg_study_db;

/* Opens (create != 0: creates when missing) a study database in WAL mode
 * with the schema in place. sync_full selects synchronous=FULL. */
lg_status lg_study_db_open(lg_study_db **out, const char *path, int create, int sync_full);
void lg_study_db_close(lg_study_db *db);
/* Stores this server run's configuration (JSON) and returns its id. A
 * database already holding a study whose models, data, seed, schedule or
 * display differ is refused. */
lg_status lg_study_db_config(lg_study_db *db, const char *study_json, int64_t *config_id);
/* The study-defining part of cfg as JSON (malloc'd): sources with their
 * paths, data spec, seed, trials, exposures, display, pool size, classes. */
lg_status lg_study_cfg_json(const lg_study_cfg *cfg, const char *data_spec, char **out);
lg_status lg_study_db_session_new(lg_study_db *db, const char *token, int64_t config_id,
                                  int64_t *id);
/* Calls fn for every stored session with the number of its judgements'
 * highest trial number + 1 (0 when none). */
lg_status lg_study_db_sessions(lg_study_db *db,
                               lg_status (*fn)(void *ud, int64_t id, const char *token,
                                               int next_trial),
                               void *ud);

typedef struct {
    int64_t session_id, config_id;
    int trial;            /* 1-based within the session */
    const char *image_id, *image_ref, *source;
    int cls;              /* -1: NULL */
    int exposure_ms;
    int judged_real;
    double rt_ms;         /* browser: image onset to answer */
    double server_ms;     /* server: image sent to answer received */
} lg_study_judgement;

/* One transaction; LG_OK only after COMMIT returned. A second judgement for
 * the same (session, trial) fails with LG_ERR_ARG. */
lg_status lg_study_db_judge(lg_study_db *db, const lg_study_judgement *j);
int64_t lg_study_db_count(lg_study_db *db);

/* ---- report (report.c) ---------------------------------------------------- */

typedef struct {
    char source[LG_STUDY_NAME_MAX];
    int cls;           /* -2: all classes */
    int exposure_ms;   /* -2: all exposures, 0: unlimited */
    int64_t n, judged_real;
    double frac, lo, hi; /* Wilson 95% */
    double p_vs_real;    /* two-proportion z test against "real"; NaN for real */
    double rt_median_ms;
} lg_study_row;

typedef struct {
    int nrows;
    lg_study_row *rows;    /* per source, then per source and class, then per exposure */
    int nsessions;
    int64_t njudgements;
    char class_names[64][32];
    int nclass_names;
} lg_study_report;

/* Wilson score interval for k successes in n trials at normal quantile z. */
void lg_study_wilson(int64_t k, int64_t n, double z, double *lo, double *hi);
/* Two-sided p-value of the pooled two-proportion z test. */
double lg_study_two_prop_p(int64_t k1, int64_t n1, int64_t k2, int64_t n2);
lg_status lg_study_report_build(const char *db_path, lg_study_report *out);
void lg_study_report_free(lg_study_report *r);
/* The report as an HTML section (malloc'd), between the markers
 * <!-- lapgan-study:begin --> and <!-- lapgan-study:end -->. */
lg_status lg_study_report_html(const lg_study_report *r, char **out);
/* Writes the section into an existing HTML file (replacing an earlier
 * section, else before </body>) or, when the file is absent, writes a whole
 * page. Atomic. */
lg_status lg_study_report_html_write(const lg_study_report *r, const char *path);

/* ---- server (server.c) ------------------------------------------------------ */

typedef struct lg_study_server lg_study_server;

typedef struct {
    const char *host;    /* IPv4 or IPv6 address, or "localhost" */
    int port;            /* 0: any free port */
    int threads;         /* server threads */
    int max_connections; /* open connections in all */
    int per_client;      /* from one address; below max_connections */
    int idle_timeout_s;  /* an idle connection is closed after this */
    /* Called from a server thread for every failed database write, with
     * its message; may be NULL. The server itself prints nothing. */
    void (*on_db_error)(void *ud, const char *msg);
    void *ud;
} lg_study_server_opts;

/* Starts the HTTP server with its own threads. The cfg and db must outlive
 * the server. */
lg_status lg_study_server_start(lg_study_server **out, lg_study_cfg *cfg, lg_study_db *db,
                                int64_t config_id, const lg_study_server_opts *opts);
int lg_study_server_port(const lg_study_server *s);
/* Database writes that failed so far (each also went to on_db_error). */
int64_t lg_study_server_db_failures(lg_study_server *s);
void lg_study_server_stop(lg_study_server *s);

/* The embedded page (page.c). */
extern const char lg_study_page[];
extern const unsigned lg_study_page_len;

#endif
