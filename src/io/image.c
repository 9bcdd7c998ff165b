/* PNG (libpng's simplified API, which catches libpng's longjmp errors
 * itself), JPEG (libjpeg-turbo, with an error manager that longjmps back
 * here instead of exiting) and WebP (libwebp; some LSUN copies hold WebP).
 * All decode from memory; files are read whole. */
#include <math.h>
#include <setjmp.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE and size_t */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>
#include <webp/decode.h>

#include "core/check.h"
#include "io/file.h"
#include "lapgan/io.h"
#include "lapgan/pyramid.h"

#define IMAGE_MAX_FILE ((size_t)1 << 30)
#define IMAGE_MAX_PIXELS ((size_t)1 << 28) /* w*h*c bytes decoded */

void lg_image_free(lg_image *im) {
    if (!im) return;
    lg_free(im->px);
    free(im);
}

static lg_status image_alloc(lg_image **out, int w, int h, int c, const char *name) {
    *out = NULL;
    LG_CHECK(w > 0 && h > 0 && (size_t)w * h * c <= IMAGE_MAX_PIXELS, LG_ERR_FORMAT,
             "%s: image size %dx%dx%d outside the supported range", name, w, h, c);
    lg_image *im = calloc(1, sizeof *im);
    LG_CHECK(im, LG_ERR_NOMEM, "%s: out of memory", name);
    im->px = lg_alloc((size_t)w * h * c);
    if (!im->px) {
        free(im);
        return lg_error(LG_ERR_NOMEM, "%s: out of memory for a %dx%d image", name, w, h);
    }
    im->w = w;
    im->h = h;
    im->c = c;
    *out = im;
    return LG_OK;
}

/* ---- PNG ---------------------------------------------------------------- */

static lg_status png_decode(lg_image **out, const void *bytes, size_t len, const char *name) {
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&pi, bytes, len))
        return lg_error(LG_ERR_FORMAT, "%s: corrupt PNG: %s", name, pi.message);
    int color = pi.format & PNG_FORMAT_FLAG_COLOR, alpha = pi.format & PNG_FORMAT_FLAG_ALPHA;
    int c = alpha ? 4 : color ? 3 : 1;
    pi.format = c == 4 ? PNG_FORMAT_RGBA : c == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    lg_status st = image_alloc(out, (int)pi.width, (int)pi.height, c, name);
    if (st != LG_OK) {
        png_image_free(&pi);
        return st;
    }
    if (!png_image_finish_read(&pi, NULL, (*out)->px, (png_int_32)(pi.width * c), NULL)) {
        lg_image_free(*out);
        *out = NULL;
        return lg_error(LG_ERR_FORMAT, "%s: corrupt PNG: %s", name, pi.message);
    }
    return LG_OK;
}

lg_status lg_png_encode(const lg_image *im, void **out, size_t *len, const char *name) {
    LG_CHECK(im && im->px && out && len, LG_ERR_ARG, "lg_png_encode: NULL argument");
    *out = NULL;
    *len = 0;
    if (!name) name = "<png>";
    LG_CHECK(im->w > 0 && im->h > 0 && (im->c == 1 || im->c == 3 || im->c == 4), LG_ERR_ARG,
             "%s: cannot write a %dx%dx%d image as PNG", name, im->w, im->h, im->c);
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = (png_uint_32)im->w;
    pi.height = (png_uint_32)im->h;
    pi.format = im->c == 4 ? PNG_FORMAT_RGBA : im->c == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    png_alloc_size_t size = 0;
    png_int_32 stride = (png_int_32)im->w * im->c;
    if (!png_image_write_to_memory(&pi, NULL, &size, 0, im->px, stride, NULL))
        return lg_error(LG_ERR_FORMAT, "%s: PNG encoding failed: %s", name, pi.message);
    void *buf = lg_alloc(size);
    LG_CHECK(buf, LG_ERR_NOMEM, "%s: out of memory for %zu PNG bytes", name, (size_t)size);
    if (!png_image_write_to_memory(&pi, buf, &size, 0, im->px, stride, NULL)) {
        lg_free(buf);
        return lg_error(LG_ERR_FORMAT, "%s: PNG encoding failed: %s", name, pi.message);
    }
    *out = buf;
    *len = size;
    return LG_OK;
}

lg_status lg_png_write(const char *path, const lg_image *im) {
    LG_CHECK(path, LG_ERR_ARG, "lg_png_write: NULL path");
    void *buf;
    size_t size;
    LG_TRY(lg_png_encode(im, &buf, &size, path));
    lg_status st = lg_atomic_write_file(path, buf, size);
    lg_free(buf);
    return st;
}

lg_status lg_outputs_add_png(lg_outputs *o, const char *path, const lg_image *im) {
    LG_CHECK(o && path, LG_ERR_ARG, "lg_outputs_add_png: NULL argument");
    LG_TRY(lg_output_check(path)); /* before encoding a large grid */
    void *buf;
    size_t size;
    LG_TRY(lg_png_encode(im, &buf, &size, path));
    lg_status st = lg_outputs_add(o, path, buf, size);
    lg_free(buf);
    return st;
}

