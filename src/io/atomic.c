/* Atomic file writes: a reader (or a crash) sees the old file or the whole
 * new one, never a prefix. Temp file in the same directory (rename is only
 * atomic within a file system), fsync, rename, fsync the directory.
 *
 * rename() replaces whatever directory entry the target is: a symlink, a
 * FIFO or, as root, a device node would be swapped for a regular file (the
 * issue saw /dev/full replaced). So the target must be absent or a regular
 * file, checked when the temp file is made and again just before the rename.
 *
 * User-named outputs (sample -o, report, ...) go through lg_outputs: they
 * also refuse a run's own files and are committed together, so a command
 * that fails leaves none of them behind. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"
#include "io/file.h"
#include "lapgan/io.h"

struct lg_atomic_file {
    int fd;     /* -1 once closed (prepared) */
    char *path; /* target */
    char *tmp;  /* "<path>.tmp.<pid>" */
};

/* The target may be replaced only when absent or a regular file. */
static lg_status check_replaceable(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) {
        LG_CHECK(errno == ENOENT, LG_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        return LG_OK;
    }
    LG_CHECK(S_ISREG(sb.st_mode), LG_ERR_IO, "%s: exists and is %s, not a regular file; not "
             "replacing it", path, lg_file_kind(sb.st_mode));
    return LG_OK;
}

/* O_EXCL | O_NOFOLLOW: never write through a link planted at the temp
 * name. A regular file there is a leftover of a killed process that had
 * our pid; it is nobody's data, so it is replaced. */
static int create_tmp(const char *tmp) {
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    int fd = open(tmp, flags, 0644);
    struct stat sb;
    if (fd < 0 && errno == EEXIST && lstat(tmp, &sb) == 0 && S_ISREG(sb.st_mode) &&
        unlink(tmp) == 0)
        fd = open(tmp, flags, 0644);
    return fd;
}

lg_status lg_atomic_open(lg_atomic_file **out, const char *path) {
    LG_CHECK(out, LG_ERR_ARG, "lg_atomic_open: out is NULL");
    *out = NULL;
    LG_CHECK(path && path[0], LG_ERR_ARG, "lg_atomic_open: empty path");
    LG_TRY(check_replaceable(path));
    lg_atomic_file *f = calloc(1, sizeof *f);
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    char *dup = strdup(path);
    if (!f || !tmp || !dup) {
        free(f);
        free(tmp);
        free(dup);
        return lg_error(LG_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    int fd = create_tmp(tmp);
    if (fd < 0) {
        int e = errno;
        free(f);
        free(tmp);
        free(dup);
        return lg_error(LG_ERR_IO, "%s: cannot create: %s", path, strerror(e));
    }
    f->fd = fd;
    f->path = dup;
    f->tmp = tmp;
    *out = f;
    return LG_OK;
}

lg_status lg_atomic_write(lg_atomic_file *f, const void *buf, size_t len) {
    LG_CHECK(f && f->fd >= 0 && (buf || len == 0), LG_ERR_ARG, "lg_atomic_write: bad argument");
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t k = write(f->fd, p, len);
        if (k < 0 && errno == EINTR) continue;
        LG_CHECK(k > 0, LG_ERR_IO, "%s: write failed: %s", f->path,
                 k < 0 ? strerror(errno) : "no progress");
        p += k;
        len -= (size_t)k;
    }
    return LG_OK;
}

static void atomic_release(lg_atomic_file *f) {
    free(f->path);
    free(f->tmp);
    free(f);
}

/* A crash right after rename could otherwise lose the directory entry. */
static lg_status fsync_parent(const char *path) {
    char *dup = strdup(path);
    LG_CHECK(dup, LG_ERR_NOMEM, "%s: out of memory", path);
    int dfd = open(dirname(dup), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dup);
    LG_CHECK(dfd >= 0, LG_ERR_IO, "%s: cannot open its directory: %s", path, strerror(errno));
    int rc = fsync(dfd);
    int e = errno;
    close(dfd);
    /* Some file systems refuse fsync on directories; the rename stands. */
    LG_CHECK(rc == 0 || e == EINVAL || e == EROFS, LG_ERR_IO, "%s: directory fsync failed: %s",
             path, strerror(e));
    return LG_OK;
}

/* fsync and close the temp file: its bytes are on disk, nothing replaced. */
static lg_status atomic_prepare(lg_atomic_file *f) {
    if (f->fd < 0) return LG_OK;
    lg_status st = LG_OK;
    if (fsync(f->fd) != 0)
        st = lg_error(LG_ERR_IO, "%s: fsync failed: %s", f->path, strerror(errno));
    if (close(f->fd) != 0 && st == LG_OK)
        st = lg_error(LG_ERR_IO, "%s: close failed: %s", f->path, strerror(errno));
    f->fd = -1;
    return st;
}

/* Renames a prepared temp file over its target; frees f either way. */
static lg_status atomic_rename(lg_atomic_file *f) {
    lg_status st = check_replaceable(f->path);
    if (st == LG_OK && rename(f->tmp, f->path) != 0)
        st = lg_error(LG_ERR_IO, "%s: rename failed: %s", f->path, strerror(errno));
    if (st != LG_OK) {
        unlink(f->tmp);
        atomic_release(f);
        return st;
    }
    st = fsync_parent(f->path);
    atomic_release(f);
    return st;
}

lg_status lg_atomic_commit(lg_atomic_file *f) {
    LG_CHECK(f, LG_ERR_ARG, "lg_atomic_commit: NULL file");
    lg_status st = atomic_prepare(f);
    if (st != LG_OK) {
        unlink(f->tmp);
        atomic_release(f);
        return st;
    }
    return atomic_rename(f);
}

void lg_atomic_abort(lg_atomic_file *f) {
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    unlink(f->tmp);
    atomic_release(f);
}

lg_status lg_atomic_write_file(const char *path, const void *buf, size_t len) {
    lg_atomic_file *f;
    LG_TRY(lg_atomic_open(&f, path));
    lg_status st = lg_atomic_write(f, buf, len);
    if (st != LG_OK) {
        lg_atomic_abort(f);
        return st;
    }
    return lg_atomic_commit(f);
}

/* ---- user-named outputs --------------------------------------------------- */

/* The files a run directory's trainer owns (and their temp files). A user
 * output must never replace one: `sample -o RUN/level_0.safetensors` once
 * overwrote the model's own checkpoint with a PNG. */
static const char *const run_file_patterns[] = {
    "level_[0-9]*.safetensors*", "log_level_[0-9]*.jsonl*", "level_[0-9]*.lock",
    "run.json", ".lapgan*",
};

static int is_run_file(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t i = 0; i < sizeof run_file_patterns / sizeof run_file_patterns[0]; i++)
        if (fnmatch(run_file_patterns[i], base, 0) == 0) return 1;
    return 0;
}

