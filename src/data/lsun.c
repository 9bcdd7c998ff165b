/* LSUN as its release ships it: one LMDB environment per scene class
 * (bedroom_train_lmdb/ with data.mdb and lock.mdb), whose values are encoded
 * images (JPEG; WebP in some copies) under keys that are image ids. Keys are
 * read in key order (LMDB's cursor order), as the authors' loader walks
 * them; no index file is needed. Each image is fitted as a folder's (shorter
 * side to size by area averaging, centre crop, c channels).
 *
 * The environment is opened read-only and without the lock file
 * (MDB_NOLOCK), so a copy on read-only media or shared by several readers
 * works and nothing is written next to it. LMDB trusts its pages; before
 * reading, the file's size is checked against the last page the meta page
 * claims, so a truncated copy is refused with a message instead of a read
 * past the mapping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "core/check.h"
#include "data/dataset.h"
#include "lapgan/io.h"

#define LSUN_MAX_IMAGE ((size_t)1 << 28) /* one encoded value */
#define LSUN_MAX_CLASSES 64
#define LSUN_DEFAULT_SIZE 64 /* the paper's LSUN models end at 64x64 */
#define LSUN_DROP_EVERY 4096 /* entries indexed between handing the map's pages back */
/* Pages of values read between handing the whole map back. Each madvise
 * costs every core that runs the process a TLB flush (an interrupt in the
 * middle of a training step), so it is batched: one per 4 MB read, which
 * bounds what the map adds to the resident set at 4 MB whatever the set's size. */
#define LSUN_DROP_BYTES ((size_t)4 << 20)

typedef struct {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uintptr_t lo, hi; /* the span of the map its keys and values lie in */
    char path[1024];
} lsun_env;

static void env_close(lsun_env *e) {
    if (e->txn) mdb_txn_abort(e->txn);
    if (e->env) mdb_env_close(e->env);
    e->txn = NULL;
    e->env = NULL;
}

/* The data file: DIR/data.mdb for an environment directory, else the path. */
static int data_file(const char *path, char *out, size_t cap, int *subdir) {
    struct stat sb;
    if (stat(path, &sb) != 0) return -1;
    *subdir = S_ISDIR(sb.st_mode);
    int n = *subdir ? snprintf(out, cap, "%s/data.mdb", path) : snprintf(out, cap, "%s", path);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static lg_status env_open(lsun_env *e, const char *path) {
    memset(e, 0, sizeof *e);
    snprintf(e->path, sizeof e->path, "%s", path);
    char file[1100];
    int subdir;
    LG_CHECK(data_file(path, file, sizeof file, &subdir) == 0, LG_ERR_IO,
             "%s: no such LMDB environment (a directory holding data.mdb, or a data file)", path);
    struct stat sb;
    LG_CHECK(stat(file, &sb) == 0, LG_ERR_IO, "%s: no data.mdb in this directory", path);
    int rc = mdb_env_create(&e->env);
    LG_CHECK(rc == 0, LG_ERR_NOMEM, "%s: %s", path, mdb_strerror(rc));
    /* The map must cover the file; LSUN's are up to ~50 GB. */
    size_t map = (size_t)sb.st_size + ((size_t)1 << 20);
    unsigned flags = MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS | (subdir ? 0 : MDB_NOSUBDIR);
    if ((rc = mdb_env_set_mapsize(e->env, map)) == 0) rc = mdb_env_open(e->env, path, flags, 0);
    if (rc != 0) {
        env_close(e);
        return lg_error(LG_ERR_FORMAT, "%s: not a readable LMDB environment (%s)", path,
                        mdb_strerror(rc));
    }
    MDB_envinfo info;
    unsigned psize = 4096;
    MDB_stat est;
    if (mdb_env_info(e->env, &info) == 0 && mdb_env_stat(e->env, &est) == 0) psize = est.ms_psize;
    if ((unsigned long long)(info.me_last_pgno + 1) * psize > (unsigned long long)sb.st_size) {
        env_close(e);
        return lg_error(LG_ERR_FORMAT,
                        "%s: truncated LMDB file (%lld bytes, its meta page claims %llu pages of "
                        "%u)",
                        file, (long long)sb.st_size, (unsigned long long)info.me_last_pgno + 1,
                        psize);
    }
    if ((rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &e->txn)) == 0)
        rc = mdb_dbi_open(e->txn, NULL, 0, &e->dbi);
    if (rc != 0) {
        env_close(e);
        return lg_error(LG_ERR_FORMAT, "%s: cannot read the LMDB database (%s)", path,
                        mdb_strerror(rc));
    }
    return LG_OK;
}