lg_status lg_output_png(const char *path, const lg_image *im) {
    lg_outputs *o;
    LG_TRY(lg_outputs_new(&o));
    lg_status st = lg_outputs_add_png(o, path, im);
    if (st == LG_OK) st = lg_outputs_commit(o);
    lg_outputs_free(o);
    return st;
}

/* ---- JPEG --------------------------------------------------------------- */

typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX]; /* first error or warning */
} jpeg_err;

static void jpeg_on_error(j_common_ptr cinfo) {
    jpeg_err *e = (jpeg_err *)cinfo->err;
    if (!e->msg[0]) cinfo->err->format_message(cinfo, e->msg);
    longjmp(e->jump, 1);
}

/* libjpeg prints warnings to stderr by default; keep the first instead.
 * A warning means damaged data (e.g. premature end), so it fails the decode. */
static void jpeg_on_message(j_common_ptr cinfo, int level) {
    jpeg_err *e = (jpeg_err *)cinfo->err;
    if (level < 0 && !e->msg[0]) cinfo->err->format_message(cinfo, e->msg);
    if (level < 0) cinfo->err->num_warnings++;
}

static lg_status jpeg_decode(lg_image **out, const void *bytes, size_t len, const char *name) {
    struct jpeg_decompress_struct cinfo;
    jpeg_err err;
    memset(&err, 0, sizeof err);
    /* volatile: modified between setjmp and longjmp. */
    lg_image *volatile im = NULL;
    volatile lg_status st = LG_OK;
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_on_error;
    err.mgr.emit_message = jpeg_on_message;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        lg_image_free(im);
        return lg_error(LG_ERR_FORMAT, "%s: corrupt JPEG: %s", name, err.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, bytes, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK)
        st = lg_error(LG_ERR_UNSUPPORTED, "%s: CMYK JPEG is not supported", name);
    int c = cinfo.num_components == 1 ? 1 : 3;
    cinfo.out_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    lg_image *tmp = NULL;
    if (st == LG_OK) st = image_alloc(&tmp, (int)cinfo.image_width, (int)cinfo.image_height, c,
                                      name);
    im = tmp;
    if (st == LG_OK) {
        jpeg_start_decompress(&cinfo);
        while (cinfo.output_scanline < cinfo.output_height) {
            JSAMPROW row = im->px + (size_t)cinfo.output_scanline * im->w * c;
            jpeg_read_scanlines(&cinfo, &row, 1);
        }
        jpeg_finish_decompress(&cinfo);
        if (err.mgr.num_warnings > 0)
            st = lg_error(LG_ERR_FORMAT, "%s: corrupt JPEG: %s", name, err.msg);
    }
    jpeg_destroy_decompress(&cinfo);
    if (st != LG_OK) {
        lg_image_free(im);
        return st;
    }
    *out = im;
    return LG_OK;
}

/* ---- fitting to a square ------------------------------------------------ */

/* Decoded HWC bytes -> c float planes (grey or RGB). */
static void to_planes(const lg_image *im, int c, float *planes) {
    size_t hw = (size_t)im->w * im->h;
    for (size_t i = 0; i < hw; i++) {
        const uint8_t *p = im->px + i * im->c;
        float r = p[0], g = im->c >= 3 ? p[1] : p[0], b = im->c >= 3 ? p[2] : p[0];
        if (c == 1)
            planes[i] = im->c >= 3 ? 0.299f * r + 0.587f * g + 0.114f * b : r;
        else {
            planes[i] = r;
            planes[hw + i] = g;
            planes[2 * hw + i] = b;
        }
    }
}

