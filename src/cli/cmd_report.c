/* lapgan report: one self-contained HTML page for a run directory: the
 * sample grids (PNG files inlined as data URIs), loss and accuracy curves of
 * every level (inline SVG drawn from log_level_<k>.jsonl), the metrics the
 * eval commands merged into metrics.json, and the model description. The
 * page ends in </body>, where `lapgan study report --html` can insert its
 * section. */
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "io/file.h"
#include "lapgan/gan.h"

#define CMD "report"

enum { MAX_POINTS = 1000, MAX_IMAGE = 64 << 20, MAX_LOG = 256 << 20 };

static void help(void) {
    printf("usage: lapgan report RUN_DIR [-o FILE]\n"
           "Writes one self-contained HTML page about a training run: the sample grid and\n"
           "coarse-to-fine chain (samples.png, chain.png from 'lapgan sample', else the latest\n"
           "samples/model_step_*.png), nearest neighbours (nn.png from 'lapgan eval nn'), each\n"
           "level's latest training grid, D and G loss and D's accuracy on real and generated\n"
           "images per level (from log_level_<k>.jsonl), the metrics of 'lapgan eval'\n"
           "(metrics.json) and the model with its parameter counts.\n\n"
           "  -o, --out FILE   where to write it (default RUN_DIR/report.html)\n"
           "  --best           headline the metrics of the best-model weights (eval --best)\n");
}

/* ---- a growing string --------------------------------------------------- */

typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} sbuf;

