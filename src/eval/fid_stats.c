/* FID statistics files in pytorch-fid's layout (`np.savez_compressed(path,
 * mu=mu, sigma=sigma)`): a zip archive with members mu.npy ([d] float) and
 * sigma.npy ([d, d] float), each a .npy array (magic, version, a Python dict
 * header with descr, fortran_order and shape, then the data). Members are
 * read stored or deflated (zlib, raw); '<f8' and '<f4' are accepted. lapgan
 * writes '<f8' members stored, which numpy.load and pytorch-fid read.
 *
 * The reader is a hostile-input parser: the central directory gives each
 * member's sizes (numpy writes zip64 local headers, so those are not
 * trusted), and every offset and size is checked against the file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/check.h"
#include "io/file.h"
#include "lapgan/eval.h"
#include "lapgan/io.h"

enum { MAX_STATS_FILE = 1 << 30 };

static uint32_t rd16(const unsigned char *p) { return p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const unsigned char *p) { return rd16(p) | rd16(p + 2) << 16; }
static void wr16(unsigned char *p, uint32_t v) { p[0] = v & 255, p[1] = (v >> 8) & 255; }
static void wr32(unsigned char *p, uint32_t v) { wr16(p, v & 0xffff), wr16(p + 2, v >> 16); }

/* ---- .npy ----------------------------------------------------------------- */

/* The value of 'key': in a numpy header dict, as text up to the next ',' at
 * depth 0 or the closing '}' (tuples keep their commas). */
static int dict_value(const char *h, const char *key, char *out, size_t len) {
    char pat[32];
    snprintf(pat, sizeof pat, "'%s':", key);
    const char *p = strstr(h, pat);
    if (!p) return 0;
    p += strlen(pat);
    while (*p == ' ') p++;
    size_t n = 0;
    int depth = 0;
    for (; *p && n + 1 < len; p++) {
        if (*p == '(') depth++;
        if (*p == ')') depth--;
        if (depth == 0 && (*p == ',' || *p == '}')) break;
        out[n++] = *p;
    }
    out[n] = 0;
    return n > 0;
}

/* Parses an .npy buffer into doubles; shape must be (d,) or (d, d). */
static lg_status npy_read(const char *path, const char *member, const unsigned char *b,
                          size_t len, int ndim, int want_d, double **out) {
    LG_CHECK(len >= 10 && !memcmp(b, "\x93NUMPY", 6), LG_ERR_FORMAT,
             "%s: %s is not a .npy array", path, member);
    size_t hlen = b[6] == 1 ? rd16(b + 8) : rd32(b + 8), off = b[6] == 1 ? 10 : 12;
    LG_CHECK(b[6] >= 1 && b[6] <= 3 && off + hlen <= len && hlen < 4096, LG_ERR_FORMAT,
             "%s: %s has a bad .npy header", path, member);
    char h[4096], descr[32], fo[16], shape[64];
    memcpy(h, b + off, hlen);
    h[hlen] = 0;
    LG_CHECK(dict_value(h, "descr", descr, sizeof descr) &&
                 dict_value(h, "fortran_order", fo, sizeof fo) &&
                 dict_value(h, "shape", shape, sizeof shape),
             LG_ERR_FORMAT, "%s: %s: .npy header without descr, fortran_order or shape", path,
             member);
    const int f8 = !strcmp(descr, "'<f8'"), f4 = !strcmp(descr, "'<f4'");
    LG_CHECK(f8 || f4, LG_ERR_FORMAT, "%s: %s has dtype %s (need float64 or float32)", path,
             member, descr);
    long d0 = -1, d1 = -1;
    int got = sscanf(shape, "(%ld, %ld)", &d0, &d1);
    if (got < 2) got = sscanf(shape, "(%ld,)", &d0) == 1 ? 1 : 0;
    char want[48];
    if (ndim == 1) snprintf(want, sizeof want, "(%d,)", want_d);
    else snprintf(want, sizeof want, "(%d, %d)", want_d, want_d);
    LG_CHECK(got == ndim && d0 == want_d && (ndim == 1 || d1 == want_d), LG_ERR_FORMAT,
             "%s: %s has shape %s, expected %s", path, member, shape, want);
    const size_t count = ndim == 1 ? (size_t)want_d : (size_t)want_d * want_d;
    const size_t es = f8 ? 8 : 4;
    off += hlen;
    LG_CHECK(len - off == count * es, LG_ERR_FORMAT, "%s: %s holds %zu bytes of data, its shape "
             "needs %zu", path, member, len - off, count * es);
    double *v = lg_alloc(sizeof(double) * count);
    LG_CHECK(v, LG_ERR_NOMEM, "%s: out of memory for %s", path, member);
    for (size_t i = 0; i < count; i++) {
        if (f8) memcpy(&v[i], b + off + 8 * i, 8); /* little-endian host (x86, arm64) */
        else {
            float f;
            memcpy(&f, b + off + 4 * i, 4);
            v[i] = f;
        }
    }
    /* Fortran order only transposes sigma, which is symmetric. */
    *out = v;
    return LG_OK;
}

