/* Image I/O: PNG round trips, JPEG decode, corrupt inputs, atomic writes,
 * grids and square fitting. */
#include <webp/encode.h>

#include "test.h"
#include "tmpfiles.h"

static char dir[64];

static void fill_pattern(lg_image *im) {
    for (int i = 0; i < im->w * im->h * im->c; i++) im->px[i] = (uint8_t)(i * 37 + i / 7);
}

static void test_png_roundtrip(void) {
    char path[4096];
    t_path(path, dir, "rt.png");
    for (int c = 1; c <= 4; c++) {
        if (c == 2) continue;
        lg_image src = {13, 7, c, malloc(13 * 7 * 4)};
        fill_pattern(&src);
        CHECK_OK(lg_png_write(path, &src));
        lg_image *im = NULL;
        CHECK_OK(lg_image_load(&im, path));
        CHECK(im && im->w == 13 && im->h == 7 && im->c == c);
        if (im && im->c == c) CHECK(memcmp(im->px, src.px, (size_t)13 * 7 * c) == 0);
        lg_image_free(im);
        free(src.px);
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    CHECK(access(tmp, F_OK) != 0); /* no temporary left behind */
}

static void test_jpeg_decode(void) {
    char path[4096];
    t_path(path, dir, "a.jpg");
    int w = 32, h = 16; /* chroma is subsampled: only pixels away from the edge are exact-ish */
    unsigned char px[32 * 16 * 3];
    for (int i = 0; i < w * h; i++) {
        px[3 * i] = 200, px[3 * i + 1] = 40, px[3 * i + 2] = (i % w) < 16 ? 10 : 240;
    }
    CHECK(t_write_jpeg(path, px, w, h, 3, 100));
    lg_image *im = NULL;
    CHECK_OK(lg_image_load(&im, path));
    CHECK(im && im->w == w && im->h == h && im->c == 3);
    int maxerr = 0;
    for (int i = 0; im && i < w * h * 3; i++) {
        if (abs((i / 3) % w * 2 - (w - 1)) < 5) continue; /* columns 14..17 */
        int d = abs((int)im->px[i] - (int)px[i]);
        maxerr = d > maxerr ? d : maxerr;
    }
    CHECK_MSG(maxerr <= 3, "max JPEG error %d", maxerr);
    lg_image_free(im);
    /* Grey JPEG decodes to one channel. */
    unsigned char g[8 * 8];
    for (int i = 0; i < 64; i++) g[i] = (uint8_t)(i * 4);
    CHECK(t_write_jpeg(path, g, 8, 8, 1, 95));
    CHECK_OK(lg_image_load(&im, path));
    CHECK(im && im->c == 1 && im->w == 8);
    lg_image_free(im);
}

static void test_corrupt_inputs(void) {
    char png[4096], jpg[4096], bad[4096];
    uint8_t red[3] = {255, 0, 0};
    CHECK(t_write_png_solid(t_path(png, dir, "ok.png"), 40, 30, 3, red));
    unsigned char px[32 * 32 * 3];
    memset(px, 90, sizeof px);
    CHECK(t_write_jpeg(t_path(jpg, dir, "ok.jpg"), px, 32, 32, 3, 90));
    FILE *f;
    unsigned char buf[8192];
    lg_image *im = (lg_image *)&im; /* must come back NULL */

    /* Truncated PNG: libpng's error path (longjmp) must come back here. */
    f = fopen(png, "rb");
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    CHECK(n > 60);
    CHECK(t_write(t_path(bad, dir, "trunc.png"), buf, n - 20));
    CHECK_ERR(lg_image_load(&im, bad), LG_ERR_FORMAT);
    CHECK(im == NULL && strstr(lg_errmsg(), bad) && strstr(lg_errmsg(), "PNG"));
    /* Flipped byte in the IDAT data: CRC mismatch. */
    buf[n - 20] ^= 0x55;
    CHECK(t_write(bad, buf, n));
    CHECK_ERR(lg_image_load(&im, bad), LG_ERR_FORMAT);

    /* Truncated JPEG: libjpeg warns "premature end"; we treat it as corrupt. */
    f = fopen(jpg, "rb");
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    CHECK(t_write(t_path(bad, dir, "trunc.jpg"), buf, n / 2));
    CHECK_ERR(lg_image_load(&im, bad), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), bad) && strstr(lg_errmsg(), "JPEG"));
    /* JPEG magic followed by garbage: libjpeg's error_exit must not exit. */
    memset(buf + 3, 0x42, 200);
    CHECK(t_write(bad, buf, 203));
    CHECK_ERR(lg_image_load(&im, bad), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), bad) != NULL);

    CHECK_ERR(lg_image_decode(&im, "GIF89a......", 12, "x.gif"), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), "x.gif") != NULL);
    CHECK_ERR(lg_image_decode(&im, "", 0, "empty"), LG_ERR_FORMAT);
    CHECK_ERR(lg_image_load(&im, t_path(bad, dir, "missing.png")), LG_ERR_IO);
    CHECK(strstr(lg_errmsg(), "missing.png") != NULL);
    CHECK_ERR(lg_image_load(&im, dir), LG_ERR_IO); /* a directory */
}

