/* NumPy arrays: .npy files and .npz archives (a zip of .npy entries,
 * stored or deflated, read through src/data/zip.c). Images are uint8 in
 * one of three shapes: (N, H, W) grey, (N, H, W, C) or (N, C, H, W) with C
 * 1 or 3; the channel axis is whichever of axes 1 and 3 is 1 or 3, and a
 * shape where both are (or neither is) is refused rather than guessed.
 * Labels are a 1-d integer array of N class indices 0..K-1, each used.
 * The header is parsed strictly (the three keys numpy writes, each once)
 * and the data must be exactly what the shape says. A .npy file is
 * streamed (each image read from the file when asked for), and so is an
 * .npz whose image array is stored (np.savez); a deflated one
 * (np.savez_compressed) is read into memory. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "data/dataset.h"
#include "io/file.h"

#define NPY_MAX_DIMS 8
#define NPY_MAX_SIDE 4096
#define NPY_MAX_BYTES ((size_t)1 << 31) /* an array read into memory */
/* A streamed array costs no memory whatever its size: only the header's
 * limits (shape entries below 2^31, sides at most 4096) bound it. */
#define NPY_MAX_STREAMED ((size_t)1 << 62)
#define NPY_MAX_HEADER 65536

typedef struct {
    char kind;       /* 'u', 'i', 'f', ... */
    int size;        /* bytes per element */
    int big;         /* big-endian */
    int fortran;
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
    const unsigned char *data;
    size_t nbytes; /* of data: elements x size */
    char descr[16];
} npy_array;

/* ---- header ------------------------------------------------------------- */

typedef struct {
    const char *p, *end, *name;
} npy_text;

static void skip_ws(npy_text *t) {
    while (t->p < t->end && isspace((unsigned char)*t->p)) t->p++;
}

