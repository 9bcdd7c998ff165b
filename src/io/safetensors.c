/* Safetensors: 8-byte little-endian header length N, N bytes of JSON, then
 * the data area. The reader validates everything before exposing a tensor;
 * the writer builds the header with jansson and writes through lg_atomic_*.
 * docs/checkpoint-format.md states the layout and the choices made here. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"
#include "io/file.h"
#include "lapgan/io.h"

/* The reference implementation's cap; a header this big is an attack, not
 * a checkpoint. */
#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)

struct lg_safetensors {
    char *name;      /* file name, for messages */
    float *data;     /* the data area, copied to 64-byte aligned storage */
    size_t data_len; /* bytes */
    lg_st_tensor *t;
    int n;
    char **meta_key, **meta_val;
    int nmeta;
};

static int host_is_little_endian(void) {
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static lg_status check_host(void) {
    LG_CHECK(host_is_little_endian(), LG_ERR_UNSUPPORTED,
             "safetensors: this build assumes a little-endian host");
    return LG_OK;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void lg_st_free(lg_safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->n; i++) free(st->t[i].name);
    for (int i = 0; i < st->nmeta; i++) {
        free(st->meta_key[i]);
        free(st->meta_val[i]);
    }
    free(st->t);
    free(st->meta_key);
    free(st->meta_val);
    lg_free(st->data);
    free(st->name);
    free(st);
}

/* ---- reader ------------------------------------------------------------ */

static lg_status parse_metadata(lg_safetensors *st, json_t *meta) {
    LG_CHECK(json_is_object(meta), LG_ERR_FORMAT, "%s: \"__metadata__\" is not a JSON object",
             st->name);
    size_t n = json_object_size(meta);
    st->meta_key = calloc(n ? n : 1, sizeof *st->meta_key);
    st->meta_val = calloc(n ? n : 1, sizeof *st->meta_val);
    LG_CHECK(st->meta_key && st->meta_val, LG_ERR_NOMEM, "%s: out of memory", st->name);
    const char *key;
    json_t *v;
    json_object_foreach(meta, key, v) {
        LG_CHECK(json_is_string(v), LG_ERR_FORMAT,
                 "%s: metadata value of \"%s\" is not a string", st->name, key);
        st->meta_key[st->nmeta] = dup_str(key);
        st->meta_val[st->nmeta] = dup_str(json_string_value(v));
        st->nmeta++;
        LG_CHECK(st->meta_key[st->nmeta - 1] && st->meta_val[st->nmeta - 1], LG_ERR_NOMEM,
                 "%s: out of memory", st->name);
    }
    return LG_OK;
}

/* Reads a non-negative JSON integer. */
static int json_u64(const json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) return 0;
    *out = (uint64_t)json_integer_value(v);
    return 1;
}