/* WebP (LSUN copies hold some): lossless RGB and RGBA decode exactly, lossy
 * decodes close; truncated data and a header claiming 16384x16384 (more than
 * the decoded-size bound) are refused with the name. */
static void test_webp_decode(void) {
    enum { W = 13, H = 7 };
    uint8_t rgb[W * H * 3], rgba[W * H * 4];
    for (int i = 0; i < W * H * 3; i++) rgb[i] = (uint8_t)(i * 37 + i / 7);
    /* No alpha of 0: lossless WebP may change the colour under a transparent pixel. */
    for (int i = 0; i < W * H * 4; i++) rgba[i] = (uint8_t)(i % 4 == 3 ? 1 + i % 250 : i * 11 + 3);
    uint8_t *enc = NULL;
    size_t n = WebPEncodeLosslessRGB(rgb, W, H, W * 3, &enc);
    CHECK(n > 12 && enc);
    lg_image *im = NULL;
    CHECK_OK(lg_image_decode(&im, enc, n, "a.webp"));
    CHECK(im && im->w == W && im->h == H && im->c == 3 && !memcmp(im->px, rgb, sizeof rgb));
    lg_image_free(im);
    CHECK_ERR(lg_image_decode(&im, enc, n / 2, "half.webp"), LG_ERR_FORMAT);
    CHECK(im == NULL && strstr(lg_errmsg(), "half.webp") && strstr(lg_errmsg(), "WebP"));
    /* VP8L header: 0x2f, then 14 bits width-1 and 14 bits height-1. */
    uint8_t *huge = malloc(n);
    memcpy(huge, enc, n);
    huge[21] = 0xff, huge[22] = 0xff, huge[23] = 0xff, huge[24] |= 0x0f;
    CHECK_ERR(lg_image_decode(&im, huge, n, "huge.webp"), LG_ERR_FORMAT);
    CHECK(strstr(lg_errmsg(), "huge.webp") && strstr(lg_errmsg(), "16384x16384"));
    free(huge);
    WebPFree(enc);
    n = WebPEncodeLosslessRGBA(rgba, W, H, W * 4, &enc);
    CHECK_OK(lg_image_decode(&im, enc, n, "alpha.webp"));
    CHECK(im && im->c == 4 && !memcmp(im->px, rgba, sizeof rgba));
    lg_image_free(im);
    WebPFree(enc);
    n = WebPEncodeRGB(rgb, W, H, W * 3, 90, &enc);
    CHECK_OK(lg_image_decode(&im, enc, n, "lossy.webp"));
    CHECK(im && im->w == W && im->h == H && im->c == 3);
    lg_image_free(im);
    WebPFree(enc);
}

static void test_atomic(void) {
    char path[4096], tmp[4200];
    t_path(path, dir, "atomic.bin");
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    CHECK_OK(lg_atomic_write_file(path, "hello", 5));
    CHECK(t_file_size(path) == 5);
    /* Aborting leaves the old file intact and removes the temporary. */
    lg_atomic_file *f = NULL;
    CHECK_OK(lg_atomic_open(&f, path));
    CHECK_OK(lg_atomic_write(f, "xxxxxxxxxx", 10));
    CHECK(access(tmp, F_OK) == 0);
    lg_atomic_abort(f);
    CHECK(access(tmp, F_OK) != 0 && t_file_size(path) == 5);
    CHECK_OK(lg_atomic_open(&f, path));
    CHECK_OK(lg_atomic_write(f, "0123456789", 10));
    CHECK_OK(lg_atomic_write(f, "ab", 2));
    CHECK(t_file_size(path) == 5); /* not replaced before commit */
    CHECK_OK(lg_atomic_commit(f));
    CHECK(t_file_size(path) == 12 && access(tmp, F_OK) != 0);
    lg_atomic_abort(NULL);
    char nodir[4096];
    CHECK_ERR(lg_atomic_write_file(t_path(nodir, dir, "no/such/dir.bin"), "x", 1), LG_ERR_IO);
    CHECK(strstr(lg_errmsg(), "no/such/dir.bin") != NULL);
    CHECK_ERR(lg_atomic_open(&f, ""), LG_ERR_ARG);
}