static lg_status env_count(lsun_env *e, size_t *n) {
    MDB_stat st;
    int rc = mdb_stat(e->txn, e->dbi, &st);
    LG_CHECK(rc == 0, LG_ERR_FORMAT, "%s: %s", e->path, mdb_strerror(rc));
    *n = st.ms_entries;
    return LG_OK;
}

/* The key as text for messages (LSUN's are ASCII ids; others in hex). */
static void key_text(const MDB_val *k, char *out, size_t cap) {
    const unsigned char *p = k->mv_data;
    size_t n = k->mv_size, o = 0;
    int text = n > 0;
    for (size_t i = 0; i < n; i++) text &= p[i] >= 0x20 && p[i] < 0x7f;
    for (size_t i = 0; i < n && o + 3 < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, text ? "%c" : "%02x", p[i]);
    out[o] = 0;
}

/* The streamed set: every environment stays open in its read transaction,
 * and ptr/len index each value inside the maps (16 bytes an image), valid
 * while the transaction lives. Reads go through the index without LMDB
 * calls, so threads share it; the cursor (a key for a message) is one
 * thread's at a time. */
typedef struct {
    lsun_env env[LSUN_MAX_CLASSES];
    int nenv, c, size;
    int start[LSUN_MAX_CLASSES + 1]; /* first image of each environment */
    const unsigned char **ptr;
    size_t *len;
    atomic_size_t touched; /* bytes of pages read since the map was last handed back */
    pthread_mutex_t lock;
} lsun_set;

static void set_close(void *ctx) {
    lsun_set *s = ctx;
    for (int j = 0; j < s->nenv; j++) env_close(&s->env[j]);
    free(s->ptr);
    free(s->len);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* Releases the map's pages from this process's resident set: they stay in
 * the page cache and fault back in when read, so reading a set of any size
 * leaves the memory a process holds flat. */
static void drop_pages(const void *p, size_t n) {
    const uintptr_t ps = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)p & ~(ps - 1), b = ((uintptr_t)p + n + ps - 1) & ~(ps - 1);
    if (n) madvise((void *)a, b - a, MADV_DONTNEED);
}

/* The span of the map that the values seen so far lie in (LMDB does not
 * say where its map is); the leaf pages walked lie among them. */
typedef struct {
    uintptr_t lo, hi;
} span;

static void span_add(span *sp, const void *p, size_t n) {
    uintptr_t a = (uintptr_t)p;
    if (!sp->hi || a < sp->lo) sp->lo = a;
    if (a + n > sp->hi) sp->hi = a + n;
}

static void drop_span(const span *sp) {
    if (sp->hi) drop_pages((const void *)sp->lo, sp->hi - sp->lo);
}

