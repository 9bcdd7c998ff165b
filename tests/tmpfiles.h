/* Scratch files for tests: a private directory under /tmp (removed at the
 * end), raw file writes, and a JPEG encoder for decoder tests. */
#ifndef LG_TEST_TMPFILES_H
#define LG_TEST_TMPFILES_H
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>

static int t__rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Creates /tmp/lapgan-test-XXXXXX into buf (>= 64 bytes); 0 on failure. */
static inline int t_mkdtemp(char *buf) {
    strcpy(buf, "/tmp/lapgan-test-XXXXXX");
    return mkdtemp(buf) != NULL;
}

static inline void t_rmtree(const char *dir) { nftw(dir, t__rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* dir/name into out (4096 bytes). */
static inline const char *t_path(char *out, const char *dir, const char *name) {
    const int n = snprintf(out, 4096, "%s/%s", dir, name);
    if (n < 0 || n >= 4096) {
        fprintf(stderr, "t_path: %s/%s is too long\n", dir, name);
        abort();
    }
    return out;
}

static inline int t_write(const char *path, const void *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(buf, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

static inline size_t t_file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (size_t)sb.st_size : 0;
}

/* Encodes interleaved w x h x c (1 or 3) bytes as a JPEG file. */
static inline int t_write_jpeg(const char *path, const unsigned char *px, int w, int h, int c,
                               int quality) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = c;
    cinfo.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)cinfo.next_scanline * w * c);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return fclose(f) == 0;
}

/* Writes a solid-colour PNG (c = 1 or 3) through the library. */
static inline int t_write_png_solid(const char *path, int w, int h, int c, const uint8_t *rgb) {
    lg_image im = {w, h, c, malloc((size_t)w * h * c)};
    if (!im.px) return 0;
    for (int i = 0; i < w * h; i++)
        for (int k = 0; k < c; k++) im.px[i * c + k] = rgb[k];
    int ok = lg_png_write(path, &im) == LG_OK;
    free(im.px);
    return ok;
}
#endif