/* Fills t from one header entry; begin and end get its byte range in the data area. */
static lg_status parse_entry(const lg_safetensors *st, const char *name, json_t *e,
                             lg_st_tensor *t, uint64_t *begin, uint64_t *end) {
    const char *f = st->name;
    LG_CHECK(json_is_object(e), LG_ERR_FORMAT, "%s: entry '%s' is not a JSON object", f, name);
    json_t *dtype = json_object_get(e, "dtype");
    json_t *shape = json_object_get(e, "shape");
    json_t *offs = json_object_get(e, "data_offsets");
    LG_CHECK(json_is_string(dtype), LG_ERR_FORMAT, "%s: tensor '%s' has no string \"dtype\"", f,
             name);
    const char *dt = json_string_value(dtype);
    static const char *const known[] = {"BOOL", "U8",  "I8",  "U16", "I16",     "F16",
                                        "BF16", "U32", "I32", "F64", "U64",     "I64",
                                        "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3",
                                        "F6_E3M2", "C64"};
    if (strcmp(dt, "F32") != 0) {
        for (int i = 0; i < LG_ARRAY_LEN(known); i++)
            LG_CHECK(strcmp(dt, known[i]) != 0, LG_ERR_UNSUPPORTED,
                     "%s: tensor '%s' has dtype %s; lapgan reads F32 only", f, name, dt);
        return lg_error(LG_ERR_FORMAT, "%s: tensor '%s' has unknown dtype \"%.32s\"", f, name,
                        dt);
    }
    LG_CHECK(json_is_array(shape), LG_ERR_FORMAT, "%s: tensor '%s' has no \"shape\" array", f,
             name);
    size_t nd = json_array_size(shape);
    LG_CHECK(nd <= LG_ST_MAX_DIMS, LG_ERR_FORMAT, "%s: tensor '%s' has %zu dims (at most %d)", f,
             name, nd, LG_ST_MAX_DIMS);
    uint64_t numel = 1;
    for (size_t i = 0; i < nd; i++) {
        uint64_t d;
        LG_CHECK(json_u64(json_array_get(shape, i), &d), LG_ERR_FORMAT,
                 "%s: tensor '%s' dim %zu is not a non-negative integer", f, name, i);
        LG_CHECK(d == 0 || numel <= (UINT64_MAX / 4) / d, LG_ERR_FORMAT,
                 "%s: tensor '%s' shape overflows the element count", f, name);
        numel *= d;
        t->shape[i] = (int64_t)d;
    }
    t->ndim = (int)nd;
    LG_CHECK(json_is_array(offs) && json_array_size(offs) == 2 &&
                 json_u64(json_array_get(offs, 0), begin) && json_u64(json_array_get(offs, 1), end),
             LG_ERR_FORMAT, "%s: tensor '%s' \"data_offsets\" is not two non-negative integers",
             f, name);
    LG_CHECK(*begin <= *end, LG_ERR_FORMAT,
             "%s: tensor '%s' data_offsets [%llu, %llu] end before begin", f, name,
             (unsigned long long)*begin, (unsigned long long)*end);
    LG_CHECK(*end <= st->data_len, LG_ERR_FORMAT,
             "%s: tensor '%s' data_offsets end %llu is beyond the %zu-byte data area "
             "(truncated file?)", f, name,
             (unsigned long long)*end, st->data_len);
    LG_CHECK(*end - *begin == numel * 4, LG_ERR_FORMAT,
             "%s: tensor '%s' has %llu bytes for %llu F32 elements (%llu bytes)", f, name,
             (unsigned long long)(*end - *begin), (unsigned long long)numel,
             (unsigned long long)(numel * 4));
    t->numel = (size_t)numel;
    return LG_OK;
}

typedef struct {
    uint64_t begin, end;
    int idx;
} st_range;

static int range_cmp(const void *a, const void *b) {
    const st_range *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->idx - y->idx;
}

/* Like the reference implementation, the tensors must tile the data area
 * exactly: no overlap, no gap, no trailing bytes. With F32-only entries this
 * also makes every tensor 4-byte aligned in our aligned copy. */
static lg_status check_tiling(const lg_safetensors *st, st_range *r) {
    qsort(r, (size_t)st->n, sizeof *r, range_cmp);
    uint64_t at = 0;
    for (int i = 0; i < st->n; i++) {
        const char *name = st->t[r[i].idx].name;
        LG_CHECK(r[i].begin >= at, LG_ERR_FORMAT, "%s: tensor '%s' overlaps tensor '%s'",
                 st->name, name, st->t[r[i - 1].idx].name);
        LG_CHECK(r[i].begin == at, LG_ERR_FORMAT,
                 "%s: %llu unused bytes before tensor '%s' in the data area", st->name,
                 (unsigned long long)(r[i].begin - at), name);
        at = r[i].end;
    }
    LG_CHECK(at == st->data_len, LG_ERR_FORMAT,
             "%s: %llu trailing bytes after the last tensor in the data area", st->name,
             (unsigned long long)(st->data_len - at));
    return LG_OK;
}