static void reserve(sbuf *b, size_t more) {
    if (b->oom || b->len + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->len + more + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = 1;
        return;
    }
    b->s = s, b->cap = cap;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void put(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    reserve(b, (size_t)n);
    if (b->oom) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void put_escaped(sbuf *b, const char *t) {
    for (; *t; t++) {
        switch (*t) {
        case '<': put(b, "&lt;"); break;
        case '>': put(b, "&gt;"); break;
        case '&': put(b, "&amp;"); break;
        case '"': put(b, "&quot;"); break;
        default: put(b, "%c", *t);
        }
    }
}

static void put_base64(sbuf *b, const unsigned char *p, size_t n) {
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    reserve(b, (n + 2) / 3 * 4);
    if (b->oom) return;
    char *o = b->s + b->len;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        *o++ = a[v >> 18 & 63];
        *o++ = a[v >> 12 & 63];
        *o++ = i + 1 < n ? a[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? a[v & 63] : '=';
    }
    *o = 0;
    b->len = (size_t)(o - b->s);
}

/* ---- images ----------------------------------------------------------- */

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The samples/ file "<prefix>NNNNNN.png" with the highest step, or "". */
static void latest(const char *run, const char *prefix, char *out, size_t len) {
    char dir[4096], name[256] = "";
    snprintf(dir, sizeof dir, "%s/samples", run);
    out[0] = 0;
    DIR *d = opendir(dir);
    if (!d) return;
    long long best = -1;
    size_t pl = strlen(prefix);
    for (struct dirent *e; (e = readdir(d));) {
        char *end;
        if (strncmp(e->d_name, prefix, pl) || strlen(e->d_name) >= sizeof name) continue;
        long long step = strtoll(e->d_name + pl, &end, 10);
        if (end == e->d_name + pl || strcmp(end, ".png") || step <= best) continue;
        best = step;
        strcpy(name, e->d_name);
    }
    closedir(d);
    size_t dl = strlen(dir), nl = strlen(name);
    if (nl && dl + nl + 2 <= len) {
        memcpy(out, dir, dl);
        out[dl] = '/';
        memcpy(out + dl + 1, name, nl + 1);
    }
}

static lg_status put_figure(sbuf *b, const char *path, const char *caption) {
    unsigned char *bytes;
    size_t n;
    lg_status st = lg_read_file(path, MAX_IMAGE, &bytes, &n);
    if (st != LG_OK) return st;
    if (n < 8 || memcmp(bytes, "\x89PNG\r\n\x1a\n", 8)) {
        lg_free(bytes);
        return lg_error(LG_ERR_FORMAT, "%s: not a PNG file", path);
    }
    put(b, "<figure><img alt=\"");
    put_escaped(b, caption);
    put(b, "\" src=\"data:image/png;base64,");
    put_base64(b, bytes, n);
    put(b, "\"><figcaption>");
    put_escaped(b, caption);
    put(b, " <span class=\"path\">(");
    put_escaped(b, path);
    put(b, ")</span></figcaption></figure>\n");
    lg_free(bytes);
    return LG_OK;
}

static lg_status put_images(sbuf *b, const char *run) {
    char path[4096];
    lg_status st = LG_OK;
    put(b, "<h2>Samples</h2>\n");
    int any = 0;
    snprintf(path, sizeof path, "%s/samples.png", run);
    if (exists(path)) st = put_figure(b, path, "samples (lapgan sample)"), any = 1;
    else {
        latest(run, "model_step_", path, sizeof path);
        if (path[0]) st = put_figure(b, path, "the whole model's samples at the end of training"),
                     any = 1;
    }
    snprintf(path, sizeof path, "%s/chain.png", run);
    if (st == LG_OK && exists(path))
        st = put_figure(b, path, "coarse to fine: I_K, then per finer level u(I_k+1), h_k, I_k"),
        any = 1;
    snprintf(path, sizeof path, "%s/nn.png", run);
    if (st == LG_OK && exists(path))
        st = put_figure(b, path, "each row: a sample, then its nearest training images "
                                 "(lapgan eval nn)"),
        any = 1;
    if (!any) put(b, "<p>No sample grids yet: run <code>lapgan sample --model RUN_DIR "
                     "--chain RUN_DIR/chain.png</code>.</p>\n");
    return st;
}

static lg_status put_level_grids(sbuf *b, const char *run, int levels) {
    char path[4096], cap[256];
    lg_status st = LG_OK;
    put(b, "<h2>Each level at the end of training</h2>\n");
    for (int k = 0; k < levels && st == LG_OK; k++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "level_%d_step_", k);
        latest(run, prefix, path, sizeof path);
        if (!path[0]) continue;
        snprintf(cap, sizeof cap, "level %d during training: rows of u(I_k+1), generated I_k, "
                                  "real I_k", k);
        st = put_figure(b, path, cap);
    }
    return st;
}

/* ---- loss curves ------------------------------------------------------ */

typedef struct {
    int n, cap, skipped;
    double *v[5]; /* step, d_loss, g_loss, d_real_acc, d_fake_acc */
} series;

static const char *const fields[5] = {"step", "d_loss", "g_loss", "d_real_acc", "d_fake_acc"};
/* The validation records best-model selection writes into the same log. */
static const char *const val_fields[5] = {"step", "val_parzen", "best_parzen", "val_min_dist",
                                          "best_step"};

static void series_free(series *s) {
    for (int i = 0; i < 5; i++) free(s->v[i]);
}

/* Lines that are not complete JSON objects with every field (a line being
 * written while the report runs) are counted and skipped. */
static lg_status read_log(const char *path, series *s, const char *const *want) {
    memset(s, 0, sizeof *s);
    unsigned char *text;
    size_t len;
    lg_status st = lg_read_file(path, MAX_LOG, &text, &len);
    if (st != LG_OK) return st;
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && text[e] != '\n') e++;
        json_t *o = json_loadb((const char *)text + i, e - i, 0, NULL);
        double v[5];
        int ok = json_is_object(o);
        /* A record of the other kind (training vs validation) is neither kept nor "skipped". */
        const int other = ok && !json_object_get(o, "val_parzen") != (want == fields);
        ok = ok && !other;
        for (int f = 0; f < 5 && ok; f++) {
            json_t *x = json_object_get(o, want[f]);
            ok = json_is_number(x) && isfinite(v[f] = json_number_value(x));
        }
        json_decref(o);
        if (ok && s->n == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 256;
            for (int f = 0; f < 5; f++) {
                double *p = realloc(s->v[f], sizeof(double) * (size_t)s->cap);
                if (!p) {
                    lg_free(text);
                    return lg_error(LG_ERR_NOMEM, "out of memory reading %s", path);
                }
                s->v[f] = p;
            }
        }
        if (ok)
            for (int f = 0; f < 5; f++) s->v[f][s->n] = v[f];
        s->n += ok;
        s->skipped += !ok && !other && e > i;
        i = e + 1;
    }
    lg_free(text);
    return LG_OK;
}

/* A step of 1, 2 or 5 times a power of ten giving about n ticks. */
static double nice_step(double range, int n) {
    double raw = range / n, p = pow(10, floor(log10(raw))), m = raw / p;
    return p * (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10);
}

enum { CW = 515, CH = 250, ML = 52, MR = 24, MT = 26, MB = 38 };