/* Indexes every value of e as images i0 .. i0+n-1 with label. */
static lg_status env_index(lsun_env *e, lsun_set *s, lg_dataset *ds, int i0, size_t n,
                           int label) {
    MDB_cursor *cur;
    int rc = mdb_cursor_open(e->txn, e->dbi, &cur);
    LG_CHECK(rc == 0, LG_ERR_FORMAT, "%s: %s", e->path, mdb_strerror(rc));
    size_t i = 0;
    MDB_val k, v;
    char key[128];
    lg_status st = LG_OK;
    span sp = {0, 0};
    while (st == LG_OK && (rc = mdb_cursor_get(cur, &k, &v, i ? MDB_NEXT : MDB_FIRST)) == 0) {
        key_text(&k, key, sizeof key);
        if (i >= n)
            st = lg_error(LG_ERR_FORMAT, "%s: entry %s: more entries than its count %zu "
                          "(corrupt?)", e->path, key, n);
        else if (v.mv_size > LSUN_MAX_IMAGE)
            st = lg_error(LG_ERR_FORMAT, "%s: entry %s: value of %zu bytes is too large for an "
                          "image", e->path, key, v.mv_size);
        else if (v.mv_size == 0)
            st = lg_error(LG_ERR_FORMAT, "%s: entry %s: empty value, not an image", e->path, key);
        if (st != LG_OK) break;
        s->ptr[i0 + i] = v.mv_data;
        s->len[i0 + i] = v.mv_size;
        ds->labels[i0 + i] = label;
        /* The walk maps every leaf page: hand them back as it goes, so the
         * peak stays flat too. */
        span_add(&sp, k.mv_data, k.mv_size);
        span_add(&sp, v.mv_data, v.mv_size);
        if (++i % LSUN_DROP_EVERY == 0) drop_span(&sp);
    }
    mdb_cursor_close(cur);
    if (st != LG_OK) return st;
    LG_CHECK(rc == MDB_NOTFOUND, LG_ERR_FORMAT, "%s: reading entry %zu: %s", e->path, i,
             mdb_strerror(rc));
    LG_CHECK(i == n, LG_ERR_FORMAT, "%s: %zu entries read, its count says %zu (corrupt?)",
             e->path, i, n);
    drop_span(&sp);
    e->lo = sp.lo;
    e->hi = sp.hi;
    return LG_OK;
}

/* Counts the pages a read touched; every LSUN_DROP_BYTES of them, hands
 * every environment's map back. A value another thread is reading at that
 * moment just faults back in from the page cache (the map is read-only). */
static void note_read(lsun_set *s, const void *p, size_t n) {
    const uintptr_t ps = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t a = (uintptr_t)p & ~(ps - 1), b = ((uintptr_t)p + n + ps - 1) & ~(ps - 1);
    if (atomic_fetch_add(&s->touched, (size_t)(b - a)) + (b - a) < LSUN_DROP_BYTES) return;
    atomic_store(&s->touched, 0);
    for (int j = 0; j < s->nenv; j++)
        if (s->env[j].hi) drop_pages((const void *)s->env[j].lo, s->env[j].hi - s->env[j].lo);
}

/* The key of entry j of e, for a message (a cursor walk: errors only). */
static void entry_key(lsun_set *s, lsun_env *e, int j, char *key, size_t cap) {
    snprintf(key, cap, "#%d", j);
    pthread_mutex_lock(&s->lock);
    MDB_cursor *cur;
    if (mdb_cursor_open(e->txn, e->dbi, &cur) == 0) {
        MDB_val k, v;
        int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        for (int q = 0; rc == 0 && q < j; q++) rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        if (rc == 0) key_text(&k, key, cap);
        mdb_cursor_close(cur);
    }
    pthread_mutex_unlock(&s->lock);
}

static lg_status set_read(void *ctx, int i, uint8_t *dst) {
    lsun_set *s = ctx;
    int j = 0;
    while (j + 1 < s->nenv && i >= s->start[j + 1]) j++;
    lg_image *im = NULL;
    lg_status st = lg_image_decode(&im, s->ptr[i], s->len[i], "");
    if (st == LG_OK) st = lg_image_fit(im, s->c, s->size, dst, "");
    lg_image_free(im);
    note_read(s, s->ptr[i], s->len[i]);
    if (st == LG_OK) return LG_OK;
    /* The decoder's message names no entry (decoding is the hot path); find its key now. */
    char msg[1024], key[128];
    snprintf(msg, sizeof msg, "%s", lg_errmsg());
    const char *m = msg;
    while (*m == ':' || *m == ' ') m++;
    entry_key(s, &s->env[j], i - s->start[j], key, sizeof key);
    return lg_error(st, "%s: entry %s: %s", s->env[j].path, key, m);
}

static const lg_stream_ops lsun_ops = {set_read, set_close};

/* "bedroom_train_lmdb/" -> "bedroom_train". */
static void class_name(const char *path, char *out, size_t cap) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && path[b - 1] != '/') b--;
    size_t len = n - b;
    if (len > 5 && !memcmp(path + n - 5, "_lmdb", 5)) len -= 5;
    if (len >= cap) len = cap - 1;
    memcpy(out, path + b, len);
    out[len] = 0;
}