static lg_status parse_tensors(lg_safetensors *st, json_t *root) {
    size_t cap = json_object_size(root);
    st->t = calloc(cap ? cap : 1, sizeof *st->t);
    st_range *r = calloc(cap ? cap : 1, sizeof *r);
    lg_status s = LG_OK;
    if (!st->t || !r) {
        s = lg_error(LG_ERR_NOMEM, "%s: out of memory", st->name);
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) {
            LG_TRY_GOTO(s, parse_metadata(st, v), done);
            continue;
        }
        lg_st_tensor *t = &st->t[st->n];
        LG_TRY_GOTO(s, parse_entry(st, key, v, t, &r[st->n].begin, &r[st->n].end), done);
        t->name = dup_str(key);
        if (!t->name) {
            s = lg_error(LG_ERR_NOMEM, "%s: out of memory", st->name);
            goto done;
        }
        t->data = st->data + r[st->n].begin / 4;
        r[st->n].idx = st->n;
        st->n++;
    }
    s = check_tiling(st, r);
done:
    free(r);
    return s;
}

static lg_status parse_header(lg_safetensors *st, const char *json, size_t len) {
    json_error_t err;
    /* Duplicate names are an error, not "last one wins"; NUL in strings is
     * rejected by jansson's default. */
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    LG_CHECK(root, LG_ERR_FORMAT, "%s: header JSON line %d column %d: %s", st->name, err.line,
             err.column, err.text);
    lg_status s = json_is_object(root)
                      ? parse_tensors(st, root)
                      : lg_error(LG_ERR_FORMAT, "%s: header is not a JSON object", st->name);
    json_decref(root);
    return s;
}

/* Validates the 8-byte prefix against the total size; *hlen is the JSON length. */
static lg_status check_prefix(const unsigned char *p, size_t avail, uint64_t total,
                              const char *name, uint64_t *hlen) {
    LG_CHECK(avail >= 8, LG_ERR_FORMAT,
             "%s: %zu bytes, too short for the 8-byte safetensors header length", name, avail);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | p[i];
    LG_CHECK(n <= ST_MAX_HEADER, LG_ERR_FORMAT,
             "%s: header length %llu is absurd (limit %llu bytes)", name, (unsigned long long)n,
             (unsigned long long)ST_MAX_HEADER);
    LG_CHECK(n <= total - 8, LG_ERR_FORMAT,
             "%s: header length %llu exceeds the %llu bytes after it", name,
             (unsigned long long)n, (unsigned long long)(total - 8));
    *hlen = n;
    return LG_OK;
}

static lg_status st_alloc(lg_safetensors **out, const char *name, size_t data_len) {
    lg_safetensors *st = calloc(1, sizeof *st);
    LG_CHECK(st, LG_ERR_NOMEM, "%s: out of memory", name);
    st->name = dup_str(name);
    st->data_len = data_len;
    st->data = lg_alloc(data_len ? data_len : 4);
    if (!st->name || !st->data) {
        lg_st_free(st);
        return lg_error(LG_ERR_NOMEM, "%s: out of memory for a %zu-byte data area", name,
                        data_len);
    }
    *out = st;
    return LG_OK;
}

lg_status lg_st_parse(lg_safetensors **out, const void *bytes, size_t len, const char *name) {
    LG_CHECK(out, LG_ERR_ARG, "lg_st_parse: out is NULL");
    *out = NULL;
    if (!name) name = "<memory>";
    LG_CHECK(bytes || len == 0, LG_ERR_ARG, "lg_st_parse: %s: bytes is NULL", name);
    LG_TRY(check_host());
    const unsigned char *p = bytes;
    uint64_t hlen = 0;
    LG_TRY(check_prefix(p, len, len, name, &hlen));
    lg_safetensors *st;
    size_t data_len = len - 8 - (size_t)hlen;
    LG_TRY(st_alloc(&st, name, data_len));
    if (data_len) memcpy(st->data, p + 8 + hlen, data_len);
    lg_status s = parse_header(st, (const char *)p + 8, (size_t)hlen);
    if (s != LG_OK) {
        lg_st_free(st);
        return s;
    }
    *out = st;
    return LG_OK;
}