static void test_grid(void) {
    /* Two 1x2x3 images: fixed range [-1, 1], pad 1, 2 per row, scale 2. */
    float x[2 * 6] = {-1, 0, 1, -1, 0, 1, /* image 0 */ 2, 2, 2, 2, 2, -5};
    lg_grid_opts o = {2, 1, 7, -1.f, 1.f, 2};
    lg_image *g = NULL;
    CHECK_OK(lg_grid_make(&g, x, 2, 1, 2, 3, &o));
    CHECK(g && g->w == 2 * (3 * 2 + 1) + 1 && g->h == 1 * (2 * 2 + 1) + 1 && g->c == 1);
    if (!g) return;
    CHECK(g->px[0] == 7);                         /* padding */
    CHECK(g->px[1 * g->w + 1] == 0);              /* -1 -> 0 */
    CHECK(g->px[1 * g->w + 2] == 0);              /* scaled copy */
    CHECK(g->px[1 * g->w + 3] == 128);            /* 0 -> 127.5 rounds to 128 */
    CHECK(g->px[1 * g->w + 5] == 255);            /* 1 -> 255 */
    CHECK(g->px[1 * g->w + 8] == 255);            /* 2 clamps */
    CHECK(g->px[4 * g->w + 13] == 0);             /* -5 clamps, bottom-right of image 1 */
    lg_image_free(g);
    /* lo == hi: per-image min-max. */
    o.lo = o.hi = 0;
    CHECK_OK(lg_grid_make(&g, x, 2, 1, 2, 3, &o));
    CHECK(g->px[1 * g->w + 1] == 0 && g->px[1 * g->w + 5] == 255);
    CHECK(g->px[1 * g->w + 8] == 255 && g->px[4 * g->w + 13] == 0);
    lg_image_free(g);
    CHECK_ERR(lg_grid_make(&g, x, 2, 2, 2, 3, &o), LG_ERR_SHAPE);
    CHECK_OK(lg_grid_make(&g, x, 2, 1, 2, 3, NULL));
    lg_image_free(g);
}

static void test_fit(void) {
    /* 8x4 (w x h), left half black, right half white; fit to 4: centre crop. */
    lg_image im = {8, 4, 1, malloc(32)};
    for (int i = 0; i < 32; i++) im.px[i] = (i % 8) < 4 ? 0 : 255;
    uint8_t out[3 * 16];
    CHECK_OK(lg_image_fit(&im, 1, 4, out, "fit"));
    for (int y = 0; y < 4; y++) {
        CHECK(out[y * 4] == 0 && out[y * 4 + 1] == 0);
        CHECK(out[y * 4 + 2] == 255 && out[y * 4 + 3] == 255);
    }
    /* Shrink by 2: area average of 2x2 blocks; to RGB replicates grey. */
    CHECK_OK(lg_image_fit(&im, 3, 2, out, "fit"));
    for (int ch = 0; ch < 3; ch++) CHECK(out[ch * 4 + 0] == 0 && out[ch * 4 + 1] == 255);
    free(im.px);
    /* RGB -> grey uses ITU-R 601 luma. */
    lg_image rgb = {1, 1, 3, malloc(3)};
    rgb.px[0] = 255, rgb.px[1] = 0, rgb.px[2] = 0;
    CHECK_OK(lg_image_fit(&rgb, 1, 1, out, "fit"));
    CHECK(out[0] == 76); /* 0.299 * 255 = 76.2 */
    CHECK_ERR(lg_image_fit(&rgb, 2, 1, out, "fit"), LG_ERR_ARG);
    free(rgb.px);
}

int main(void) {
    if (!t_mkdtemp(dir)) {
        fprintf(stderr, "cannot create a temporary directory\n");
        return 1;
    }
    RUN(test_png_roundtrip);
    RUN(test_jpeg_decode);
    RUN(test_webp_decode);
    RUN(test_corrupt_inputs);
    RUN(test_atomic);
    RUN(test_grid);
    RUN(test_fit);
    t_rmtree(dir);
    return TEST_END();
}
