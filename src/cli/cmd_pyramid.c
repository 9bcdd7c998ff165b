/* lapgan pyramid: one PNG with a row per level: I_k, u(I_{k+1}) and the
 * band-pass h_k (min-max normalised), all shown at the finest size. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define CMD "pyramid"

static void help(void) {
    printf("usage: lapgan pyramid IMAGE|DATASET -o OUT.png [options]\n\n"
           "Draws the Laplacian pyramid of one image: a row per level k showing I_k,\n"
           "u(I_{k+1}) and the band-pass image h_k = I_k - u(I_{k+1}) (min-max\n"
           "normalised; the last row's h_K is the low-pass residual I_K).\n\n"
           "  IMAGE            a PNG or JPEG file\n"
           "  DATASET          a data set spec (fashion, cifar10:DIR, stl10:DIR, idx:IMAGES,\n"
           "                   npy:X.npy, npz:F.npz, zip:F.zip, folder:DIR, lsun:DIR;\n"
           "                   docs/data.md)\n"
           "  -o, --output F   the PNG to write (written atomically)\n"
           "  --index N        image N of a data set (default 0)\n"
           "  --levels K       number of levels (default 3); level k+1 is ceil(size_k / 2)\n"
           "  --size S         finest size: shorter side resized to S, centre-cropped\n"
           "                   (default: the image's shorter side)\n"
           "  --filter F       binomial (paper, default) or area-bilinear (authors' code)\n");
}

typedef struct {
    const char *input, *output;
    long index, levels, size;
    lg_pyr_filter filter;
} opts;

/* An existing file is an image, even one named like a spec. */
static int is_dataset_spec(const char *s) {
    return access(s, F_OK) != 0 && lg_dataset_spec_known(s);
}

static int parse(int argc, char **argv, opts *o) {
    *o = (opts){NULL, NULL, 0, 3, 0, LG_PYR_BINOMIAL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = LG_EXIT_OK;
        if (lg_cli_is_help(a)) {
            help();
            return -1;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!v) return lg_cli_usage_error(CMD, "%s needs a file name", a);
            o->output = argv[++i];
        } else if (!strcmp(a, "--index")) {
            rc = lg_cli_int(CMD, a, v, 0, 0x7fffffff, &o->index), i++;
        } else if (!strcmp(a, "--levels")) {
            rc = lg_cli_int(CMD, a, v, 1, LG_PYR_MAX_LEVELS, &o->levels), i++;
        } else if (!strcmp(a, "--size")) {
            rc = lg_cli_int(CMD, a, v, 1, 4096, &o->size), i++;
        } else if (!strcmp(a, "--filter")) {
            if (!v || lg_pyr_filter_parse(v, &o->filter) != LG_OK)
                return lg_cli_usage_error(CMD, "--filter wants binomial or area-bilinear");
            i++;
        } else if (a[0] == '-' && a[1]) {
            return lg_cli_usage_error(CMD, "unknown option '%s'", a);
        } else if (o->input) {
            return lg_cli_usage_error(CMD, "one input expected, got '%s' and '%s'", o->input, a);
        } else {
            o->input = a;
        }
        if (rc != LG_EXIT_OK) return rc;
    }
    if (!o->input) return lg_cli_usage_error(CMD, "no input image");
    if (!o->output) return lg_cli_usage_error(CMD, "no output file (-o OUT.png)");
    return LG_EXIT_OK;
}

/* The chosen image as float CHW in [0, 255] at size x size. */
static lg_status load_input(const opts *o, float **img, int *c, int *size) {
    uint8_t *px = NULL;
    lg_status st;
    if (is_dataset_spec(o->input)) {
        lg_dataset *ds;
        st = lg_dataset_open(&ds, o->input, 3, o->size ? (int)o->size : 64);
        if (st != LG_OK) return st;
        if (o->index >= ds->n) {
            st = lg_error(LG_ERR_ARG, "%s: --index %ld out of range (%d images)", o->input,
                          o->index, ds->n);
        } else if (ds->h != ds->w) {
            st = lg_error(LG_ERR_UNSUPPORTED, "%s: %dx%d images are not square", o->input, ds->h,
                          ds->w);
        } else {
            *c = ds->c;
            *size = ds->h;
            px = malloc(lg_dataset_image_bytes(ds));
            st = px ? lg_dataset_images(ds, (int)o->index, 1, px)
                    : lg_error(LG_ERR_NOMEM, "out of memory");
        }
        lg_dataset_free(ds);
    } else {
        lg_image *im;
        st = lg_image_load(&im, o->input);
        if (st != LG_OK) return st;
        *c = im->c == 1 ? 1 : 3;
        *size = o->size ? (int)o->size : (im->w < im->h ? im->w : im->h);
        px = malloc((size_t)*c * *size * *size);
        st = px ? lg_image_fit(im, *c, *size, px, o->input) : lg_error(LG_ERR_NOMEM, "out of memory");
        lg_image_free(im);
    }
    size_t n = (size_t)*c * *size * *size;
    *img = st == LG_OK ? lg_alloc_floats(n) : NULL;
    if (st == LG_OK && !*img) st = LG_ERR_NOMEM;
    for (size_t i = 0; st == LG_OK && i < n; i++) (*img)[i] = px[i];
    free(px);
    return st;
}