static lg_status read_exact(int fd, void *buf, size_t len, const char *path) {
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t r = read(fd, p, len > (1u << 30) ? (1u << 30) : len);
        if (r < 0 && errno == EINTR) continue;
        LG_CHECK(r >= 0, LG_ERR_IO, "%s: read failed: %s", path, strerror(errno));
        LG_CHECK(r > 0, LG_ERR_FORMAT, "%s: file ended early (it shrank while being read?)",
                 path);
        p += r;
        len -= (size_t)r;
    }
    return LG_OK;
}

/* Reads the header into a temporary buffer and the data area straight into
 * the aligned storage, so the file is read once and never copied. */
static lg_status read_fd(lg_safetensors **out, int fd, const char *path) {
    struct stat sb;
    LG_CHECK(fstat(fd, &sb) == 0, LG_ERR_IO, "%s: stat failed: %s", path, strerror(errno));
    LG_CHECK(S_ISREG(sb.st_mode), LG_ERR_IO, "%s: not a regular file", path);
    uint64_t total = (uint64_t)sb.st_size;
    unsigned char prefix[8];
    LG_CHECK(total >= 8, LG_ERR_FORMAT,
             "%s: %llu bytes, too short for the 8-byte safetensors header length", path,
             (unsigned long long)total);
    LG_TRY(read_exact(fd, prefix, 8, path));
    uint64_t hlen = 0;
    LG_TRY(check_prefix(prefix, 8, total, path, &hlen));
    char *json = malloc(hlen ? (size_t)hlen : 1);
    LG_CHECK(json, LG_ERR_NOMEM, "%s: out of memory for a %llu-byte header", path,
             (unsigned long long)hlen);
    lg_safetensors *st = NULL;
    lg_status s;
    LG_TRY_GOTO(s, read_exact(fd, json, (size_t)hlen, path), fail);
    LG_TRY_GOTO(s, st_alloc(&st, path, (size_t)(total - 8 - hlen)), fail);
    LG_TRY_GOTO(s, read_exact(fd, st->data, st->data_len, path), fail);
    char extra;
    if (read(fd, &extra, 1) != 0) {
        s = lg_error(LG_ERR_IO, "%s: file changed while being read", path);
        goto fail;
    }
    LG_TRY_GOTO(s, parse_header(st, json, (size_t)hlen), fail);
    free(json);
    *out = st;
    return LG_OK;
fail:
    free(json);
    lg_st_free(st);
    return s;
}

lg_status lg_st_read(lg_safetensors **out, const char *path) {
    LG_CHECK(out, LG_ERR_ARG, "lg_st_read: out is NULL");
    *out = NULL;
    LG_CHECK(path, LG_ERR_ARG, "lg_st_read: path is NULL");
    LG_TRY(check_host());
    int fd;
    LG_TRY(lg_open_regular(path, &fd, NULL));
    lg_status s = read_fd(out, fd, path);
    close(fd);
    return s;
}

int lg_st_count(const lg_safetensors *st) { return st ? st->n : 0; }

const lg_st_tensor *lg_st_at(const lg_safetensors *st, int i) {
    return st && i >= 0 && i < st->n ? &st->t[i] : NULL;
}

const lg_st_tensor *lg_st_find(const lg_safetensors *st, const char *name) {
    if (!st || !name) {
        lg_error(LG_ERR_ARG, "lg_st_find: NULL argument");
        return NULL;
    }
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->t[i].name, name) == 0) return &st->t[i];
    lg_error(LG_ERR_FORMAT, "%s: no tensor named '%s'", st->name, name);
    return NULL;
}

