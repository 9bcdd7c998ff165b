/* Run directories: a run directory says what it is (run.json: model, data,
 * seed, precision, threads) and who is writing which level (level_<k>.lock,
 * an fcntl write lock the OS drops when its process dies, so a killed run
 * never leaves a stale lock). Training into a directory that holds a run
 * needs --resume (checked against the record) or --force (which removes
 * lapgan's own files of that run and nothing else). Levels of one run may
 * still be trained by separate processes: each locks only its levels.
 *
 * To record a new setting: a field in lg_run_info (gan.h), a key in
 * run_to_json/run_from_json, and a line in check_record when a resume must
 * keep it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"
#include "io/file.h"
#include "lapgan/io.h"
#include "level_internal.h"
#include "rundir.h"

#define LG_RUN_FORMAT "lapgan-run-1"
#define LG_RUN_PRECISION "fp32"

struct lg_rundir {
    char dir[4096];
    int fd[LG_PYR_MAX_LEVELS]; /* lock file descriptors, -1: not held */
    int prep_fd;               /* run.lock, held while lg_rundir_prepare checks */
};

lg_status lg_rundir_new(lg_rundir **out, const char *dir) {
    LG_CHECK(out && dir, LG_ERR_ARG, "lg_rundir_new: NULL argument");
    LG_CHECK(strlen(dir) < 4000, LG_ERR_ARG, "%.64s...: path too long", dir);
    lg_rundir *r = lg_alloc(sizeof *r);
    if (!r) return LG_ERR_NOMEM;
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    for (int k = 0; k < LG_PYR_MAX_LEVELS; k++) r->fd[k] = -1;
    r->prep_fd = -1;
    *out = r;
    return LG_OK;
}

static void unlock_level(lg_rundir *r, int k) {
    if (r->fd[k] >= 0) close(r->fd[k]); /* closing drops the fcntl lock */
    r->fd[k] = -1;
}

void lg_rundir_free(lg_rundir *r) {
    if (!r) return;
    for (int k = 0; k < LG_PYR_MAX_LEVELS; k++) unlock_level(r, k);
    lg_free(r);
}

/* The holder's pid: the kernel's answer, else what it wrote in the file. */
static long lock_holder(int fd) {
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_GETLK, &q) == 0 && q.l_type != F_UNLCK && q.l_pid > 0) return q.l_pid;
    char buf[32] = {0};
    if (pread(fd, buf, sizeof buf - 1, 0) > 0) return strtol(buf, NULL, 10);
    return 0;
}

/* Opens path (created if need be) and write-locks it: *fd on success;
 * *holder > 0 when another process holds it (wait: block until it lets go). */
