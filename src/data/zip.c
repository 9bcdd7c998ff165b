/* Zip archives (libzip), for the dataset zips of StyleGAN2-ADA's
 * dataset_tool.py and NumPy's .npz. Only what those write is accepted:
 * stored or deflated entries, no encryption, relative paths without "..".
 * Every entry is read whole and bounded: its declared size must fit the
 * caller's limit and what deflate can produce from its compressed bytes,
 * and no more than the declared size is ever inflated, so a zip bomb costs
 * at most the limit (libzip checks each entry's CRC at its end). A stored
 * entry can also be read piecewise at any offset (lg_zip_entry), which is
 * how an .npz written by np.savez is streamed. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "core/check.h"
#include "data/dataset.h"
#include "io/file.h"

/* Deflate expands at most 1032:1 (a 258-byte match per 2 bits); anything
 * claiming more than that, plus some slack for tiny entries, is a lie. */
#define ZIP_MAX_RATIO 1032u
#define ZIP_RATIO_SLACK 4096u

struct lg_zip {
    zip_t *za;
    char path[4096];
    int n;
};

static lg_status zip_fail(const char *path, int code) {
    zip_error_t e;
    zip_error_init_with_code(&e, code);
    lg_status st = lg_error(LG_ERR_FORMAT, "%s: not a readable zip archive: %s", path,
                            zip_error_strerror(&e));
    zip_error_fini(&e);
    return st;
}

/* An entry name a reader could write outside its directory, or that names
 * nothing: absolute, a drive letter, or a ".." component ('\\' counts as
 * a separator, as Windows tools write them). */
static int unsafe_name(const char *name) {
    if (!name[0] || name[0] == '/' || name[0] == '\\') return 1;
    if (((name[0] | 32) >= 'a' && (name[0] | 32) <= 'z') && name[1] == ':') return 1;
    for (const char *p = name; *p;) {
        size_t k = strcspn(p, "/\\");
        if (k == 2 && p[0] == '.' && p[1] == '.') return 1;
        p += k;
        if (*p) p++;
    }
    return 0;
}

/* Refuses, up front, every entry the readers below would not read. */
static lg_status check_entry(lg_zip *z, int i) {
    zip_stat_t sb;
    zip_stat_init(&sb);
    LG_CHECK(zip_stat_index(z->za, (zip_uint64_t)i, 0, &sb) == 0 && (sb.valid & ZIP_STAT_NAME),
             LG_ERR_FORMAT, "%s: entry %d: cannot read its directory record: %s", z->path, i,
             zip_strerror(z->za));
    LG_CHECK(!unsafe_name(sb.name), LG_ERR_FORMAT,
             "%s: entry '%s': absolute path or '..' in the name (refused)", z->path, sb.name);
    LG_CHECK(!(sb.valid & ZIP_STAT_ENCRYPTION_METHOD) || sb.encryption_method == ZIP_EM_NONE,
             LG_ERR_UNSUPPORTED, "%s: entry '%s': encrypted entries are not supported", z->path,
             sb.name);
    LG_CHECK(sb.comp_method == ZIP_CM_STORE || sb.comp_method == ZIP_CM_DEFLATE,
             LG_ERR_UNSUPPORTED,
             "%s: entry '%s': compression method %d (only stored or deflated entries)", z->path,
             sb.name, (int)sb.comp_method);
    return LG_OK;
}

lg_status lg_zip_open(lg_zip **out, const char *path) {
    LG_CHECK(out && path, LG_ERR_ARG, "lg_zip_open: NULL argument");
    *out = NULL;
    int fd;
    LG_TRY(lg_open_regular(path, &fd, NULL)); /* never block on a FIFO */
    lg_zip *z = calloc(1, sizeof *z);
    if (!z) close(fd);
    LG_CHECK(z, LG_ERR_NOMEM, "%s: out of memory", path);
    snprintf(z->path, sizeof z->path, "%s", path);
    int err = 0;
    /* libzip takes fd on success only (it works on a dup). */
    z->za = zip_fdopen(fd, ZIP_CHECKCONS, &err);
    if (!z->za) {
        close(fd);
        free(z);
        return zip_fail(path, err);
    }
    zip_int64_t n = zip_get_num_entries(z->za, 0);
    lg_status st = n >= 0 && n <= 0x7fffffff
                       ? LG_OK
                       : lg_error(LG_ERR_FORMAT, "%s: %lld entries", path, (long long)n);
    z->n = (int)n;
    for (int i = 0; st == LG_OK && i < z->n; i++) st = check_entry(z, i);
    if (st != LG_OK) {
        lg_zip_close(z);
        return st;
    }
    *out = z;
    return LG_OK;
}