const char *lg_st_meta(const lg_safetensors *st, const char *key) {
    if (!st || !key) return NULL;
    for (int i = 0; i < st->nmeta; i++)
        if (strcmp(st->meta_key[i], key) == 0) return st->meta_val[i];
    return NULL;
}

int lg_st_meta_count(const lg_safetensors *st) { return st ? st->nmeta : 0; }

void lg_st_meta_at(const lg_safetensors *st, int i, const char **key, const char **value) {
    int ok = st && i >= 0 && i < st->nmeta;
    if (key) *key = ok ? st->meta_key[i] : NULL;
    if (value) *value = ok ? st->meta_val[i] : NULL;
}

/* ---- writer ------------------------------------------------------------ */

typedef struct {
    char *name;
    const float *data;
    int ndim;
    int64_t shape[LG_ST_MAX_DIMS];
    size_t bytes;
} st_entry;

struct lg_st_writer {
    st_entry *e;
    int n, cap;
    json_t *meta; /* object, insertion ordered */
};

lg_status lg_st_writer_new(lg_st_writer **out) {
    LG_CHECK(out, LG_ERR_ARG, "lg_st_writer_new: out is NULL");
    *out = NULL;
    lg_st_writer *w = calloc(1, sizeof *w);
    LG_CHECK(w, LG_ERR_NOMEM, "out of memory allocating a safetensors writer");
    w->meta = json_object();
    if (!w->meta) {
        free(w);
        return lg_error(LG_ERR_NOMEM, "out of memory allocating a safetensors writer");
    }
    *out = w;
    return LG_OK;
}

void lg_st_writer_free(lg_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) free(w->e[i].name);
    free(w->e);
    json_decref(w->meta);
    free(w);
}

static int valid_utf8(const char *s) {
    json_t *j = json_string(s); /* jansson validates UTF-8 */
    json_decref(j);
    return j != NULL;
}

lg_status lg_st_writer_add(lg_st_writer *w, const char *name, const float *data, int ndim,
                           const int64_t *shape) {
    LG_CHECK(w && name, LG_ERR_ARG, "lg_st_writer_add: NULL writer or name");
    LG_CHECK(name[0] && strcmp(name, "__metadata__") != 0 && valid_utf8(name), LG_ERR_ARG,
             "lg_st_writer_add: bad tensor name \"%.60s\"", name);
    LG_CHECK(ndim >= 0 && ndim <= LG_ST_MAX_DIMS && (shape || ndim == 0), LG_ERR_ARG,
             "lg_st_writer_add: tensor '%s' has %d dims (0 to %d allowed)", name, ndim,
             LG_ST_MAX_DIMS);
    for (int i = 0; i < w->n; i++)
        LG_CHECK(strcmp(w->e[i].name, name) != 0, LG_ERR_ARG,
                 "lg_st_writer_add: tensor '%s' added twice", name);
    size_t bytes = 4;
    for (int i = 0; i < ndim; i++)
        LG_CHECK(shape[i] >= 0 && (uint64_t)shape[i] <= SIZE_MAX &&
                     !lg_mul_overflow(bytes, (size_t)shape[i], &bytes),
                 LG_ERR_ARG, "lg_st_writer_add: tensor '%s' dim %d is negative or overflows",
                 name, i);
    LG_CHECK(data || bytes == 0, LG_ERR_ARG, "lg_st_writer_add: tensor '%s' has NULL data",
             name);
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        st_entry *e = realloc(w->e, (size_t)cap * sizeof *e);
        LG_CHECK(e, LG_ERR_NOMEM, "out of memory adding tensor '%s'", name);
        w->e = e;
        w->cap = cap;
    }
    st_entry *e = &w->e[w->n];
    memset(e, 0, sizeof *e);
    e->name = dup_str(name);
    LG_CHECK(e->name, LG_ERR_NOMEM, "out of memory adding tensor '%s'", name);
    e->data = data;
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) e->shape[i] = shape[i];
    e->bytes = bytes;
    w->n++;
    return LG_OK;
}