static int eat(npy_text *t, char c) {
    skip_ws(t);
    if (t->p < t->end && *t->p == c) {
        t->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string without escapes, copied into buf. */
static lg_status quoted(npy_text *t, char *buf, size_t cap) {
    skip_ws(t);
    LG_CHECK(t->p < t->end && (*t->p == '\'' || *t->p == '"'), LG_ERR_FORMAT,
             "%s: bad .npy header: a quoted string expected", t->name);
    char q = *t->p++;
    const char *s = t->p;
    while (t->p < t->end && *t->p != q && *t->p != '\\') t->p++;
    LG_CHECK(t->p < t->end && *t->p == q && (size_t)(t->p - s) < cap, LG_ERR_FORMAT,
             "%s: bad .npy header: unterminated or overlong string", t->name);
    memcpy(buf, s, (size_t)(t->p - s));
    buf[t->p - s] = 0;
    t->p++;
    return LG_OK;
}

static lg_status parse_descr(npy_text *t, npy_array *a) {
    LG_TRY(quoted(t, a->descr, sizeof a->descr));
    const char *d = a->descr;
    LG_CHECK(strchr("<>|=", d[0]) && d[1] && isdigit((unsigned char)d[2]) && !d[3],
             LG_ERR_FORMAT, "%s: .npy dtype '%s' is not a plain number type", t->name, d);
    a->big = d[0] == '>';
    a->kind = d[1];
    a->size = d[2] - '0';
    return LG_OK;
}

static lg_status parse_bool(npy_text *t, int *v) {
    skip_ws(t);
    size_t left = (size_t)(t->end - t->p);
    if (left >= 4 && !memcmp(t->p, "True", 4)) *v = 1, t->p += 4;
    else if (left >= 5 && !memcmp(t->p, "False", 5)) *v = 0, t->p += 5;
    else return lg_error(LG_ERR_FORMAT, "%s: bad .npy header: True or False expected", t->name);
    return LG_OK;
}

static lg_status parse_shape(npy_text *t, npy_array *a) {
    LG_CHECK(eat(t, '('), LG_ERR_FORMAT, "%s: bad .npy header: shape tuple expected", t->name);
    a->ndim = 0;
    while (!eat(t, ')')) {
        LG_CHECK(a->ndim < NPY_MAX_DIMS, LG_ERR_FORMAT, "%s: .npy shape with more than %d axes",
                 t->name, NPY_MAX_DIMS);
        skip_ws(t);
        int64_t v = 0;
        const char *s = t->p;
        while (t->p < t->end && isdigit((unsigned char)*t->p) && v <= 0x7fffffff)
            v = v * 10 + (*t->p++ - '0');
        LG_CHECK(t->p > s && v <= 0x7fffffff, LG_ERR_FORMAT,
                 "%s: bad .npy header: shape entries must be integers below 2^31", t->name);
        a->shape[a->ndim++] = v;
        if (!eat(t, ',')) {
            LG_CHECK(eat(t, ')'), LG_ERR_FORMAT, "%s: bad .npy header: ',' or ')' expected",
                     t->name);
            break;
        }
    }
    return LG_OK;
}

/* {'descr': '|u1', 'fortran_order': False, 'shape': (10, 32, 32, 3), } */
static lg_status parse_dict(npy_text *t, npy_array *a) {
    LG_CHECK(eat(t, '{'), LG_ERR_FORMAT, "%s: bad .npy header: '{' expected", t->name);
    int seen = 0; /* bits: descr, fortran_order, shape */
    while (!eat(t, '}')) {
        char key[32];
        LG_TRY(quoted(t, key, sizeof key));
        LG_CHECK(eat(t, ':'), LG_ERR_FORMAT, "%s: bad .npy header: ':' expected after '%s'",
                 t->name, key);
        int bit = !strcmp(key, "descr") ? 1 : !strcmp(key, "fortran_order") ? 2
                : !strcmp(key, "shape") ? 4 : 0;
        LG_CHECK(bit && !(seen & bit), LG_ERR_FORMAT,
                 "%s: bad .npy header: unexpected or repeated key '%s'", t->name, key);
        seen |= bit;
        LG_TRY(bit == 1 ? parse_descr(t, a) : bit == 2 ? parse_bool(t, &a->fortran)
                                                       : parse_shape(t, a));
        if (!eat(t, ',')) {
            LG_CHECK(eat(t, '}'), LG_ERR_FORMAT, "%s: bad .npy header: ',' or '}' expected",
                     t->name);
            break;
        }
    }
    LG_CHECK(seen == 7, LG_ERR_FORMAT,
             "%s: bad .npy header: needs 'descr', 'fortran_order' and 'shape'", t->name);
    return LG_OK;
}

/* Parses the .npy bytes of name into a (data points into b). b holds the
 * header at least; len is the whole array's size, data included, and max
 * the most data bytes accepted. */
static lg_status npy_parse(const unsigned char *b, size_t len, size_t max, const char *name,
                           npy_array *a) {
    memset(a, 0, sizeof *a);
    LG_CHECK(len >= 10 && !memcmp(b, "\x93NUMPY", 6), LG_ERR_FORMAT,
             "%s: not a .npy file (%zu bytes, no \\x93NUMPY magic)", name, len);
    int major = b[6];
    LG_CHECK(major >= 1 && major <= 3, LG_ERR_FORMAT, "%s: .npy format version %d.%d unknown",
             name, major, b[7]);
    size_t hl = major == 1 ? (size_t)b[8] | (size_t)b[9] << 8
                           : len >= 12 ? (size_t)b[8] | (size_t)b[9] << 8 |
                                             (size_t)b[10] << 16 | (size_t)b[11] << 24
                                       : 0;
    size_t start = major == 1 ? 10 : 12;
    LG_CHECK(len >= start && hl > 0 && hl <= NPY_MAX_HEADER && hl <= len - start,
             LG_ERR_FORMAT, "%s: truncated .npy header: %zu bytes of header in a %zu-byte file",
             name, hl, len);
    npy_text t = {(const char *)b + start, (const char *)b + start + hl, name};
    LG_TRY(parse_dict(&t, a));
    size_t count = 1;
    for (int i = 0; i < a->ndim; i++)
        LG_CHECK(!lg_mul_overflow(count, (size_t)a->shape[i], &count), LG_ERR_FORMAT,
                 "%s: .npy shape overflows", name);
    LG_CHECK(!lg_mul_overflow(count, (size_t)a->size, &a->nbytes) && a->nbytes <= max,
             LG_ERR_FORMAT, "%s: .npy array of %zu elements of %d bytes, more than %zu bytes",
             name, count, a->size, max);
    size_t have = len - start - hl;
    LG_CHECK(have == a->nbytes, LG_ERR_FORMAT,
             "%s: .npy data is %zu bytes, its shape and dtype '%s' need %zu%s", name, have,
             a->descr, a->nbytes, have < a->nbytes ? " (truncated)" : " (trailing bytes)");
    LG_CHECK(!a->fortran, LG_ERR_UNSUPPORTED,
             "%s: Fortran-order .npy array (save np.ascontiguousarray(x) instead)", name);
    a->data = b + start + hl;
    return LG_OK;
}

/* ---- arrays to a data set ---------------------------------------------- */

typedef struct {
    int n, c, h, w;
    lg_layout layout;
} npy_shape;

/* The image shape of a uint8 array, or a message naming what is wrong. */
static lg_status image_shape(const npy_array *a, const char *name, npy_shape *out) {
    LG_CHECK(a->kind == 'u' && a->size == 1, LG_ERR_FORMAT,
             "%s: images have dtype '%s'; uint8 ('|u1') expected", name, a->descr);
    const int64_t *s = a->shape;
    LG_CHECK(a->ndim == 3 || a->ndim == 4, LG_ERR_FORMAT,
             "%s: images have %d axes; (N, H, W), (N, H, W, C) or (N, C, H, W) expected", name,
             a->ndim);
    int c = 1, h = (int)s[1], w = (int)s[2];
    lg_layout layout = LG_LAYOUT_NCHW;
    if (a->ndim == 4) {
        int c1 = s[1] == 1 || s[1] == 3, c3 = s[3] == 1 || s[3] == 3;
        LG_CHECK(c1 != c3, LG_ERR_FORMAT,
                 c1 ? "%s: shape (%lld, %lld, %lld, %lld) is ambiguous: axis 1 and axis 3 could "
                      "both be channels (1 or 3); transpose to an unambiguous NHWC or NCHW"
                    : "%s: shape (%lld, %lld, %lld, %lld) has no channel axis: axis 3 (NHWC) "
                      "or axis 1 (NCHW) must be 1 or 3",
                 name, (long long)s[0], (long long)s[1], (long long)s[2], (long long)s[3]);
        layout = c3 ? LG_LAYOUT_NHWC : LG_LAYOUT_NCHW;
        c = (int)(c3 ? s[3] : s[1]);
        h = (int)(c3 ? s[1] : s[2]);
        w = (int)(c3 ? s[2] : s[3]);
    }
    LG_CHECK(s[0] > 0 && h > 0 && w > 0 && h <= NPY_MAX_SIDE && w <= NPY_MAX_SIDE,
             LG_ERR_FORMAT, "%s: %lld images of %dx%d (need at least one, sides 1..%d)", name,
             (long long)s[0], h, w, NPY_MAX_SIDE);
    *out = (npy_shape){(int)s[0], c, h, w, layout};
    return LG_OK;
}

static lg_status images_to_ds(lg_dataset **out, const npy_array *a, const char *name,
                              const char *source) {
    npy_shape sh = {0};
    LG_TRY(image_shape(a, name, &sh));
    return lg_dataset_from_memory(out, a->data, LG_DTYPE_U8, sh.layout, sh.n, sh.c, sh.h, sh.w,
                                  NULL, 0, source);
}

/* Element i of an integer array, as a 64-bit value (0 when out of range). */
static int64_t int_at(const npy_array *a, size_t i) {
    const unsigned char *p = a->data + i * (size_t)a->size;
    uint64_t u = 0;
    for (int k = 0; k < a->size; k++) u |= (uint64_t)p[a->big ? k : a->size - 1 - k]
                                           << (8 * (a->size - 1 - k));
    if (a->kind == 'i' && a->size < 8 && (u >> (8 * a->size - 1)) & 1)
        u |= ~(uint64_t)0 << (8 * a->size); /* sign-extend */
    return (int64_t)u;
}

lg_status lg_npy_set_labels(lg_dataset *ds, const void *bytes, size_t len, const char *name) {
    npy_array a;
    LG_TRY(npy_parse(bytes, len, NPY_MAX_BYTES, name, &a));
    LG_CHECK((a.kind == 'u' || a.kind == 'i') &&
                 (a.size == 1 || a.size == 2 || a.size == 4 || a.size == 8),
             LG_ERR_FORMAT, "%s: labels have dtype '%s'; an integer type expected", name,
             a.descr);
    LG_CHECK(a.ndim == 1 && a.shape[0] == ds->n, LG_ERR_FORMAT,
             "%s: labels have shape %s%lld%s, want (%d,): one label per image", name,
             a.ndim ? "(" : "()", a.ndim ? (long long)a.shape[0] : 0LL,
             a.ndim == 1 ? ",)" : a.ndim ? ", ...)" : "", ds->n);
    int maxl = 0;
    for (int i = 0; i < ds->n; i++) {
        int64_t v = int_at(&a, (size_t)i);
        if (a.kind == 'u' && a.size == 8 && v < 0) v = -1; /* above 2^63 */
        LG_CHECK(v >= 0 && v < LG_MAX_CLASSES, LG_ERR_FORMAT,
                 "%s: label %d is %lld (class indices 0..%d)", name, i, (long long)v,
                 LG_MAX_CLASSES - 1);
        ds->labels[i] = (int)v;
        if (v > maxl) maxl = (int)v;
    }
    LG_TRY(lg_ds_set_classes(ds, maxl + 1, NULL));
    int empty = lg_ds_empty_class(ds);
    LG_CHECK(empty < 0, LG_ERR_FORMAT,
             "%s: the largest label, %d, makes %d classes, but no image has label %d (labels "
             "must be 0..K-1, each used)", name, maxl, maxl + 1, empty);
    return LG_OK;
}

lg_status lg_npy_images(lg_dataset **out, const void *bytes, size_t len, const char *name,
                        const char *source) {
    npy_array a;
    LG_TRY(npy_parse(bytes, len, NPY_MAX_BYTES, name, &a));
    return images_to_ds(out, &a, name, source);
}

/* ---- files -------------------------------------------------------------- */

static lg_status read_npy(const char *path, unsigned char **buf, size_t *len) {
    return lg_read_file(path, NPY_MAX_BYTES + NPY_MAX_HEADER + 12, buf, len);
}

/* A streamed array, from a .npy file or an .npz's stored entry (np.savez
 * stores; np.savez_compressed deflates, and a deflated entry cannot be read
 * at random, so it is read into memory). The file stays open and each
 * image is read when asked for (NHWC transposed to CHW), so an array of any
 * size costs no resident memory, and a file cut short under a run fails
 * with a message rather than a fault in a mapping. */
typedef struct {
    int fd;           /* the .npy file, or -1 */
    lg_zip *z;        /* or the .npz archive and its entry */
    lg_zip_entry *ze;
    uint64_t offset;  /* of the data */
    npy_shape sh;
    char path[4400];  /* the file, or "FILE: entry 'NAME'" */
} npy_stream;

static void npy_stream_close(void *ctx) {
    npy_stream *s = ctx;
    if (s->fd >= 0) close(s->fd);
    lg_zip_entry_close(s->ze);
    lg_zip_close(s->z);
    free(s);
}

static lg_status read_at(const npy_stream *s, uint64_t at, void *buf, size_t len) {
    if (s->ze) return lg_zip_entry_pread(s->ze, at, buf, len);
    size_t got = 0;
    while (got < len) {
        ssize_t k = pread(s->fd, (unsigned char *)buf + got, len - got, (off_t)(at + got));
        if (k <= 0) break;
        got += (size_t)k;
    }
    LG_CHECK(got == len, LG_ERR_IO,
             "%s: %zu of %zu bytes at offset %llu could be read (the file changed after "
             "opening?)", s->path, got, len, (unsigned long long)at);
    return LG_OK;
}

enum { NPY_STACK_IMAGE = 16384 }; /* NHWC images this small transpose from the stack */

static lg_status npy_stream_read(void *ctx, int i, uint8_t *dst) {
    const npy_stream *s = ctx;
    const size_t hw = (size_t)s->sh.h * s->sh.w, img = hw * s->sh.c;
    const uint64_t at = s->offset + (uint64_t)i * img;
    if (s->sh.layout == LG_LAYOUT_NCHW) return read_at(s, at, dst, img);
    uint8_t small[NPY_STACK_IMAGE];
    uint8_t *raw = img <= sizeof small ? small : malloc(img);
    LG_CHECK(raw, LG_ERR_NOMEM, "%s: out of memory", s->path);
    lg_status st = read_at(s, at, raw, img);
    if (st == LG_OK)
        for (int ch = 0; ch < s->sh.c; ch++)
            for (size_t p = 0; p < hw; p++) dst[ch * hw + p] = raw[p * s->sh.c + ch];
    if (raw != small) free(raw);
    return st;
}

static const lg_stream_ops npy_ops = {npy_stream_read, npy_stream_close};

/* The header is parsed from the first bytes (at most the largest header)
 * against the array's size, so the data is never read whole. Takes s. */
static lg_status start_stream(lg_dataset **out, npy_stream *s, uint64_t size,
                              const char *source) {
    const size_t cap = NPY_MAX_HEADER + 12, want = size < cap ? (size_t)size : cap;
    unsigned char *head = malloc(want ? want : 1);
    lg_status st = head ? LG_OK : lg_error(LG_ERR_NOMEM, "%s: out of memory", s->path);
    if (st == LG_OK) st = read_at(s, 0, head, want);
    npy_array a;
    if (st == LG_OK) st = npy_parse(head, size, NPY_MAX_STREAMED, s->path, &a);
    if (st == LG_OK) st = image_shape(&a, s->path, &s->sh);
    if (st == LG_OK) s->offset = (uint64_t)(a.data - head);
    free(head);
    if (st != LG_OK) {
        npy_stream_close(s);
        return st;
    }
    return lg_ds_alloc_streamed(out, s->sh.n, s->sh.c, s->sh.h, s->sh.w, source, &npy_ops, s);
}

static lg_status open_npy_stream(lg_dataset **out, const char *path, const char *source) {
    npy_stream *s = calloc(1, sizeof *s);
    LG_CHECK(s, LG_ERR_NOMEM, "%s: out of memory", path);
    snprintf(s->path, sizeof s->path, "%s", path);
    uint64_t size = 0;
    lg_status st = lg_open_regular(path, &s->fd, &size);
    if (st != LG_OK) {
        s->fd = -1;
        npy_stream_close(s);
        return st;
    }
    return start_stream(out, s, size, source);
}

/* Entry i of z, stored, streamed; the stream takes z. */
static lg_status open_npz_stream(lg_dataset **out, lg_zip *z, int i, const char *source) {
    npy_stream *s = calloc(1, sizeof *s);
    LG_CHECK(s, LG_ERR_NOMEM, "%s: out of memory", lg_zip_path(z));
    s->fd = -1;
    snprintf(s->path, sizeof s->path, "%s: entry '%s'", lg_zip_path(z), lg_zip_name(z, i));
    uint64_t size = 0;
    lg_status st = lg_zip_entry_open(z, i, &s->ze, &size);
    s->z = z;
    if (st != LG_OK) {
        npy_stream_close(s);
        return st;
    }
    return start_stream(out, s, size, source);
}

lg_status lg_dataset_load_npy(lg_dataset **out, const char *images, const char *labels) {
    LG_CHECK(out && images, LG_ERR_ARG, "lg_dataset_load_npy: NULL argument");
    *out = NULL;
    unsigned char *buf;
    size_t len;
    char source[256];
    snprintf(source, sizeof source, "npy:%s", images);
    lg_dataset *ds = NULL;
    lg_status st = open_npy_stream(&ds, images, source);
    if (st == LG_OK && labels) {
        st = read_npy(labels, &buf, &len);
        if (st == LG_OK) {
            st = lg_npy_set_labels(ds, buf, len, labels);
            lg_free(buf);
        }
    }
    if (st != LG_OK) {
        lg_dataset_free(ds);
        return st;
    }
    *out = ds;
    return LG_OK;
}

/* Entries x.npy and y.npy; else the first two .npy entries in order. */
static void pick_arrays(lg_zip *z, int *xi, int *yi) {
    int first = -1, second = -1;
    *xi = *yi = -1;
    for (int i = 0; i < lg_zip_count(z); i++) {
        const char *nm = lg_zip_name(z, i);
        size_t k = nm ? strlen(nm) : 0;
        if (k < 4 || strcmp(nm + k - 4, ".npy")) continue;
        if (!strcmp(nm, "x.npy")) *xi = i;
        else if (!strcmp(nm, "y.npy")) *yi = i;
        if (first < 0) first = i;
        else if (second < 0) second = i;
    }
    if (*xi < 0) {
        *xi = first;
        *yi = second;
    }
}

static lg_status npz_entry(lg_zip *z, int i, lg_dataset **ds) {
    unsigned char *buf;
    size_t len;
    LG_TRY(lg_zip_read(z, i, NPY_MAX_BYTES + NPY_MAX_HEADER + 12, &buf, &len));
    char name[4300];
    snprintf(name, sizeof name, "%s: entry '%s'", lg_zip_path(z), lg_zip_name(z, i));
    char source[256];
    snprintf(source, sizeof source, "npz:%s", lg_zip_path(z));
    lg_status st = *ds ? lg_npy_set_labels(*ds, buf, len, name)
                       : lg_npy_images(ds, buf, len, name, source);
    lg_free(buf);
    return st;
}

lg_status lg_dataset_load_npz(lg_dataset **out, const char *path) {
    LG_CHECK(out && path, LG_ERR_ARG, "lg_dataset_load_npz: NULL argument");
    *out = NULL;
    lg_zip *z;
    LG_TRY(lg_zip_open(&z, path));
    int xi, yi;
    pick_arrays(z, &xi, &yi);
    lg_dataset *ds = NULL;
    lg_status st = xi >= 0 ? LG_OK
                           : lg_error(LG_ERR_FORMAT, "%s: no .npy arrays in the archive", path);
    /* A stored image array is streamed through a second handle on the
     * archive, which the stream owns; a deflated one is read into memory.
     * Labels are read whole through this handle. */
    if (st == LG_OK && lg_zip_stored(z, xi)) {
        lg_zip *stream_z;
        st = lg_zip_open(&stream_z, path);
        char source[4200];
        snprintf(source, sizeof source, "npz:%s", path);
        if (st == LG_OK) st = open_npz_stream(&ds, stream_z, xi, source);
    } else if (st == LG_OK) {
        st = npz_entry(z, xi, &ds);
    }
    if (st == LG_OK && yi >= 0) st = npz_entry(z, yi, &ds);
    lg_zip_close(z);
    if (st != LG_OK) {
        lg_dataset_free(ds);
        return st;
    }
    *out = ds;
    return LG_OK;
}