lg_status lg_image_fit(const lg_image *im, int c, int size, uint8_t *dst, const char *path) {
    if (!path) path = "<image>";
    LG_CHECK(im && im->px && dst, LG_ERR_ARG, "%s: lg_image_fit: NULL argument", path);
    LG_CHECK(c == 1 || c == 3, LG_ERR_ARG, "%s: channels must be 1 or 3, got %d", path, c);
    LG_CHECK(size > 0 && im->w > 0 && im->h > 0, LG_ERR_ARG, "%s: cannot fit %dx%d into %d",
             path, im->w, im->h, size);
    if (im->w == size && im->h == size && im->c == c) { /* nothing to resize or convert */
        const size_t hw = (size_t)size * size;
        for (int ch = 0; ch < c; ch++)
            for (size_t i = 0; i < hw; i++) dst[ch * hw + i] = im->px[i * c + ch];
        return LG_OK;
    }
    /* Shorter side to size; the longer one in double first, since a thin
     * image can make it overflow an int. */
    double lw = im->w <= im->h ? size : fmax(size, round((double)im->w * size / im->h));
    double lh = im->w <= im->h ? fmax(size, round((double)im->h * size / im->w)) : size;
    /* The resize happens before the crop, so a thin image (a 2 KB PNG of
     * 1 x 1,000,000 pixels) would need gigabytes here: bound it first. No
     * larger than the input (bounded when decoded), or 2^28 bytes of floats. */
    const double in_values = (double)im->w * im->h * c;
    const double max_values = fmax(in_values, (double)IMAGE_MAX_PIXELS / sizeof(float));
    LG_CHECK(lw * lh * c <= max_values, LG_ERR_FORMAT,
             "%s: a %dx%d image would be resized to %.0fx%.0f before the %dx%d crop, more than "
             "the 2^28 bytes allowed (aspect ratio too extreme)", path, im->w, im->h, lw, lh,
             size, size);
    const int sw = (int)lw, sh = (int)lh;
    size_t in_n = (size_t)im->w * im->h * c, out_n = (size_t)sw * sh * c;
    float *in = lg_alloc_floats(in_n), *out = lg_alloc_floats(out_n);
    lg_status st = in && out ? LG_OK : lg_error(LG_ERR_NOMEM, "%s: out of memory resizing", path);
    if (st == LG_OK) {
        to_planes(im, c, in);
        int shrink = sw <= im->w && sh <= im->h, grow = sw >= im->w && sh >= im->h;
        if (sw == im->w && sh == im->h) /* already the size: only the crop (streamed sets' usual case) */
            memcpy(out, in, sizeof(float) * in_n);
        else if (shrink)
            st = lg_pyr_down(LG_PYR_AREA_BILINEAR, in, 1, c, im->h, im->w, out, sh, sw);
        else if (grow)
            st = lg_pyr_up(LG_PYR_AREA_BILINEAR, in, 1, c, im->h, im->w, out, sh, sw);
        else /* rounding made one side grow and the other shrink */
            st = lg_error(LG_ERR_UNSUPPORTED, "%s: cannot resize %dx%d to %dx%d", path, im->w,
                          im->h, sw, sh);
    }
    if (st == LG_OK) {
        int x0 = (sw - size) / 2, y0 = (sh - size) / 2;
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++) {
                    float v = out[((size_t)ch * sh + y0 + y) * sw + x0 + x];
                    v = v < 0 ? 0 : v > 255 ? 255 : v;
                    dst[((size_t)ch * size + y) * size + x] = (uint8_t)lrintf(v);
                }
    }
    lg_free(in);
    lg_free(out);
    return st;
}

/* ---- WebP ---------------------------------------------------------------- */

/* The header gives the size before anything is allocated, so a file that
 * claims huge dimensions is refused by image_alloc's bound. */
static lg_status webp_decode(lg_image **out, const void *bytes, size_t len, const char *name) {
    WebPBitstreamFeatures f;
    LG_CHECK(WebPGetFeatures(bytes, len, &f) == VP8_STATUS_OK, LG_ERR_FORMAT,
             "%s: corrupt WebP header", name);
    int c = f.has_alpha ? 4 : 3;
    LG_TRY(image_alloc(out, f.width, f.height, c, name));
    size_t n = (size_t)f.width * f.height * c;
    int stride = f.width * c;
    uint8_t *ok = c == 4 ? WebPDecodeRGBAInto(bytes, len, (*out)->px, n, stride)
                         : WebPDecodeRGBInto(bytes, len, (*out)->px, n, stride);
    if (!ok) {
        lg_image_free(*out);
        *out = NULL;
        return lg_error(LG_ERR_FORMAT, "%s: corrupt WebP data", name);
    }
    return LG_OK;
}

/* ---- dispatch ----------------------------------------------------------- */

lg_status lg_image_decode(lg_image **out, const void *bytes, size_t len, const char *name) {
    LG_CHECK(out, LG_ERR_ARG, "lg_image_decode: out is NULL");
    *out = NULL;
    if (!name) name = "<memory>";
    LG_CHECK(bytes || len == 0, LG_ERR_ARG, "%s: NULL buffer", name);
    const unsigned char *b = bytes;
    static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len >= 8 && !memcmp(b, png_magic, 8)) return png_decode(out, bytes, len, name);
    if (len >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
        return jpeg_decode(out, bytes, len, name);
    if (len >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4))
        return webp_decode(out, bytes, len, name);
    return lg_error(LG_ERR_FORMAT,
                    "%s: not a PNG, JPEG or WebP image (%zu bytes, unknown magic)", name, len);
}

lg_status lg_image_load(lg_image **out, const char *path) {
    LG_CHECK(out && path, LG_ERR_ARG, "lg_image_load: NULL argument");
    *out = NULL;
    unsigned char *buf;
    size_t len;
    LG_TRY(lg_read_file(path, IMAGE_MAX_FILE, &buf, &len));
    lg_status st = lg_image_decode(out, buf, len, path);
    lg_free(buf);
    return st;
}