lg_status lg_st_writer_meta(lg_st_writer *w, const char *key, const char *value) {
    LG_CHECK(w && key && value, LG_ERR_ARG, "lg_st_writer_meta: NULL argument");
    LG_CHECK(!json_object_get(w->meta, key), LG_ERR_ARG,
             "lg_st_writer_meta: metadata key \"%.60s\" set twice", key);
    json_t *v = json_string(value);
    LG_CHECK(v && valid_utf8(key), LG_ERR_ARG,
             "lg_st_writer_meta: key \"%.60s\" or its value is not valid UTF-8", key);
    LG_CHECK(json_object_set_new(w->meta, key, v) == 0, LG_ERR_NOMEM,
             "out of memory setting metadata \"%.60s\"", key);
    return LG_OK;
}

/* JSON header, padded with spaces to a multiple of 8 bytes so the data area
 * starts 8-aligned in the file. Tensors are laid out in insertion order. */
static lg_status build_header(const lg_st_writer *w, char **out, size_t *len) {
    json_t *root = json_object();
    LG_CHECK(root, LG_ERR_NOMEM, "out of memory building a safetensors header");
    int bad = json_object_size(w->meta) && json_object_set(root, "__metadata__", w->meta);
    uint64_t at = 0;
    for (int i = 0; i < w->n && !bad; i++) {
        const st_entry *e = &w->e[i];
        json_t *shape = json_array();
        for (int d = 0; d < e->ndim && shape; d++)
            bad |= json_array_append_new(shape, json_integer(e->shape[d]));
        json_t *t = json_pack("{s:s, s:o, s:[I,I]}", "dtype", "F32", "shape", shape,
                              "data_offsets", (json_int_t)at, (json_int_t)(at + e->bytes));
        bad |= !t || json_object_set_new(root, e->name, t);
        at += e->bytes;
    }
    char *s = bad ? NULL : json_dumps(root, JSON_COMPACT);
    json_decref(root);
    LG_CHECK(s, LG_ERR_NOMEM, "out of memory building a safetensors header");
    size_t n = strlen(s), padded = (n + 7) & ~(size_t)7;
    char *p = realloc(s, padded + 1);
    if (!p) {
        free(s);
        return lg_error(LG_ERR_NOMEM, "out of memory building a safetensors header");
    }
    memset(p + n, ' ', padded - n);
    *out = p;
    *len = padded;
    return LG_OK;
}

lg_status lg_st_writer_write(lg_st_writer *w, const char *path) {
    LG_CHECK(w && path, LG_ERR_ARG, "lg_st_writer_write: NULL writer or path");
    LG_TRY(check_host());
    char *hdr = NULL;
    size_t hlen = 0;
    LG_TRY(build_header(w, &hdr, &hlen));
    if (hlen > ST_MAX_HEADER) {
        free(hdr);
        return lg_error(LG_ERR_ARG, "%s: header of %zu bytes is over the %llu-byte limit", path,
                        hlen, (unsigned long long)ST_MAX_HEADER);
    }
    unsigned char prefix[8];
    for (int i = 0; i < 8; i++) prefix[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    lg_atomic_file *f = NULL;
    lg_status s;
    LG_TRY_GOTO(s, lg_atomic_open(&f, path), fail);
    LG_TRY_GOTO(s, lg_atomic_write(f, prefix, 8), fail);
    LG_TRY_GOTO(s, lg_atomic_write(f, hdr, hlen), fail);
    for (int i = 0; i < w->n; i++)
        if (w->e[i].bytes) LG_TRY_GOTO(s, lg_atomic_write(f, w->e[i].data, w->e[i].bytes), fail);
    free(hdr);
    return lg_atomic_commit(f);
fail:
    free(hdr);
    lg_atomic_abort(f);
    return s;
}