/* ---- zip -------------------------------------------------------------------- */

/* The bytes of member name (a new buffer). */
static lg_status zip_member(const char *path, const unsigned char *z, size_t len,
                            const char *name, unsigned char **out, size_t *out_len) {
    LG_CHECK(len >= 22, LG_ERR_FORMAT, "%s: not a .npz file (too short for a zip)", path);
    size_t e = len - 22;
    while (e > 0 && len - e < 22 + 65535 && rd32(z + e) != 0x06054b50) e--;
    LG_CHECK(rd32(z + e) == 0x06054b50, LG_ERR_FORMAT, "%s: not a .npz file (no zip directory)",
             path);
    size_t cd = rd32(z + e + 16), entries = rd16(z + e + 10);
    for (size_t i = 0; i < entries; i++) {
        LG_CHECK(cd + 46 <= e && rd32(z + cd) == 0x02014b50, LG_ERR_FORMAT,
                 "%s: corrupt zip directory", path);
        const unsigned char *c = z + cd;
        size_t nlen = rd16(c + 28), elen = rd16(c + 30), clen = rd16(c + 32);
        LG_CHECK(cd + 46 + nlen <= e, LG_ERR_FORMAT, "%s: corrupt zip directory", path);
        if (nlen == strlen(name) && !memcmp(c + 46, name, nlen)) {
            const uint32_t method = rd16(c + 10), csize = rd32(c + 20), usize = rd32(c + 24);
            const size_t lo = rd32(c + 42);
            LG_CHECK(csize != 0xffffffffu && usize != 0xffffffffu && lo != 0xffffffffu,
                     LG_ERR_UNSUPPORTED, "%s: %s is a zip64 member (over 4 GiB)", path, name);
            LG_CHECK(lo + 30 <= len && rd32(z + lo) == 0x04034b50, LG_ERR_FORMAT,
                     "%s: bad local header for %s", path, name);
            size_t data = lo + 30 + rd16(z + lo + 26) + rd16(z + lo + 28);
            LG_CHECK(data <= len && csize <= len - data, LG_ERR_FORMAT,
                     "%s: %s runs past the end of the file (truncated?)", path, name);
            LG_CHECK(method == 0 || method == 8, LG_ERR_UNSUPPORTED,
                     "%s: %s uses zip method %u (stored or deflated only)", path, name, method);
            LG_CHECK(method == 8 || csize == usize, LG_ERR_FORMAT, "%s: %s sizes disagree",
                     path, name);
            unsigned char *buf = lg_alloc(usize ? usize : 1);
            LG_CHECK(buf, LG_ERR_NOMEM, "%s: out of memory for %s", path, name);
            if (method == 0) {
                memcpy(buf, z + data, usize);
            } else {
                z_stream s = {0};
                int ok = inflateInit2(&s, -15) == Z_OK;
                s.next_in = (unsigned char *)z + data, s.avail_in = csize;
                s.next_out = buf, s.avail_out = usize;
                int r = ok ? inflate(&s, Z_FINISH) : Z_STREAM_ERROR;
                if (ok) inflateEnd(&s);
                if (r != Z_STREAM_END || s.total_out != usize) {
                    lg_free(buf);
                    return lg_error(LG_ERR_FORMAT, "%s: %s does not inflate (corrupt or "
                                    "truncated)", path, name);
                }
            }
            if ((uint32_t)crc32(0, buf, usize) != rd32(c + 16)) {
                lg_free(buf);
                return lg_error(LG_ERR_FORMAT, "%s: %s fails its CRC (corrupt)", path, name);
            }
            *out = buf, *out_len = usize;
            return LG_OK;
        }
        cd += 46 + nlen + elen + clen;
    }
    return lg_error(LG_ERR_FORMAT, "%s: no %s in the archive (not FID statistics)", path, name);
}