void lg_zip_close(lg_zip *z) {
    if (!z) return;
    if (z->za) zip_discard(z->za);
    free(z);
}

int lg_zip_count(const lg_zip *z) { return z->n; }

const char *lg_zip_name(const lg_zip *z, int i) {
    return zip_get_name(z->za, (zip_uint64_t)i, 0);
}

const char *lg_zip_path(const lg_zip *z) { return z->path; }

/* The declared sizes of entry i, checked against max and against what its
 * compressed bytes can hold. */
static lg_status entry_size(lg_zip *z, int i, size_t max, size_t *size) {
    zip_stat_t sb;
    zip_stat_init(&sb);
    const char *name = lg_zip_name(z, i);
    LG_CHECK(zip_stat_index(z->za, (zip_uint64_t)i, 0, &sb) == 0 &&
                 (sb.valid & ZIP_STAT_SIZE) && (sb.valid & ZIP_STAT_COMP_SIZE),
             LG_ERR_FORMAT, "%s: entry '%s': no sizes in its directory record", z->path,
             name ? name : "?");
    LG_CHECK(sb.size <= max, LG_ERR_FORMAT,
             "%s: entry '%s': %llu bytes uncompressed, more than the %zu allowed", z->path,
             sb.name, (unsigned long long)sb.size, max);
    int stored = sb.comp_method == ZIP_CM_STORE;
    LG_CHECK(stored ? sb.size == sb.comp_size
                    : sb.size <= (zip_uint64_t)ZIP_MAX_RATIO * sb.comp_size + ZIP_RATIO_SLACK,
             LG_ERR_FORMAT,
             "%s: entry '%s': claims %llu bytes from %llu %s bytes, more than %s can hold "
             "(zip bomb or corrupt directory)",
             z->path, sb.name, (unsigned long long)sb.size, (unsigned long long)sb.comp_size,
             stored ? "stored" : "compressed", stored ? "stored data" : "deflate");
    *size = (size_t)sb.size;
    return LG_OK;
}

lg_status lg_zip_check_size(lg_zip *z, int i, size_t max) {
    LG_CHECK(z && i >= 0 && i < z->n, LG_ERR_ARG, "lg_zip_check_size: bad argument");
    size_t size;
    return entry_size(z, i, max, &size);
}

lg_status lg_zip_read(lg_zip *z, int i, size_t max, unsigned char **out, size_t *len) {
    LG_CHECK(z && out && len && i >= 0 && i < z->n, LG_ERR_ARG, "lg_zip_read: bad argument");
    *out = NULL;
    *len = 0;
    size_t size = 0;
    LG_TRY(entry_size(z, i, max, &size));
    const char *name = lg_zip_name(z, i);
    zip_file_t *f = zip_fopen_index(z->za, (zip_uint64_t)i, 0);
    LG_CHECK(f, LG_ERR_FORMAT, "%s: entry '%s': cannot open: %s", z->path, name,
             zip_strerror(z->za));
    unsigned char *buf = lg_alloc(size + 1);
    lg_status st = buf ? LG_OK
                       : lg_error(LG_ERR_NOMEM, "%s: entry '%s': out of memory for %zu bytes",
                                  z->path, name, size);
    size_t got = 0;
    /* One byte more than declared: data past the declared size is refused,
     * not inflated. */
    while (st == LG_OK && got <= size) {
        zip_int64_t k = zip_fread(f, buf + got, size + 1 - got);
        if (k < 0)
            st = lg_error(LG_ERR_FORMAT, "%s: entry '%s': corrupt data after %zu bytes: %s",
                          z->path, name, got, zip_file_strerror(f));
        else if (k == 0)
            break;
        else
            got += (size_t)k;
    }
    if (st == LG_OK && got != size)
        st = lg_error(LG_ERR_FORMAT, "%s: entry '%s': %zu bytes of data, its record declares %zu",
                      z->path, name, got, size);
    zip_fclose(f);
    if (st != LG_OK) {
        lg_free(buf);
        return st;
    }
    *out = buf;
    *len = size;
    return LG_OK;
}