lg_status lg_output_check(const char *path) {
    LG_CHECK(path && path[0], LG_ERR_ARG, "output path is empty");
    size_t n = strlen(path);
    LG_CHECK(path[n - 1] != '/', LG_ERR_IO, "%s: names a directory, not a file", path);
    LG_CHECK(!is_run_file(path), LG_ERR_IO, "%s: is a run directory's own file (checkpoint, "
             "log or lock); choose another output name", path);
    LG_TRY(check_replaceable(path));
    char *dup = strdup(path);
    LG_CHECK(dup, LG_ERR_NOMEM, "%s: out of memory", path);
    struct stat sb;
    int ok = stat(dirname(dup), &sb) == 0 && S_ISDIR(sb.st_mode);
    int e = errno;
    lg_status st = ok ? LG_OK
                      : lg_error(LG_ERR_IO, "%s: its directory %s does not exist%s%s", path, dup,
                                 e == ENOENT ? "" : ": ", e == ENOENT ? "" : strerror(e));
    free(dup);
    return st;
}

struct lg_outputs {
    lg_atomic_file **f; /* prepared temp files, in the order added */
    int n, cap;
};

lg_status lg_outputs_new(lg_outputs **out) {
    LG_CHECK(out, LG_ERR_ARG, "lg_outputs_new: out is NULL");
    *out = calloc(1, sizeof **out);
    LG_CHECK(*out, LG_ERR_NOMEM, "out of memory");
    return LG_OK;
}

void lg_outputs_free(lg_outputs *o) {
    if (!o) return;
    for (int i = 0; i < o->n; i++) lg_atomic_abort(o->f[i]);
    free(o->f);
    free(o);
}

/* Two outputs of one command naming the same file (`-o a.png --chain
 * ./a.png`) would share a temp file; compare the resolved directory and name. */
static int same_target(const char *a, const char *b) {
    char *da = strdup(a), *db = strdup(b), ra[PATH_MAX], rb[PATH_MAX];
    int same = !strcmp(a, b);
    if (!same && da && db) {
        const char *ba = strrchr(a, '/'), *bb = strrchr(b, '/');
        ba = ba ? ba + 1 : a;
        bb = bb ? bb + 1 : b;
        same = !strcmp(ba, bb) && realpath(dirname(da), ra) && realpath(dirname(db), rb) &&
               !strcmp(ra, rb);
    }
    free(da);
    free(db);
    return same;
}

lg_status lg_outputs_add(lg_outputs *o, const char *path, const void *buf, size_t len) {
    LG_CHECK(o && path && (buf || len == 0), LG_ERR_ARG, "lg_outputs_add: NULL argument");
    for (int i = 0; i < o->n; i++)
        LG_CHECK(!same_target(o->f[i]->path, path), LG_ERR_ARG,
                 "%s: the same file is given for two outputs (%s)", path, o->f[i]->path);
    LG_TRY(lg_output_check(path));
    if (o->n == o->cap) {
        int cap = o->cap ? 2 * o->cap : 4;
        lg_atomic_file **f = realloc(o->f, (size_t)cap * sizeof *f);
        LG_CHECK(f, LG_ERR_NOMEM, "%s: out of memory", path);
        o->f = f;
        o->cap = cap;
    }
    lg_atomic_file *f;
    LG_TRY(lg_atomic_open(&f, path));
    lg_status st = lg_atomic_write(f, buf, len);
    if (st == LG_OK) st = atomic_prepare(f);
    if (st != LG_OK) {
        lg_atomic_abort(f);
        return st;
    }
    o->f[o->n++] = f;
    return LG_OK;
}

lg_status lg_outputs_commit(lg_outputs *o) {
    LG_CHECK(o, LG_ERR_ARG, "lg_outputs_commit: NULL argument");
    lg_status st = LG_OK;
    int i = 0;
    /* Check every target again first, so a failure renames none of them. */
    for (int j = 0; st == LG_OK && j < o->n; j++) st = check_replaceable(o->f[j]->path);
    for (; st == LG_OK && i < o->n; i++) st = atomic_rename(o->f[i]);
    /* Renamed or failed files are freed; the rest are removed by free. */
    memmove(o->f, o->f + i, (size_t)(o->n - i) * sizeof *o->f);
    o->n -= i;
    return st;
}

lg_status lg_output_write_file(const char *path, const void *buf, size_t len) {
    lg_outputs *o;
    LG_TRY(lg_outputs_new(&o));
    lg_status st = lg_outputs_add(o, path, buf, len);
    if (st == LG_OK) st = lg_outputs_commit(o);
    lg_outputs_free(o);
    return st;
}
