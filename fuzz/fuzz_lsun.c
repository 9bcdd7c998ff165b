/* LSUN environments: the fuzzed bytes become the keys and values of an LMDB
 * environment written here with liblmdb (LMDB's own page format is trusted
 * by liblmdb and not fuzzed: src/data/lsun.c checks its meta page and size),
 * which lg_dataset_load_lsun then reads at 8x8. Input: records of a 1-byte
 * key length K (0 ends), K key bytes, a 2-byte little-endian value length V,
 * V value bytes; at most 16 records. */
#include <sys/stat.h>

#include <lmdb.h>

#include "fuzz_common.h"

static char fz_lsun_dir[64];

static void fz_lsun_clear(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/data.mdb", fz_lsun_dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", fz_lsun_dir);
    unlink(path);
}

static void fz_lsun_cleanup(void) {
    fz_lsun_clear();
    rmdir(fz_lsun_dir);
}

/* Writes the records; 0 when the input holds none. */
static int fz_lsun_write(const uint8_t *data, size_t size) {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    if (mdb_env_create(&env) || mdb_env_set_mapsize(env, (size_t)16 << 20) ||
        mdb_env_open(env, fz_lsun_dir, MDB_NOSYNC, 0600)) /* scratch: no fsync */
        abort();
    if (mdb_txn_begin(env, NULL, 0, &txn) || mdb_dbi_open(txn, NULL, 0, &dbi)) abort();
    size_t at = 0;
    int n = 0;
    while (n < 16 && at < size && data[at] && at + 1 + data[at] + 2 <= size) {
        MDB_val k = {data[at], (void *)(data + at + 1)};
        at += 1 + data[at];
        size_t vlen = data[at] | (size_t)data[at + 1] << 8;
        at += 2;
        if (vlen > size - at) vlen = size - at;
        MDB_val v = {vlen, (void *)(data + at)};
        at += vlen;
        if (mdb_put(txn, dbi, &k, &v, 0) == 0) n++;
    }
    if (mdb_txn_commit(txn)) abort();
    mdb_env_close(env);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!fz_lsun_dir[0]) {
        struct stat sb;
        const char *base = stat("/dev/shm", &sb) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fz_lsun_dir, sizeof fz_lsun_dir, "%s/lapgan-fuzz-lsun-XXXXXX", base);
        if (!mkdtemp(fz_lsun_dir)) abort();
        atexit(fz_lsun_cleanup);
    }
    fz_lsun_clear();
    int n = fz_lsun_write(data, size);
    lg_dataset *ds = NULL;
    if (lg_dataset_load_lsun(&ds, fz_lsun_dir, 3, 8) == LG_OK) {
        if (ds->n < 1 || ds->n > n || ds->c != 3 || ds->h != 8 || ds->nclasses != 1) abort();
        for (int i = 0; i < ds->n; i++)
            if (ds->labels[i] != 0) abort();
        fz_read_all(ds);
    }
    lg_dataset_free(ds);
    return 0;
}