static lg_status lock_path(const char *path, int wait, int *fd, long *holder) {
    *holder = 0;
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
    LG_CHECK(*fd >= 0, LG_ERR_IO, "%s: cannot open the lock file (%s)", path, strerror(errno));
    struct stat sb;
    struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    lg_status st = LG_OK;
    if (fstat(*fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = lg_error(LG_ERR_IO, "%s: not a regular file", path);
    } else if (fcntl(*fd, wait ? F_SETLKW : F_SETLK, &l) != 0) {
        const int e = errno;
        if (e == EAGAIN || e == EACCES) *holder = lock_holder(*fd);
        st = lg_error(LG_ERR_IO, "%s: cannot lock (%s)", path, strerror(e));
    }
    if (st != LG_OK) {
        close(*fd);
        *fd = -1;
        return st;
    }
    char pid[32];
    const int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    /* Only a hint for a reader on a file system without F_GETLK pids. */
    if (ftruncate(*fd, 0) != 0 || pwrite(*fd, pid, (size_t)n, 0) != n) (void)0;
    return LG_OK;
}

lg_status lg_rundir_lock(lg_rundir *r, int k) {
    LG_CHECK(r && k >= 0 && k < LG_PYR_MAX_LEVELS, LG_ERR_ARG, "lg_rundir_lock: bad argument");
    if (r->fd[k] >= 0) return LG_OK;
    char path[4200];
    long pid;
    snprintf(path, sizeof path, "%s/level_%d.lock", r->dir, k);
    lg_status st = lock_path(path, 0, &r->fd[k], &pid);
    if (st != LG_OK && pid > 0)
        return lg_error(LG_ERR_IO, "%s: level %d of this run is being trained by process %ld; "
                        "wait for it to finish or stop it", path, k, pid);
    return st;
}

/* ---- comparing model descriptions ---------------------------------------- */

static void value_text(const json_t *v, char *buf, size_t n) {
    if (json_is_real(v)) {
        snprintf(buf, n, "%.7g", json_real_value(v));
        return;
    }
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(buf, n, "%.80s", s ? s : "?");
    free(s);
}

/* The first path where a and b differ ("batch", "levels[1].g_width"), with
 * both values; 0 when equal. */
static int first_diff(const json_t *a, const json_t *b, char *path, size_t pn, char *va,
                      char *vb, size_t vn) {
    if (json_is_object(a) && json_is_object(b)) {
        const char *key;
        json_t *x;
        size_t len = strlen(path);
        json_object_foreach((json_t *)a, key, x) {
            snprintf(path + len, pn - len, "%s%s", len ? "." : "", key);
            const json_t *y = json_object_get(b, key);
            if (!y) {
                value_text(x, va, vn);
                snprintf(vb, vn, "absent");
                return 1;
            }
            if (first_diff(x, y, path, pn, va, vb, vn)) return 1;
        }
        path[len] = 0;
        json_object_foreach((json_t *)b, key, x) if (!json_object_get(a, key)) {
            snprintf(path + len, pn - len, "%s%s", len ? "." : "", key);
            snprintf(va, vn, "absent");
            value_text(x, vb, vn);
            return 1;
        }
        return 0;
    }
    if (json_is_array(a) && json_is_array(b) && json_array_size(a) == json_array_size(b) &&
        json_array_size(a) > 0 && json_is_object(json_array_get(a, 0))) {
        size_t len = strlen(path);
        for (size_t i = 0; i < json_array_size(a); i++) {
            snprintf(path + len, pn - len, "[%zu]", i);
            if (first_diff(json_array_get(a, i), json_array_get(b, i), path, pn, va, vb, vn))
                return 1;
        }
        path[len] = 0;
        return 0;
    }
    if (json_equal((json_t *)a, (json_t *)b)) return 0;
    value_text(a, va, vn);
    value_text(b, vb, vn);
    return 1;
}

static json_t *desc_json(const lg_model_desc *m) {
    char *s = NULL;
    if (lg_model_desc_to_json(m, &s) != LG_OK) return NULL;
    json_t *o = json_loads(s, 0, NULL);
    free(s);
    return o;
}

lg_status lg_model_desc_diff(const lg_model_desc *a, const char *what_a, const lg_model_desc *b,
                             const char *what_b, char *buf, size_t n) {
    LG_CHECK(a && b && buf && n, LG_ERR_ARG, "lg_model_desc_diff: NULL argument");
    json_t *ja = desc_json(a), *jb = desc_json(b);
    char path[256] = "", va[96], vb[96];
    int differ = !ja || !jb || first_diff(ja, jb, path, sizeof path, va, vb, sizeof va);
    json_decref(ja);
    json_decref(jb);
    buf[0] = 0;
    if (!differ) return LG_OK;
    if (!path[0]) snprintf(buf, n, "the model descriptions differ");
    else snprintf(buf, n, "model setting '%s' is %s in %s, %s %s", path, va, what_a, vb, what_b);
    return LG_ERR_FORMAT;
}

/* ---- run.json ------------------------------------------------------------ */

static void run_path(char *buf, size_t n, const char *dir) { snprintf(buf, n, "%s/run.json", dir); }

static lg_status run_to_json(const lg_run_info *ri, char **out) {
    char *mj = NULL;
    LG_TRY(lg_model_desc_to_json(&ri->model, &mj));
    json_t *model = json_loads(mj, 0, NULL);
    free(mj);
    json_t *o = json_pack("{s:s,s:s,s:o*,s:s,s:s,s:I,s:s,s:i}", "format", LG_RUN_FORMAT,
                          "lapgan_version", LG_VERSION, "model", model, "data", ri->data,
                          "data_source", ri->data_source, "seed", (json_int_t)ri->seed,
                          "precision", ri->precision, "threads", ri->threads);
    *out = o ? json_dumps(o, JSON_INDENT(1)) : NULL;
    json_decref(o);
    return *out ? LG_OK : lg_error(LG_ERR_NOMEM, "run.json: out of memory");
}

static lg_status run_from_json(lg_run_info *ri, const char *text, size_t len, const char *path) {
    json_error_t err;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    LG_CHECK(o, LG_ERR_FORMAT, "%s: not JSON (line %d: %s)", path, err.line, err.text);
    const char *fmt = NULL, *data = NULL, *src = NULL, *prec = NULL;
    json_t *model = NULL;
    json_int_t seed = 0;
    int threads = -1;
    lg_status st = LG_OK;
    if (json_unpack_ex(o, &err, 0, "{s:s,s:o,s:s,s:s,s:I,s:s,s?i}", "format", &fmt, "model",
                       &model, "data", &data, "data_source", &src, "seed", &seed, "precision",
                       &prec, "threads", &threads))
        st = lg_error(LG_ERR_FORMAT, "%s: %s", path, err.text);
    else if (strcmp(fmt, LG_RUN_FORMAT))
        st = lg_error(LG_ERR_UNSUPPORTED, "%s: run format '%.40s' is not one this build reads "
                      "('%s')", path, fmt, LG_RUN_FORMAT);
    if (st == LG_OK) {
        char *mj = json_dumps(model, JSON_COMPACT);
        st = mj ? lg_model_desc_from_json(&ri->model, mj, path) : LG_ERR_NOMEM;
        free(mj);
    }
    if (st == LG_OK) {
        snprintf(ri->data, sizeof ri->data, "%s", data);
        snprintf(ri->data_source, sizeof ri->data_source, "%s", src);
        snprintf(ri->precision, sizeof ri->precision, "%s", prec);
        ri->seed = (uint64_t)seed;
        ri->threads = threads;
    }
    json_decref(o);
    return st;
}

/* lstat of a level file: 1 present (any kind), 0 absent. */
static int level_present(const char *dir, int k) {
    char path[4200];
    struct stat sb;
    lg_level_path(path, sizeof path, dir, k);
    return lstat(path, &sb) == 0;
}

/* A run directory from before run.json: its record from a level file. */
static lg_status info_from_level(lg_run_info *ri, const char *dir) {
    char path[4200];
    for (int k = 0; k < LG_PYR_MAX_LEVELS; k++) {
        if (!level_present(dir, k)) continue;
        lg_level_path(path, sizeof path, dir, k);
        lg_safetensors *st;
        int level;
        int64_t step;
        LG_TRY(lg_checkpoint_peek(path, &ri->model, &level, &step));
        LG_TRY(lg_st_read(&st, path));
        const char *seed = lg_st_meta(st, "seed"), *src = lg_st_meta(st, "data_source");
        ri->seed = seed ? strtoull(seed, NULL, 10) : 0;
        snprintf(ri->data_source, sizeof ri->data_source, "%s", src ? src : "");
        lg_st_free(st);
        snprintf(ri->precision, sizeof ri->precision, LG_RUN_PRECISION);
        ri->threads = -1;
        return LG_OK;
    }
    return lg_error(LG_ERR_IO, "%s: holds no run (no run.json and no level_<k>.safetensors)",
                    dir);
}

lg_status lg_run_info_read(lg_run_info *ri, const char *run_dir) {
    LG_CHECK(ri && run_dir, LG_ERR_ARG, "lg_run_info_read: NULL argument");
    memset(ri, 0, sizeof *ri);
    ri->threads = -1;
    char path[4200];
    struct stat sb;
    if (stat(run_dir, &sb) != 0)
        return lg_error(LG_ERR_IO, "%s: no run here (%s)", run_dir, strerror(errno));
    LG_CHECK(S_ISDIR(sb.st_mode), LG_ERR_IO, "%s: not a directory", run_dir);
    run_path(path, sizeof path, run_dir);
    if (lstat(path, &sb) != 0) return info_from_level(ri, run_dir);
    unsigned char *text;
    size_t len;
    LG_TRY(lg_read_file(path, 1 << 20, &text, &len));
    lg_status st = run_from_json(ri, (const char *)text, len, path);
    lg_free(text);
    return st;
}

/* ---- the checks before training ------------------------------------------ */

static int mkdir_one(const char *path) {
    struct stat sb;
    if (mkdir(path, 0777) != 0 && errno != EEXIST) return -1;
    if (stat(path, &sb) != 0) return -1;
    if (!S_ISDIR(sb.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

lg_status lg_make_dirs(const char *path) {
    char buf[4200];
    LG_CHECK(strlen(path) < sizeof buf, LG_ERR_ARG, "%.64s...: path too long", path);
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        int bad = mkdir_one(buf);
        *p = '/';
        if (bad) return lg_error(LG_ERR_IO, "%s: cannot create directory (%s)", buf, strerror(errno));
    }
    LG_CHECK(mkdir_one(buf) == 0, LG_ERR_IO, "%s: cannot create directory (%s)", path,
             strerror(errno));
    return LG_OK;
}

/* name matches pattern, '#' standing for one or more digits, optionally
 * followed by ".tmp.<digits>" (an atomic write's temporary file). */
static int own_name(const char *name, const char *pat) {
    while (*pat) {
        if (*pat == '#') {
            if (*name < '0' || *name > '9') return 0;
            while (*name >= '0' && *name <= '9') name++;
            pat++;
        } else if (*name++ != *pat++) {
            return 0;
        }
    }
    return !*name || own_name(name, ".tmp.#");
}

typedef struct {
    const char *sub;       /* folder inside the run directory ("" for itself) */
    const char *pat[6];    /* lapgan's names there */
    const char *what;      /* for the notice */
} lg_own_files;

/* Everything a run writes into its directory (eval and report included:
 * they describe this run). Lock files stay: another process may be
 * waiting on one. */
static const lg_own_files own_files[] = {
    {"", {"level_#.safetensors", NULL}, "level checkpoints"},
    {"", {"log_level_#.jsonl", NULL}, "logs"},
    {"samples", {"level_#_step_#.png", "model_step_#.png", NULL}, "sample grids"},
    {"best", {"level_#.safetensors", NULL}, "best-model checkpoints"},
    {"", {"run.json", "metrics.json", "report.html", NULL}, "run records (run.json, metrics.json, report.html)"},
};
enum { LG_OWN_KINDS = sizeof own_files / sizeof own_files[0] };

/* Counts (remove = 0) or removes lapgan's files of kind i; -1 on error. */
static long own_pass(const char *dir, int i, int remove) {
    char sub[4200], path[4500];
    snprintf(sub, sizeof sub, "%s%s%s", dir, own_files[i].sub[0] ? "/" : "", own_files[i].sub);
    DIR *d = opendir(sub);
    if (!d) return errno == ENOENT ? 0 : -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int mine = 0;
        for (int j = 0; own_files[i].pat[j]; j++) mine |= own_name(e->d_name, own_files[i].pat[j]);
        if (!mine) continue;
        snprintf(path, sizeof path, "%s/%s", sub, e->d_name);
        if (remove && unlink(path) != 0 && errno != ENOENT) {
            closedir(d);
            return -1;
        }
        n++;
    }
    closedir(d);
    return n;
}

static void notice(const lg_train_cfg *cfg, const char *msg) {
    if (cfg->notice) cfg->notice(cfg->progress_ud, msg);
}

/* --force: one line saying what goes, then lapgan's files of the old run. */
static lg_status remove_run(const lg_rundir *r, const lg_train_cfg *cfg) {
    char msg[1024];
    int len = snprintf(msg, sizeof msg, "--force: removing the run in %s:", r->dir), any = 0;
    for (int i = 0; i < LG_OWN_KINDS; i++) {
        long n = own_pass(r->dir, i, 0);
        LG_CHECK(n >= 0, LG_ERR_IO, "%s: cannot list (%s)", r->dir, strerror(errno));
        if (n && len < (int)sizeof msg)
            len += snprintf(msg + len, sizeof msg - (size_t)len, "%s %ld %s", any++ ? "," : "", n,
                            own_files[i].what);
    }
    if (!any) return LG_OK;
    notice(cfg, msg);
    for (int i = 0; i < LG_OWN_KINDS; i++)
        LG_CHECK(own_pass(r->dir, i, 1) >= 0, LG_ERR_IO, "%s: cannot remove the old run's files "
                 "(%s)", r->dir, strerror(errno));
    return LG_OK;
}

/* The record of the run being started. */
static void given_info(lg_run_info *g, const lg_model_desc *m, const lg_dataset *ds,
                       const lg_train_cfg *cfg) {
    memset(g, 0, sizeof *g);
    g->model = *m;
    snprintf(g->data, sizeof g->data, "%s", cfg->data_spec ? cfg->data_spec : ds->source);
    snprintf(g->data_source, sizeof g->data_source, "%s", ds->source);
    g->seed = cfg->seed;
    g->threads = lg_get_threads();
    snprintf(g->precision, sizeof g->precision, LG_RUN_PRECISION);
}

/* The stored record against the given one: the settings a run keeps. */
static lg_status check_record(const lg_run_info *s, const lg_run_info *g, const char *path,
                              const char *hint) {
    char d[600];
    LG_CHECK(!strcmp(s->precision, g->precision), LG_ERR_IO,
             "%s: precision is '%s' in the run, '%s' given%s", path, s->precision, g->precision, hint);
    if (lg_model_desc_diff(&s->model, "the run", &g->model, "given", d, sizeof d) != LG_OK)
        return lg_error(LG_ERR_IO, "%s: %s%s", path, d, hint);
    LG_CHECK(!s->data_source[0] || !strcmp(s->data_source, g->data_source), LG_ERR_IO,
             "%s: data source is '%s' in the run, '%s' given%s", path, s->data_source,
             g->data_source, hint);
    LG_CHECK(s->seed == g->seed, LG_ERR_IO, "%s: seed is %llu in the run, %llu given%s", path,
             (unsigned long long)s->seed, (unsigned long long)g->seed, hint);
    return LG_OK;
}

/* Where the stored record came from: run.json, or a level file of a run
 * from before run.json. */
static void record_path(char *buf, size_t n, const char *dir) {
    char p[4200];
    struct stat sb;
    run_path(p, sizeof p, dir);
    for (int k = 0; lstat(p, &sb) != 0 && k < LG_PYR_MAX_LEVELS; k++)
        if (level_present(dir, k)) lg_level_path(p, sizeof p, dir, k);
    snprintf(buf, n, "%s", p);
}

static int holds_run(const char *dir) {
    char p[4200];
    struct stat sb;
    run_path(p, sizeof p, dir);
    if (lstat(p, &sb) == 0) return 1;
    for (int k = 0; k < LG_PYR_MAX_LEVELS; k++)
        if (level_present(dir, k)) return 1;
    return 0;
}

/* A new run, or new levels of the run the directory holds. */
static lg_status check_new(const lg_rundir *r, const lg_run_info *g, unsigned mask) {
    char path[4200];
    for (int k = 0; k < LG_PYR_MAX_LEVELS; k++) {
        if (!(mask >> k & 1) || !level_present(r->dir, k)) continue;
        lg_level_path(path, sizeof path, r->dir, k);
        return lg_error(LG_ERR_IO, "%s: the directory already holds level %d of a run: "
                        "--resume continues it, --force replaces it", path, k);
    }
    if (!holds_run(r->dir)) return LG_OK;
    lg_run_info s;
    char where[4200];
    record_path(where, sizeof where, r->dir);
    if (lg_run_info_read(&s, r->dir) != LG_OK) {
        char e[1024];
        snprintf(e, sizeof e, "%s", lg_errmsg());
        return lg_error(LG_ERR_IO, "%s (--force replaces the run)", e);
    }
    return check_record(&s, g, where, " (--force replaces the run, or train into another "
                        "directory)");
}

/* Level k's checkpoint must be there, and be a file. */
static lg_status check_level_file(const char *dir, int k) {
    char path[4200], target[4096];
    struct stat sb;
    lg_level_path(path, sizeof path, dir, k);
    if (lstat(path, &sb) != 0)
        return lg_error(LG_ERR_IO, "%s: missing: the run has no checkpoint of level %d to resume "
                        "(train it without --resume, with --levels %d)", path, k, k);
    if (stat(path, &sb) != 0) {
        int e = errno;
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n > 0 ? n : 0] = 0;
        if (e == ELOOP)
            return lg_error(LG_ERR_IO, "%s: symbolic link loop: level %d cannot be resumed", path, k);
        return lg_error(LG_ERR_IO, "%s: dangling symbolic link (to '%s'): level %d cannot be "
                        "resumed", path, target, k);
    }
    LG_CHECK(S_ISREG(sb.st_mode), LG_ERR_IO, "%s: not a regular file: level %d cannot be resumed",
             path, k);
    return LG_OK;
}

static lg_status check_resume(const lg_rundir *r, const lg_run_info *g, unsigned mask,
                              const lg_train_cfg *cfg) {
    LG_CHECK(holds_run(r->dir), LG_ERR_IO, "%s: holds no run to resume (no run.json and no "
             "level_<k>.safetensors)", r->dir);
    for (int k = 0; k < LG_PYR_MAX_LEVELS; k++)
        if (mask >> k & 1) LG_TRY(check_level_file(r->dir, k));
    lg_run_info s;
    char where[4200];
    record_path(where, sizeof where, r->dir);
    LG_TRY(lg_run_info_read(&s, r->dir));
    LG_TRY(check_record(&s, g, where, " (a resumed run keeps its settings)"));
    if (s.threads > 0 && s.threads != g->threads) {
        char msg[4400];
        snprintf(msg, sizeof msg, "%s: the run started with %d threads, this resume uses %d: "
                 "the result will not be bit-identical to an uninterrupted run", where,
                 s.threads, g->threads);
        notice(cfg, msg);
    }
    return LG_OK;
}

static lg_status write_record(const lg_rundir *r, const lg_run_info *g) {
    char path[4200], *text;
    run_path(path, sizeof path, r->dir);
    LG_TRY(run_to_json(g, &text));
    lg_status st = lg_atomic_write_file(path, text, strlen(text));
    free(text);
    return st;
}

static lg_status prepare(lg_rundir *r, const lg_model_desc *m, const lg_dataset *ds,
                         const lg_train_cfg *cfg, unsigned mask) {
    char path[4200];
    struct stat sb;
    LG_CHECK(!(cfg->resume && cfg->force), LG_ERR_ARG, "resume and force exclude each other");
    LG_CHECK(!cfg->resume || stat(r->dir, &sb) == 0, LG_ERR_IO, "%s: nothing to resume (%s)",
             r->dir, strerror(errno));
    LG_TRY(lg_make_dirs(r->dir));
    /* One process at a time checks the directory and writes run.json: two
     * new runs of different models started together cannot mix. */
    long pid;
    snprintf(path, sizeof path, "%s/run.lock", r->dir);
    LG_TRY(lock_path(path, 1, &r->prep_fd, &pid));
    /* Under force, every level of the old run: none may be in training. */
    for (int k = 0; k < LG_PYR_MAX_LEVELS; k++)
        if (mask >> k & 1 || (cfg->force && level_present(r->dir, k))) LG_TRY(lg_rundir_lock(r, k));
    lg_run_info g;
    given_info(&g, m, ds, cfg);
    run_path(path, sizeof path, r->dir);
    if (cfg->force) LG_TRY(remove_run(r, cfg));
    else if (cfg->resume) LG_TRY(check_resume(r, &g, mask, cfg));
    else LG_TRY(check_new(r, &g, mask));
    if (lstat(path, &sb) != 0) LG_TRY(write_record(r, &g));
    snprintf(path, sizeof path, "%s/samples", r->dir);
    return lg_make_dirs(path);
}

lg_status lg_rundir_prepare(lg_rundir *r, const lg_model_desc *m, const lg_dataset *ds,
                            const lg_train_cfg *cfg, unsigned mask, int keep) {
    LG_CHECK(r && m && ds && cfg, LG_ERR_ARG, "lg_rundir_prepare: NULL argument");
    lg_status st = prepare(r, m, ds, cfg, mask);
    if (r->prep_fd >= 0) close(r->prep_fd); /* the next process may check now */
    r->prep_fd = -1;
    for (int k = 0; k < LG_PYR_MAX_LEVELS; k++)
        if (st != LG_OK || !keep || !(mask >> k & 1)) unlock_level(r, k);
    return st;
}