/* Nearest-neighbour copy of an s x s image into a d x d panel, optionally
 * min-max stretched to [0, 255]. */
static void panel(const float *src, int c, int s, int d, int stretch, float *dst) {
    float lo = 0, hi = 255;
    if (stretch) {
        lo = hi = src[0];
        for (size_t i = 0; i < (size_t)c * s * s; i++) {
            lo = src[i] < lo ? src[i] : lo;
            hi = src[i] > hi ? src[i] : hi;
        }
    }
    float k = hi > lo ? 255.f / (hi - lo) : 0.f, off = hi > lo ? 0.f : 128.f;
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < d; y++)
            for (int x = 0; x < d; x++) {
                float v = src[((size_t)ch * s + (size_t)y * s / d) * s + (size_t)x * s / d];
                dst[((size_t)ch * d + y) * d + x] = (v - lo) * k + off;
            }
}

static lg_status draw(const lg_pyramid *p, const char *out) {
    int c = p->c, d = p->size[0], L = p->levels;
    size_t pn = (size_t)c * d * d;
    float *panels = lg_alloc_floats(pn * 3 * L), *ik = lg_alloc_floats(pn),
          *up = lg_alloc_floats(pn);
    lg_status st = panels && ik && up ? LG_OK : LG_ERR_NOMEM;
    for (int k = 0; st == LG_OK && k < L; k++) {
        int s = p->size[k];
        float *row = panels + pn * 3 * k;
        st = lg_pyramid_reconstruct(p, k, ik);
        if (st != LG_OK) break;
        panel(ik, c, s, d, 0, row);
        if (k + 1 < L) {
            for (size_t i = 0; i < (size_t)c * s * s; i++) up[i] = ik[i] - p->band[k][i];
            panel(up, c, s, d, 0, row + pn);
        } else {
            for (size_t i = 0; i < pn; i++) row[pn + i] = 128.f;
        }
        panel(p->band[k], c, s, d, 1, row + 2 * pn);
    }
    lg_image *grid = NULL;
    int scale = d >= 128 ? 1 : (128 + d - 1) / d;
    lg_grid_opts go = {3, 2, 255, 0.f, 255.f, scale};
    if (st == LG_OK) st = lg_grid_make(&grid, panels, 3 * L, c, d, d, &go);
    if (st == LG_OK) st = lg_output_png(out, grid);
    lg_image_free(grid);
    lg_free(panels);
    lg_free(ik);
    lg_free(up);
    return st;
}

int lg_cmd_pyramid(int argc, char **argv) {
    opts o;
    int rc = parse(argc, argv, &o);
    if (rc != LG_EXIT_OK) return rc < 0 ? LG_EXIT_OK : rc;
    float *img = NULL;
    int c = 0, size = 0;
    lg_status st = lg_output_check(o.output); /* before decoding the input */
    if (st == LG_OK) st = load_input(&o, &img, &c, &size);
    if (st != LG_OK) return lg_cli_fail(CMD, st);
    int sizes[LG_PYR_MAX_LEVELS];
    sizes[0] = size;
    for (int k = 1; k < o.levels; k++) sizes[k] = (sizes[k - 1] + 1) / 2;
    if (o.levels > 1 && sizes[o.levels - 1] == sizes[o.levels - 2]) {
        lg_free(img);
        return lg_cli_usage_error(CMD, "%s: --levels %ld is too many for a %dx%d image", o.input,
                                  o.levels, size, size);
    }
    lg_pyramid *p = NULL;
    st = lg_pyramid_new(&p, o.filter, 1, c, sizes, (int)o.levels);
    if (st == LG_OK) st = lg_pyramid_build(p, img);
    if (st == LG_OK) st = draw(p, o.output);
    lg_pyramid_free(p);
    lg_free(img);
    return st == LG_OK ? LG_EXIT_OK : lg_cli_fail(CMD, st);
}