int lg_zip_stored(lg_zip *z, int i) {
    zip_stat_t sb;
    zip_stat_init(&sb);
    return z && i >= 0 && i < z->n && zip_stat_index(z->za, (zip_uint64_t)i, 0, &sb) == 0 &&
           (sb.valid & ZIP_STAT_COMP_METHOD) && sb.comp_method == ZIP_CM_STORE;
}

/* ---- a stored entry read at any offset ----------------------------------- */

struct lg_zip_entry {
    lg_zip *z;
    zip_file_t *f;
    int index;
    uint64_t size;
    pthread_mutex_t lock; /* a zip_file_t is one thread's at a time */
};

lg_status lg_zip_entry_open(lg_zip *z, int i, lg_zip_entry **out, uint64_t *size) {
    LG_CHECK(z && out && size && i >= 0 && i < z->n, LG_ERR_ARG,
             "lg_zip_entry_open: bad argument");
    *out = NULL;
    size_t sz;
    LG_TRY(entry_size(z, i, SIZE_MAX, &sz));
    const char *name = lg_zip_name(z, i);
    LG_CHECK(lg_zip_stored(z, i), LG_ERR_UNSUPPORTED,
             "%s: entry '%s' is compressed; only stored entries are read piecewise", z->path,
             name);
    lg_zip_entry *e = calloc(1, sizeof *e);
    LG_CHECK(e, LG_ERR_NOMEM, "%s: out of memory", z->path);
    e->f = zip_fopen_index(z->za, (zip_uint64_t)i, 0);
    if (!e->f) {
        free(e);
        return lg_error(LG_ERR_FORMAT, "%s: entry '%s': cannot open: %s", z->path, name,
                        zip_strerror(z->za));
    }
    e->z = z;
    e->index = i;
    e->size = sz;
    pthread_mutex_init(&e->lock, NULL);
    *out = e;
    *size = sz;
    return LG_OK;
}

/* The entry's name is looked up only for a message: the hot path touches
 * nothing of the archive but this entry's file, under its lock. */
lg_status lg_zip_entry_pread(lg_zip_entry *e, uint64_t at, void *buf, size_t len) {
    pthread_mutex_lock(&e->lock);
    if (at > e->size || len > e->size - at) {
        lg_status st = lg_error(LG_ERR_FORMAT,
                                "%s: entry '%s': bytes %llu..%llu asked for, the entry has %llu",
                                e->z->path, lg_zip_name(e->z, e->index), (unsigned long long)at,
                                (unsigned long long)(at + len), (unsigned long long)e->size);
        pthread_mutex_unlock(&e->lock);
        return st;
    }
    size_t got = 0;
    int ok = zip_fseek(e->f, (zip_int64_t)at, SEEK_SET) == 0;
    while (ok && got < len) {
        zip_int64_t k = zip_fread(e->f, (unsigned char *)buf + got, len - got);
        if (k <= 0) break;
        got += (size_t)k;
    }
    lg_status st = ok && got == len
                       ? LG_OK
                       : lg_error(LG_ERR_IO, "%s: entry '%s': %zu of %zu bytes at %llu could be "
                                  "read: %s (the file changed after opening?)",
                                  e->z->path, lg_zip_name(e->z, e->index), got, len,
                                  (unsigned long long)at,
                                  zip_file_strerror(e->f));
    pthread_mutex_unlock(&e->lock);
    return st;
}

void lg_zip_entry_close(lg_zip_entry *e) {
    if (!e) return;
    zip_fclose(e->f);
    pthread_mutex_destroy(&e->lock);
    free(e);
}