/* One chart: y columns ys[] (of s) against steps, fixed y range when lo < hi. */
static void chart(sbuf *b, const series *s, const char *title, const int *cols,
                  const char *const *names, const char *const *colors, int ncol, double lo,
                  double hi) {
    const double *x = s->v[0];
    double x0 = x[0], x1 = x[s->n - 1];
    if (lo >= hi) {
        lo = INFINITY, hi = -INFINITY;
        for (int c = 0; c < ncol; c++)
            for (int i = 0; i < s->n; i++)
                lo = fmin(lo, s->v[cols[c]][i]), hi = fmax(hi, s->v[cols[c]][i]);
        double pad = hi > lo ? 0.05 * (hi - lo) : 0.5;
        lo = lo - pad < 0 && lo >= 0 ? 0 : lo - pad, hi += pad;
    }
    if (x1 <= x0) x0 -= 1, x1 += 1;
    const double pw = CW - ML - MR, ph = CH - MT - MB;
#define PX(v) (ML + ((v) - x0) / (x1 - x0) * pw)
#define PY(v) (MT + (hi - (v)) / (hi - lo) * ph)
    put(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
           "viewBox=\"0 0 %d %d\" role=\"img\"><title>", CW, CH, CW, CH);
    put_escaped(b, title);
    put(b, "</title>\n<rect x=\"%d\" y=\"%d\" width=\"%g\" height=\"%g\" fill=\"#fff\" "
           "stroke=\"#999\"/>\n<text x=\"%d\" y=\"16\" class=\"t\">", ML, MT, pw, ph, ML);
    put_escaped(b, title);
    put(b, "</text>\n");
    double ys = nice_step(hi - lo, 5), xs = nice_step(x1 - x0, 6);
    for (double v = ceil(lo / ys) * ys; v <= hi + 1e-9 * ys; v += ys)
        put(b, "<line x1=\"%d\" x2=\"%g\" y1=\"%.1f\" y2=\"%.1f\" class=\"g\"/>"
               "<text x=\"%d\" y=\"%.1f\" class=\"yl\">%g</text>\n",
            ML, ML + pw, PY(v), PY(v), ML - 4, PY(v) + 4, fabs(v) < 1e-12 * ys ? 0 : v);
    for (double v = ceil(x0 / xs) * xs; v <= x1 + 1e-9 * xs; v += xs)
        put(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%g\" class=\"g\"/>"
               "<text x=\"%.1f\" y=\"%g\" class=\"xl\">%g</text>\n",
            PX(v), PX(v), MT, MT + ph, PX(v), MT + ph + 15, v);
    put(b, "<text x=\"%g\" y=\"%d\" class=\"xl\">step</text>\n", ML + pw / 2, CH - 4);
    const int stride = s->n > MAX_POINTS ? (s->n + MAX_POINTS - 1) / MAX_POINTS : 1;
    for (int c = 0; c < ncol; c++) {
        const double *y = s->v[cols[c]];
        put(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.6\" points=\"", colors[c]);
        for (int i = 0; i < s->n; i += stride) put(b, "%.1f,%.1f ", PX(x[i]), PY(y[i]));
        put(b, "\"/>\n");
        if (s->n <= 60)
            for (int i = 0; i < s->n; i++)
                put(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>", PX(x[i]),
                    PY(y[i]), colors[c]);
    }
    put(b, "<rect x=\"%g\" y=\"%d\" width=\"154\" height=\"%d\" fill=\"#fff\" "
           "fill-opacity=\"0.85\"/>\n", ML + pw - 156, MT + 3, 14 * ((ncol + 1) / 2) + 4);
    for (int c = 0; c < ncol; c++)
        put(b, "<rect x=\"%g\" y=\"%d\" width=\"14\" height=\"3\" fill=\"%s\"/>"
               "<text x=\"%g\" y=\"%d\" class=\"lg\">%s</text>\n",
            ML + pw - 150 + 78 * (c % 2), MT + 10 + 14 * (c / 2), colors[c],
            ML + pw - 132 + 78 * (c % 2), MT + 15 + 14 * (c / 2), names[c]);
#undef PX
#undef PY
    put(b, "</svg>\n");
}

