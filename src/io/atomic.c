/* Atomic file writes: a reader (or a crash) sees the old file or the whole
 * new one, never a prefix. Temp file in the same directory (rename is only
 * atomic within a file system), fsync, rename, fsync the directory.
 * Also the matching whole-file read. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"
#include "io/file.h"
#include "lapgan/io.h"

struct lg_atomic_file {
    int fd;
    char *path; /* target */
    char *tmp;  /* "<path>.tmp.<pid>" */
};

lg_status lg_atomic_open(lg_atomic_file **out, const char *path) {
    LG_CHECK(out, LG_ERR_ARG, "lg_atomic_open: out is NULL");
    *out = NULL;
    LG_CHECK(path && path[0], LG_ERR_ARG, "lg_atomic_open: empty path");
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
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
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
    LG_CHECK(f && (buf || len == 0), LG_ERR_ARG, "lg_atomic_write: NULL argument");
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

lg_status lg_atomic_commit(lg_atomic_file *f) {
    LG_CHECK(f, LG_ERR_ARG, "lg_atomic_commit: NULL file");
    lg_status st = LG_OK;
    if (fsync(f->fd) != 0)
        st = lg_error(LG_ERR_IO, "%s: fsync failed: %s", f->path, strerror(errno));
    if (close(f->fd) != 0 && st == LG_OK)
        st = lg_error(LG_ERR_IO, "%s: close failed: %s", f->path, strerror(errno));
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

void lg_atomic_abort(lg_atomic_file *f) {
    if (!f) return;
    close(f->fd);
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

lg_status lg_read_file(const char *path, size_t max_bytes, unsigned char **out, size_t *len) {
    LG_CHECK(path && out && len, LG_ERR_ARG, "lg_read_file: NULL argument");
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    LG_CHECK(fd >= 0, LG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    lg_status st = LG_OK;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        st = lg_error(LG_ERR_IO, "%s: not a regular file", path);
    else if ((uint64_t)sb.st_size > max_bytes)
        st = lg_error(LG_ERR_FORMAT, "%s: %lld bytes, more than the %zu allowed", path,
                      (long long)sb.st_size, max_bytes);
    size_t n = st == LG_OK ? (size_t)sb.st_size : 0, got = 0;
    unsigned char *buf = st == LG_OK ? lg_alloc(n ? n : 1) : NULL;
    if (st == LG_OK && !buf) st = LG_ERR_NOMEM;
    while (st == LG_OK && got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0)
            st = lg_error(LG_ERR_IO, "%s: read failed after %zu of %zu bytes: %s", path, got, n,
                          k < 0 ? strerror(errno) : "file shrank");
        else
            got += (size_t)k;
    }
    close(fd);
    if (st != LG_OK) {
        lg_free(buf);
        return st;
    }
    *out = buf;
    *len = n;
    return LG_OK;
}