/* Opens, counts and names environment p as set s's next class. */
static lg_status add_env(lsun_set *s, const char *p, const char *paths, char (*names)[128],
                         size_t *count) {
    LG_CHECK(s->nenv < LSUN_MAX_CLASSES, LG_ERR_ARG, "lsun:%s: more than %d environments",
             paths, LSUN_MAX_CLASSES);
    lsun_env *e = &s->env[s->nenv];
    LG_TRY(env_open(e, p));
    class_name(p, names[s->nenv], sizeof names[0]);
    s->nenv++;
    LG_TRY(env_count(e, count));
    LG_CHECK(*count > 0, LG_ERR_FORMAT, "%s: the LMDB environment is empty", p);
    return LG_OK;
}

/* Opens every environment of paths into s; *total images. */
static lg_status open_envs(lsun_set *s, const char *paths, char (*names)[128],
                           size_t *counts, size_t *total) {
    char *dup = strdup(paths);
    LG_CHECK(dup, LG_ERR_NOMEM, "out of memory");
    lg_status st = LG_OK;
    *total = 0;
    for (char *save = NULL, *p = strtok_r(dup, ",", &save); p && st == LG_OK;
         p = strtok_r(NULL, ",", &save)) {
        st = add_env(s, p, paths, names, &counts[s->nenv]);
        if (st == LG_OK) *total += counts[s->nenv - 1];
    }
    free(dup);
    LG_TRY(st);
    LG_CHECK(s->nenv > 0, LG_ERR_ARG, "lsun:%s: no environment named", paths);
    LG_CHECK(*total <= 0x7fffffff, LG_ERR_ARG, "lsun:%s: %zu images is more than a data set "
             "holds", paths, *total);
    return LG_OK;
}

lg_status lg_dataset_load_lsun(lg_dataset **out, const char *paths, int c, int size) {
    LG_CHECK(out && paths && paths[0], LG_ERR_ARG, "lsun: needs DIR[,DIR...]");
    *out = NULL;
    if (size == 0) size = LSUN_DEFAULT_SIZE;
    LG_CHECK((c == 1 || c == 3) && size >= 1 && size <= 4096, LG_ERR_ARG,
             "lsun:%s: %d channels at size %d (want 1 or 3, size 1..4096)", paths, c, size);
    lsun_set *s = calloc(1, sizeof *s);
    LG_CHECK(s, LG_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&s->lock, NULL);
    s->c = c;
    s->size = size;
    char names[LSUN_MAX_CLASSES][128];
    size_t counts[LSUN_MAX_CLASSES], total = 0;
    lg_status st = open_envs(s, paths, names, counts, &total);
    if (st == LG_OK) {
        s->ptr = malloc(total * sizeof *s->ptr);
        s->len = malloc(total * sizeof *s->len);
        if (!s->ptr || !s->len) st = lg_error(LG_ERR_NOMEM, "lsun:%s: out of memory for the "
                                              "index of %zu images", paths, total);
    }
    if (st != LG_OK) {
        set_close(s);
        return st;
    }
    char src[512];
    snprintf(src, sizeof src, "lsun:%s", paths);
    const int nenv = s->nenv;
    lg_dataset *ds;
    LG_TRY(lg_ds_alloc_streamed(&ds, (int)total, c, size, size, src, &lsun_ops, s));
    const char *name_ptr[LSUN_MAX_CLASSES];
    for (int j = 0; j < nenv; j++) name_ptr[j] = names[j];
    st = lg_ds_set_classes(ds, nenv, name_ptr);
    for (int j = 0; j < nenv && st == LG_OK; j++) {
        s->start[j + 1] = s->start[j] + (int)counts[j];
        st = env_index(&s->env[j], s, ds, s->start[j], counts[j], j);
    }
    /* The first image decodes now, so a set whose values are not images fails on opening. */
    uint8_t *one = st == LG_OK ? malloc(lg_dataset_image_bytes(ds)) : NULL;
    const uint8_t *px;
    if (st == LG_OK) st = one ? lg_dataset_image(ds, 0, one, &px)
                              : lg_error(LG_ERR_NOMEM, "%s: out of memory", src);
    free(one);
    if (st != LG_OK) {
        lg_dataset_free(ds);
        return st;
    }
    *out = ds;
    return LG_OK;
}