static lg_status put_curves(sbuf *b, const char *run, const lg_model_desc *m) {
    put(b, "<h2>Training curves</h2>\n<p>Binary cross-entropy of D (on half real, half "
           "generated minibatches) and of G (non-saturating), and the share of real images D "
           "calls real and of generated ones it calls generated, per level.</p>\n");
    for (int k = m->levels - 1; k >= 0; k--) {
        char path[4096], title[128];
        snprintf(path, sizeof path, "%s/log_level_%d.jsonl", run, k);
        put(b, "<h3>Level %d (%dx%d)</h3>\n", k, m->level[k].size, m->level[k].size);
        if (!exists(path)) {
            put(b, "<p>Not trained yet (no log).</p>\n");
            continue;
        }
        series s, vs;
        lg_status st = read_log(path, &s, fields);
        if (st == LG_OK) st = read_log(path, &vs, val_fields);
        if (st != LG_OK) return st;
        if (s.n == 0) {
            put(b, "<p>The log has no complete lines yet.</p>\n");
        } else {
            static const int loss[] = {1, 2}, acc[] = {3, 4};
            static const char *const ln[] = {"D loss", "G loss"}, *const an[] = {"real", "fake"};
            static const char *const lc[] = {"#1f77b4", "#d62728"}, *const ac[] = {"#2ca02c",
                                                                                  "#ff7f0e"};
            put(b, "<div class=\"charts\">\n");
            snprintf(title, sizeof title, "level %d: losses", k);
            chart(b, &s, title, loss, ln, lc, 2, 0, 0);
            snprintf(title, sizeof title, "level %d: D accuracy on real / generated", k);
            chart(b, &s, title, acc, an, ac, 2, 0, 1);
            put(b, "</div>\n");
        }
        if (vs.n) {
            static const int vc[] = {1, 2};
            static const char *const vn[] = {"Parzen", "best so far"};
            static const char *const vcol[] = {"#9467bd", "#8c564b"};
            put(b, "<div class=\"charts\">\n");
            snprintf(title, sizeof title, "level %d: validation Parzen (nats, held-out)", k);
            chart(b, &vs, title, vc, vn, vcol, 2, 0, 0);
            put(b, "</div>\n<p>Best-model selection: %d checks; best %.2f nats at step %.0f "
                   "(<code>best/level_%d.safetensors</code>); the authors' approxParzen at the "
                   "last check %.3f.</p>\n", vs.n, vs.v[2][vs.n - 1], vs.v[4][vs.n - 1], k,
                vs.v[3][vs.n - 1]);
        }
        if (s.skipped) put(b, "<p>%d incomplete log lines skipped.</p>\n", s.skipped);
        series_free(&s);
        series_free(&vs);
    }
    return LG_OK;
}

/* ---- metrics ------------------------------------------------------------ */

static void put_value(sbuf *b, json_t *v) {
    if (json_is_real(v)) put(b, "%.6g", json_real_value(v));
    else if (json_is_integer(v)) put(b, "%lld", (long long)json_integer_value(v));
    else if (json_is_string(v)) put_escaped(b, json_string_value(v));
    else if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (i) put(b, ", ");
            put_value(b, e);
        }
    } else if (json_is_null(v)) put(b, "&mdash;");
    else if (json_is_boolean(v)) put(b, "%s", json_is_true(v) ? "true" : "false");
    else put(b, "(object)");
}

static const char *const sections[][2] = {
    {"parzen", "Parzen-window log-likelihood of test images (nats per image, pixels in [0, 1]; "
               "higher is better)"},
    {"fd", "Fr&eacute;chet distance in the classifier's features, real vs. samples "
           "(lower is better)"},
    {"fd_real_vs_real", "Fr&eacute;chet distance, real test vs. real training images "
                        "(the floor)"},
    {"nn", "Nearest training images (L2, pixels in [0, 1])"},
    {"nn_inception", "Nearest training images (L2 in Inception pool features)"},
    {"nn_classifier", "Nearest training images (L2 in the classifier's features)"},
    {"fid", "FID: Fr&eacute;chet Inception Distance (pt_inception-2015-12-05 pool features; "
            "lower is better)"},
    {"kid", "KID: Kernel Inception Distance (unbiased MMD&sup2;, cubic kernel; lower is better)"},
    {"prc", "Precision and recall in Inception features (Kynk&auml;&auml;nniemi et al. 2019)"},
};

