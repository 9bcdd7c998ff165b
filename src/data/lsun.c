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
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "core/check.h"
#include "data/dataset.h"
#include "lapgan/io.h"

#define LSUN_MAX_IMAGE ((size_t)1 << 28) /* one encoded value */
#define LSUN_MAX_CLASSES 64
#define LSUN_DEFAULT_SIZE 64 /* the paper's LSUN models end at 64x64 */
/* The decoded set lives in memory: refuse one larger than half of it. */
#define LSUN_MEM_SHARE 2

typedef struct {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
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

/* Decodes and fits every value of e into ds's images from index i0, label. */
static lg_status env_read(lsun_env *e, lg_dataset *ds, int i0, size_t n, int label) {
    MDB_cursor *cur;
    int rc = mdb_cursor_open(e->txn, e->dbi, &cur);
    LG_CHECK(rc == 0, LG_ERR_FORMAT, "%s: %s", e->path, mdb_strerror(rc));
    size_t img = (size_t)ds->c * ds->h * ds->w, i = 0;
    MDB_val k, v;
    char name[1400], key[128];
    lg_status st = LG_OK;
    while (st == LG_OK && (rc = mdb_cursor_get(cur, &k, &v, i ? MDB_NEXT : MDB_FIRST)) == 0) {
        key_text(&k, key, sizeof key);
        snprintf(name, sizeof name, "%s: entry %s", e->path, key);
        if (i >= n) {
            st = lg_error(LG_ERR_FORMAT, "%s: more entries than its count %zu (corrupt?)", name, n);
            break;
        }
        if (v.mv_size > LSUN_MAX_IMAGE) {
            st = lg_error(LG_ERR_FORMAT, "%s: value of %zu bytes is too large for an image",
                          name, v.mv_size);
            break;
        }
        lg_image *im = NULL;
        st = lg_image_decode(&im, v.mv_data, v.mv_size, name);
        if (st == LG_OK)
            st = lg_image_fit(im, ds->c, ds->h, ds->pixels + (size_t)(i0 + i) * img, name);
        lg_image_free(im);
        ds->labels[i0 + i] = label;
        i++;
    }
    mdb_cursor_close(cur);
    if (st != LG_OK) return st;
    LG_CHECK(rc == MDB_NOTFOUND, LG_ERR_FORMAT, "%s: reading entry %zu: %s", e->path, i,
             mdb_strerror(rc));
    LG_CHECK(i == n, LG_ERR_FORMAT, "%s: %zu entries read, its count says %zu (corrupt?)",
             e->path, i, n);
    return LG_OK;
}

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

static lg_status check_memory(const char *paths, size_t total, size_t img) {
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    double need = (double)total * img, have = pages > 0 && psize > 0 ? (double)pages * psize : 0;
    LG_CHECK(have == 0 || need <= have / LSUN_MEM_SHARE, LG_ERR_NOMEM,
             "lsun:%s: %zu images need %.1f GB decoded, more than half of this machine's %.1f "
             "GB (use a smaller --size or fewer classes)",
             paths, total, need / 1e9, have / 1e9);
    return LG_OK;
}

lg_status lg_dataset_load_lsun(lg_dataset **out, const char *paths, int c, int size) {
    LG_CHECK(out && paths && paths[0], LG_ERR_ARG, "lsun: needs DIR[,DIR...]");
    *out = NULL;
    if (size == 0) size = LSUN_DEFAULT_SIZE;
    LG_CHECK((c == 1 || c == 3) && size >= 1 && size <= 4096, LG_ERR_ARG,
             "lsun:%s: %d channels at size %d (want 1 or 3, size 1..4096)", paths, c, size);
    char *dup = strdup(paths);
    LG_CHECK(dup, LG_ERR_NOMEM, "out of memory");
    lsun_env envs[LSUN_MAX_CLASSES];
    size_t counts[LSUN_MAX_CLASSES], total = 0;
    char names[LSUN_MAX_CLASSES][128];
    const char *name_ptr[LSUN_MAX_CLASSES];
    int k = 0;
    lg_status st = LG_OK;
    lg_dataset *ds = NULL;
    for (char *save = NULL, *p = strtok_r(dup, ",", &save); p && st == LG_OK;
         p = strtok_r(NULL, ",", &save)) {
        if (k == LSUN_MAX_CLASSES) {
            st = lg_error(LG_ERR_ARG, "lsun:%s: more than %d environments", paths,
                          LSUN_MAX_CLASSES);
            break;
        }
        st = env_open(&envs[k], p);
        if (st != LG_OK) break;
        class_name(p, names[k], sizeof names[k]);
        name_ptr[k] = names[k];
        k++;
        st = env_count(&envs[k - 1], &counts[k - 1]);
        if (st == LG_OK && counts[k - 1] == 0)
            st = lg_error(LG_ERR_FORMAT, "%s: the LMDB environment is empty", p);
        total += st == LG_OK ? counts[k - 1] : 0;
    }
    if (st == LG_OK && k == 0) st = lg_error(LG_ERR_ARG, "lsun:%s: no environment named", paths);
    if (st == LG_OK && total > 0x7fffffff)
        st = lg_error(LG_ERR_ARG, "lsun:%s: %zu images is more than a data set holds", paths,
                      total);
    if (st == LG_OK) st = check_memory(paths, total, (size_t)c * size * size);
    if (st == LG_OK) {
        char src[512];
        snprintf(src, sizeof src, "lsun:%s", paths);
        st = lg_ds_alloc(&ds, (int)total, c, size, size, src);
    }
    if (st == LG_OK) st = lg_ds_set_classes(ds, k, name_ptr);
    for (int j = 0, i0 = 0; j < k && st == LG_OK; i0 += (int)counts[j], j++)
        st = env_read(&envs[j], ds, i0, counts[j], j);
    for (int j = 0; j < k; j++) env_close(&envs[j]);
    free(dup);
    if (st != LG_OK) {
        lg_dataset_free(ds);
        return st;
    }
    *out = ds;
    return LG_OK;
}