lg_status lg_fid_stats_load(const char *path, int want_d, double **mu, double **sigma) {
    LG_CHECK(path && mu && sigma && want_d > 0, LG_ERR_ARG, "lg_fid_stats_load: bad argument");
    *mu = *sigma = NULL;
    unsigned char *z = NULL, *m = NULL;
    size_t len = 0, mlen = 0;
    LG_TRY(lg_read_file(path, MAX_STATS_FILE, &z, &len));
    lg_status st = zip_member(path, z, len, "mu.npy", &m, &mlen);
    if (st == LG_OK) st = npy_read(path, "mu", m, mlen, 1, want_d, mu);
    lg_free(m), m = NULL;
    if (st == LG_OK) st = zip_member(path, z, len, "sigma.npy", &m, &mlen);
    if (st == LG_OK) st = npy_read(path, "sigma", m, mlen, 2, want_d, sigma);
    lg_free(m);
    lg_free(z);
    if (st != LG_OK) {
        lg_free(*mu), lg_free(*sigma);
        *mu = *sigma = NULL;
    }
    return st;
}

/* ---- writing ------------------------------------------------------------------ */

/* A v1 .npy of count '<f8' values with the given shape text. */
static size_t npy_write(unsigned char *dst, const double *v, size_t count, const char *shape) {
    char h[128];
    int n = snprintf(h, sizeof h, "{'descr': '<f8', 'fortran_order': False, 'shape': %s, }",
                     shape);
    int total = 10 + n + 1, padded = (total + 63) / 64 * 64; /* numpy aligns to 64 */
    if (dst) {
        memcpy(dst, "\x93NUMPY\x01\x00", 8);
        wr16(dst + 8, (uint32_t)(padded - 10));
        memcpy(dst + 10, h, (size_t)n);
        memset(dst + 10 + n, ' ', (size_t)(padded - total));
        dst[padded - 1] = '\n';
        memcpy(dst + padded, v, count * 8);
    }
    return (size_t)padded + count * 8;
}

lg_status lg_fid_stats_save(const char *path, const double *mu, const double *sigma, int d) {
    LG_CHECK(path && mu && sigma && d > 0, LG_ERR_ARG, "lg_fid_stats_save: bad argument");
    char s1[32], s2[48];
    snprintf(s1, sizeof s1, "(%d,)", d);
    snprintf(s2, sizeof s2, "(%d, %d)", d, d);
    const char *names[2] = {"mu.npy", "sigma.npy"};
    const double *vals[2] = {mu, sigma};
    const size_t counts[2] = {(size_t)d, (size_t)d * d};
    const char *shapes[2] = {s1, s2};
    size_t sz[2], total = 22, off[2];
    for (int i = 0; i < 2; i++) {
        sz[i] = npy_write(NULL, vals[i], counts[i], shapes[i]);
        total += 30 + strlen(names[i]) + sz[i] + 46 + strlen(names[i]);
    }
    LG_CHECK(total < 0xffffffffu, LG_ERR_UNSUPPORTED, "%s: %d-dimensional statistics need zip64",
             path, d);
    unsigned char *z = lg_alloc(total);
    LG_CHECK(z, LG_ERR_NOMEM, "%s: out of memory", path);
    size_t p = 0;
    uint32_t crc[2];
    for (int i = 0; i < 2; i++) {
        const size_t nl = strlen(names[i]);
        off[i] = p;
        unsigned char *l = z + p;
        npy_write(l + 30 + nl, vals[i], counts[i], shapes[i]);
        crc[i] = (uint32_t)crc32(0, l + 30 + nl, (uInt)sz[i]);
        wr32(l, 0x04034b50), wr16(l + 4, 20), wr16(l + 6, 0), wr16(l + 8, 0);
        wr16(l + 10, 0), wr16(l + 12, 0x21); /* time 00:00:02, date 1980-01-01 */
        wr32(l + 14, crc[i]), wr32(l + 18, (uint32_t)sz[i]), wr32(l + 22, (uint32_t)sz[i]);
        wr16(l + 26, (uint32_t)nl), wr16(l + 28, 0);
        memcpy(l + 30, names[i], nl);
        p += 30 + nl + sz[i];
    }
    const size_t cd = p;
    for (int i = 0; i < 2; i++) {
        const size_t nl = strlen(names[i]);
        unsigned char *c = z + p;
        memset(c, 0, 46);
        wr32(c, 0x02014b50), wr16(c + 4, 20), wr16(c + 6, 20), wr16(c + 14, 0x21);
        wr32(c + 16, crc[i]), wr32(c + 20, (uint32_t)sz[i]), wr32(c + 24, (uint32_t)sz[i]);
        wr16(c + 28, (uint32_t)nl), wr32(c + 42, (uint32_t)off[i]);
        memcpy(c + 46, names[i], nl);
        p += 46 + nl;
    }
    unsigned char *e = z + p;
    memset(e, 0, 22);
    wr32(e, 0x06054b50), wr16(e + 8, 2), wr16(e + 10, 2);
    wr32(e + 12, (uint32_t)(p - cd)), wr32(e + 16, (uint32_t)cd);
    p += 22;
    lg_status st = lg_atomic_write_file(path, z, p);
    lg_free(z);
    return st;
}