static lg_status put_metrics(sbuf *b, const char *run, int best) {
    char path[4096];
    snprintf(path, sizeof path, "%s/metrics.json", run);
    put(b, "<h2>Metrics</h2>\n");
    if (!exists(path)) {
        put(b, "<p>None yet: <code>lapgan eval parzen|fd|nn --model RUN_DIR</code> "
               "writes them to metrics.json.</p>\n");
        return LG_OK;
    }
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (!json_is_object(root)) {
        json_decref(root);
        return lg_error(LG_ERR_FORMAT, "%s: not a JSON object (%s)", path,
                        root ? "other JSON" : err.text);
    }
    /* --best: the headline is the best-model weights' (eval --best writes *_best). */
    json_t *p = json_object_get(root, best ? "parzen_best" : "parzen"),
           *f = json_object_get(root, best ? "fd_best" : "fd");
    if (json_is_object(p) || json_is_object(f)) {
        put(b, "<p class=\"key\">%s", best ? "Best-model weights (<code>best/</code>): " : "");
        if (json_is_object(p))
            put(b, "Parzen log-likelihood <b>%.1f &plusmn; %.1f</b> nats (std; standard error "
                   "%.1f) &nbsp; ",
                json_number_value(json_object_get(p, "mean")),
                json_number_value(json_object_get(p, "std")),
                json_number_value(json_object_get(p, "sem")));
        if (json_is_object(f))
            put(b, "FD <b>%.3f</b>", json_number_value(json_object_get(f, "fd")));
        put(b, "</p>\n");
    }
    put(b, "<table>\n<tr><th>metric</th><th>value</th></tr>\n");
    const char *key;
    json_t *sec;
    json_object_foreach(root, key, sec) {
        const char *label = NULL;
        for (int i = 0; i < (int)(sizeof sections / sizeof sections[0]); i++)
            if (!strcmp(key, sections[i][0])) label = sections[i][1];
        put(b, "<tr class=\"sec\"><th colspan=\"2\">");
        if (label) put(b, "%s", label);
        else put_escaped(b, key);
        put(b, "</th></tr>\n");
        if (!json_is_object(sec)) {
            put(b, "<tr><td>");
            put_escaped(b, key);
            put(b, "</td><td>");
            put_value(b, sec);
            put(b, "</td></tr>\n");
            continue;
        }
        const char *k2;
        json_t *v;
        json_object_foreach(sec, k2, v) {
            put(b, "<tr><td>");
            put_escaped(b, k2);
            put(b, "</td><td>");
            put_value(b, v);
            put(b, "</td></tr>\n");
        }
    }
    put(b, "</table>\n");
    json_decref(root);
    return LG_OK;
}

/* ---- the model ---------------------------------------------------------- */

static lg_status put_model(sbuf *b, const char *run, lg_model_desc *m) {
    char path[4096];
    int found = -1;
    for (int k = 0; k < LG_PYR_MAX_LEVELS && found < 0; k++) {
        snprintf(path, sizeof path, "%s/level_%d.safetensors", run, k);
        if (exists(path)) found = k;
    }
    if (found < 0)
        return lg_error(LG_ERR_IO, "%s: no level_<k>.safetensors checkpoints in this directory",
                        run);
    int level;
    int64_t step;
    lg_status st = lg_checkpoint_peek(path, m, &level, &step);
    if (st != LG_OK) return st;
    char *d = lg_model_desc_describe(m);
    if (!d) return lg_error(LG_ERR_NOMEM, "out of memory describing the model");
    put(b, "<h2>Model</h2>\n<pre>");
    put_escaped(b, d);
    put(b, "</pre>\n<table>\n<tr><th>level</th><th>size</th><th>steps</th>"
           "<th>G parameters</th><th>D parameters</th></tr>\n");
    free(d);
    size_t tot[2] = {0};
    for (int k = m->levels - 1; k >= 0; k--) {
        snprintf(path, sizeof path, "%s/level_%d.safetensors", run, k);
        if (!exists(path)) {
            put(b, "<tr><td>%d</td><td>%d</td><td colspan=\"3\">not trained</td></tr>\n", k,
                m->level[k].size);
            continue;
        }
        lg_safetensors *sf;
        lg_model_desc mk;
        st = lg_checkpoint_peek(path, &mk, &level, &step);
        if (st == LG_OK) st = lg_st_read(&sf, path);
        if (st != LG_OK) return st;
        size_t par[2] = {0};
        for (int i = 0; i < lg_st_count(sf); i++) {
            const lg_st_tensor *t = lg_st_at(sf, i);
            if (strstr(t->name, ".optim") || strstr(t->name, "running_")) continue;
            if (!strncmp(t->name, "G.", 2) || !strncmp(t->name, "GL.", 3)) par[0] += t->numel;
            if (!strncmp(t->name, "D.", 2) || !strncmp(t->name, "DL.", 3)) par[1] += t->numel;
        }
        lg_st_free(sf);
        tot[0] += par[0], tot[1] += par[1];
        put(b, "<tr><td>%d</td><td>%dx%d</td><td>%lld</td><td>%zu</td><td>%zu</td></tr>\n", k,
            m->level[k].size, m->level[k].size, (long long)step, par[0], par[1]);
    }
    put(b, "<tr><th colspan=\"3\">all levels</th><th>%zu</th><th>%zu</th></tr>\n</table>\n",
        tot[0], tot[1]);
    return LG_OK;
}

/* ---- the page ----------------------------------------------------------- */

static const char *const style =
    "body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; "
    "padding: 0 1em; color: #222; }\n"
    "h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 1.6em; }\n"
    "figure { display: inline-block; margin: .5em 1em 1em 0; vertical-align: top; }\n"
    "figure img { image-rendering: pixelated; max-width: 100%; border: 1px solid #ddd; }\n"
    "figcaption { font-size: .9em; color: #444; max-width: 40em; }\n"
    ".path { color: #888; } .key { font-size: 1.1em; }\n"
    "pre { background: #f6f6f6; padding: .8em; overflow-x: auto; font-size: .85em; }\n"
    "table { border-collapse: collapse; margin: .5em 0 1.5em; }\n"
    "th, td { border: 1px solid #bbb; padding: .25em .7em; text-align: right; }\n"
    "th:first-child, td:first-child { text-align: left; } tr.sec th { text-align: left; background: #eef; }\n"
    ".charts svg { margin: 0 1em 1em 0; }\n"
    "svg text { font: 11px system-ui, sans-serif; fill: #333; }\n"
    "svg .t { font-size: 13px; font-weight: 600; } svg .yl { text-anchor: end; }\n"
    "svg .xl { text-anchor: middle; } svg .g { stroke: #e4e4e4; }\n";

static lg_status build(sbuf *b, const char *run, int best) {
    lg_model_desc m;
    sbuf model = {0};
    lg_status st = put_model(&model, run, &m);
    if (st == LG_OK && model.oom) st = lg_error(LG_ERR_NOMEM, "out of memory");
    if (st != LG_OK) {
        free(model.s);
        return st;
    }
    char when[64];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M", localtime(&now));
    put(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>"
           "lapgan report: ");
    put_escaped(b, run);
    put(b, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>lapgan report: ", style);
    put_escaped(b, run);
    put(b, "</h1>\n<p>Model <b>");
    put_escaped(b, m.name);
    put(b, "</b>, %d level%s, written %s by lapgan %s.</p>\n", m.levels, m.levels > 1 ? "s" : "",
        when, LG_VERSION);
    st = put_metrics(b, run, best);
    if (st == LG_OK) st = put_images(b, run);
    if (st == LG_OK) st = put_curves(b, run, &m);
    if (st == LG_OK) st = put_level_grids(b, run, m.levels);
    if (st == LG_OK) put(b, "%s", model.s);
    put(b, "</body>\n</html>\n");
    free(model.s);
    return st;
}

int lg_cmd_report(int argc, char **argv) {
    const char *run = NULL, *out = NULL;
    int best = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (lg_cli_is_help(a)) return help(), LG_EXIT_OK;
        if (!strcmp(a, "--best")) {
            best = 1;
            continue;
        }
        if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
            if (i + 1 >= argc) return lg_cli_usage_error(CMD, "%s needs a value", a);
            out = argv[++i];
        } else if (a[0] == '-') {
            return lg_cli_usage_error(CMD, "unknown option '%s'", a);
        } else if (run) {
            return lg_cli_usage_error(CMD, "one RUN_DIR only ('%s' and '%s')", run, a);
        } else {
            run = a;
        }
    }
    if (!run) return lg_cli_usage_error(CMD, "no RUN_DIR given");
    char path[4096];
    if (!out) snprintf(path, sizeof path, "%s/report.html", run), out = path;
    sbuf b = {0};
    char bdir[4096];
    lg_status st = build(&b, run, best); /* first: a missing run is the message that helps */
    if (st == LG_OK && best) st = lg_cli_best_dir(run, bdir, sizeof bdir);
    if (st == LG_OK && b.oom) st = lg_error(LG_ERR_NOMEM, "out of memory for the report");
    if (st == LG_OK) st = lg_output_write_file(out, b.s, b.len);
    free(b.s);
    if (st != LG_OK) return lg_cli_fail(CMD, st);
    printf("wrote %s (%zu bytes)\n", out, b.len);
    return LG_EXIT_OK;
}
