/* What the judgements say: per source (and per class, per exposure) the
 * fraction judged real with a Wilson 95% interval, a two-proportion z test
 * against the real images and the median response time. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"
#include "io/file.h"
#include "lapgan/io.h"
#include "study/study.h"

#define Z95 1.959963984540054
#define ALL (-2)
#define BEGIN_MARK "<!-- lapgan-study:begin -->"
#define END_MARK "<!-- lapgan-study:end -->"

void lg_study_wilson(int64_t k, int64_t n, double z, double *lo, double *hi) {
    if (n <= 0) {
        *lo = 0, *hi = 1;
        return;
    }
    const double p = (double)k / n, z2 = z * z, den = 1 + z2 / n;
    const double mid = (p + z2 / (2.0 * n)) / den;
    const double half = z / den * sqrt(p * (1 - p) / n + z2 / (4.0 * n * n));
    *lo = mid - half < 0 ? 0 : mid - half;
    *hi = mid + half > 1 ? 1 : mid + half;
}

double lg_study_two_prop_p(int64_t k1, int64_t n1, int64_t k2, int64_t n2) {
    if (n1 <= 0 || n2 <= 0) return NAN;
    const double p = (double)(k1 + k2) / (double)(n1 + n2);
    const double se = sqrt(p * (1 - p) * (1.0 / n1 + 1.0 / n2));
    if (se == 0) return (double)k1 / n1 == (double)k2 / n2 ? 1.0 : 0.0;
    const double z = ((double)k1 / n1 - (double)k2 / n2) / se;
    return erfc(fabs(z) / sqrt(2.0));
}

typedef struct {
    int src, cls, exp, real;
    double rt;
} jrow;

typedef struct {
    char names[LG_STUDY_MAX_SOURCES * 4][LG_STUDY_NAME_MAX];
    int n;
} names;

static int name_index(names *nm, const char *s) {
    for (int i = 0; i < nm->n; i++)
        if (!strcmp(nm->names[i], s)) return i;
    if (nm->n == LG_ARRAY_LEN(nm->names)) return -1;
    snprintf(nm->names[nm->n], sizeof nm->names[0], "%s", s);
    return nm->n++;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Sources and class names in the order of the study's first configuration. */
static void read_config(sqlite3 *h, names *nm, lg_study_report *r) {
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(h, "SELECT study FROM config ORDER BY id LIMIT 1", -1, &q, NULL))
        return;
    json_t *j = sqlite3_step(q) == SQLITE_ROW
                    ? json_loads((const char *)sqlite3_column_text(q, 0), 0, NULL)
                    : NULL;
    sqlite3_finalize(q);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(j, "sources"), i, v) {
        const char *s = json_string_value(json_object_get(v, "name"));
        if (s) name_index(nm, s);
    }
    json_array_foreach(json_object_get(j, "classes"), i, v) {
        if (i >= 64 || !json_is_string(v)) break;
        snprintf(r->class_names[i], sizeof r->class_names[i], "%s", json_string_value(v));
        r->nclass_names = (int)i + 1;
    }
    json_decref(j);
}

static lg_status read_rows(sqlite3 *h, const char *path, names *nm, jrow **out, int64_t *n) {
    sqlite3_stmt *q;
    LG_CHECK(!sqlite3_prepare_v2(h,
                                 "SELECT source, COALESCE(class, -1), exposure_ms,"
                                 " answer = 'real', rt_ms FROM judgements ORDER BY id",
                                 -1, &q, NULL),
             LG_ERR_FORMAT, "%s: %s", path, sqlite3_errmsg(h));
    size_t cap = 1024;
    jrow *rows = malloc(cap * sizeof *rows);
    *n = 0;
    lg_status st = rows ? LG_OK : lg_error(LG_ERR_NOMEM, "out of memory");
    int rc;
    while (st == LG_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        if ((size_t)*n == cap) {
            jrow *b = realloc(rows, 2 * cap * sizeof *rows);
            if (!b) {
                st = lg_error(LG_ERR_NOMEM, "out of memory");
                break;
            }
            rows = b, cap *= 2;
        }
        jrow *r = &rows[(*n)++];
        r->src = name_index(nm, (const char *)sqlite3_column_text(q, 0));
        r->cls = sqlite3_column_int(q, 1);
        r->exp = sqlite3_column_int(q, 2);
        r->real = sqlite3_column_int(q, 3);
        r->rt = sqlite3_column_double(q, 4);
        if (r->src < 0) st = lg_error(LG_ERR_FORMAT, "%s: too many sources", path);
    }
    if (st == LG_OK && rc != SQLITE_DONE)
        st = lg_error(LG_ERR_IO, "%s: %s", path, sqlite3_errmsg(h));
    sqlite3_finalize(q);
    if (st != LG_OK) free(rows), rows = NULL;
    *out = rows;
    return st;
}

/* Counts one group (ALL matches anything); rts is scratch of n doubles. */
static void group(const jrow *rows, int64_t n, int src, int cls, int exp, double *rts,
                  int64_t *cnt, int64_t *real, double *median) {
    int64_t m = 0, k = 0;
    for (int64_t i = 0; i < n; i++) {
        const jrow *r = &rows[i];
        if (r->src != src || (cls != ALL && r->cls != cls) || (exp != ALL && r->exp != exp))
            continue;
        rts[m++] = r->rt;
        k += r->real;
    }
    qsort(rts, (size_t)m, sizeof *rts, cmp_double);
    *cnt = m, *real = k;
    *median = !m ? NAN : m % 2 ? rts[m / 2] : 0.5 * (rts[m / 2 - 1] + rts[m / 2]);
}

/* Sorted distinct values of one int field (cls or exp) into vals. */
static int distinct(const jrow *rows, int64_t n, int field, int *vals, int max) {
    int nv = 0;
    for (int64_t i = 0; i < n; i++) {
        int v = field ? rows[i].exp : rows[i].cls, seen = 0;
        for (int j = 0; j < nv && !seen; j++) seen = vals[j] == v;
        if (!seen && nv < max) vals[nv++] = v;
    }
    qsort(vals, (size_t)nv, sizeof *vals, cmp_int);
    return nv;
}

static void add_row(lg_study_report *r, const names *nm, const jrow *rows, int64_t n,
                    double *rts, int src, int cls, int exp, int real_src) {
    lg_study_row *o = &r->rows[r->nrows];
    group(rows, n, src, cls, exp, rts, &o->n, &o->judged_real, &o->rt_median_ms);
    if (!o->n) return;
    snprintf(o->source, sizeof o->source, "%s", nm->names[src]);
    o->cls = cls, o->exposure_ms = exp;
    o->frac = (double)o->judged_real / o->n;
    lg_study_wilson(o->judged_real, o->n, Z95, &o->lo, &o->hi);
    o->p_vs_real = NAN;
    if (real_src >= 0 && src != real_src) {
        int64_t rn, rk;
        double med;
        group(rows, n, real_src, cls, exp, rts, &rn, &rk, &med);
        o->p_vs_real = lg_study_two_prop_p(o->judged_real, o->n, rk, rn);
    }
    r->nrows++;
}

static lg_status build(sqlite3 *h, const char *path, lg_study_report *r) {
    names nm = {.n = 0};
    read_config(h, &nm, r);
    jrow *rows = NULL;
    int64_t n = 0;
    LG_TRY(read_rows(h, path, &nm, &rows, &n));
    int cls[1024], exp[256];
    const int ncls = distinct(rows, n, 0, cls, LG_ARRAY_LEN(cls));
    const int nexp = distinct(rows, n, 1, exp, LG_ARRAY_LEN(exp));
    const int per_src = 1 + ncls + (nexp > 1 ? nexp : 0);
    double *rts = malloc(sizeof(double) * (size_t)(n ? n : 1));
    r->rows = calloc((size_t)nm.n * per_src + 1, sizeof *r->rows);
    if (!rts || !r->rows) {
        free(rts), free(rows);
        return lg_error(LG_ERR_NOMEM, "out of memory");
    }
    int real_src = -1;
    for (int s = 0; s < nm.n; s++)
        if (!strcmp(nm.names[s], "real")) real_src = s;
    for (int s = 0; s < nm.n; s++) add_row(r, &nm, rows, n, rts, s, ALL, ALL, real_src);
    for (int s = 0; s < nm.n; s++)
        for (int c = 0; c < ncls; c++)
            if (cls[c] >= 0) add_row(r, &nm, rows, n, rts, s, cls[c], ALL, real_src);
    for (int s = 0; s < nm.n && nexp > 1; s++)
        for (int e = 0; e < nexp; e++) add_row(r, &nm, rows, n, rts, s, ALL, exp[e], real_src);
    r->njudgements = n;
    free(rts);
    free(rows);
    sqlite3_stmt *q;
    if (!sqlite3_prepare_v2(h, "SELECT COUNT(DISTINCT session_id) FROM judgements", -1, &q,
                            NULL)) {
        if (sqlite3_step(q) == SQLITE_ROW) r->nsessions = sqlite3_column_int(q, 0);
        sqlite3_finalize(q);
    }
    return LG_OK;
}

lg_status lg_study_report_build(const char *db_path, lg_study_report *out) {
    LG_CHECK(db_path && out, LG_ERR_ARG, "lg_study_report_build: NULL argument");
    memset(out, 0, sizeof *out);
    /* SQLite's open() of a FIFO would block before any check. */
    int fd;
    LG_TRY(lg_open_regular(db_path, &fd, NULL));
    close(fd);
    /* Opening checks the file and its schema; the report then only reads. */
    lg_study_db *db;
    LG_TRY(lg_study_db_open(&db, db_path, 0, 0));
    lg_study_db_close(db);
    sqlite3 *h;
    if (sqlite3_open_v2(db_path, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        lg_status st = lg_error(LG_ERR_IO, "%s: %s", db_path, sqlite3_errmsg(h));
        sqlite3_close(h);
        return st;
    }
    sqlite3_busy_timeout(h, 10000);
    lg_status st = build(h, db_path, out);
    sqlite3_close(h);
    if (st != LG_OK) lg_study_report_free(out);
    return st;
}

void lg_study_report_free(lg_study_report *r) {
    if (!r) return;
    free(r->rows);
    r->rows = NULL;
    r->nrows = 0;
}

/* ---- HTML -------------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
    int oom;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (!b->oom && n >= 0 && b->len + (size_t)n + 1 > b->cap) {
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *p = realloc(b->buf, cap);
        if (p) b->buf = p, b->cap = cap;
        else b->oom = 1;
    }
    if (!b->oom && n >= 0) b->len += (size_t)vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap2);
    va_end(ap2);
}

/* Source and class names come from the command line and the data set:
 * escaped before they go into the page. */
static void put_text(sbuf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<': put(b, "&lt;"); break;
        case '>': put(b, "&gt;"); break;
        case '&': put(b, "&amp;"); break;
        case '"': put(b, "&quot;"); break;
        default: put(b, "%c", *s);
        }
    }
}

static void html_table(sbuf *b, const lg_study_report *r, const char *title, int kind) {
    put(b, "<h3>%s</h3>\n<table>\n<tr><th>source</th>%s<th>n</th><th>judged real</th>"
           "<th>95%% CI (Wilson)</th><th>p vs real</th><th>median RT (ms)</th></tr>\n",
        title, kind == 1 ? "<th>class</th>" : kind == 2 ? "<th>exposure</th>" : "");
    for (int i = 0; i < r->nrows; i++) {
        const lg_study_row *o = &r->rows[i];
        const int k = o->cls != ALL ? 1 : o->exposure_ms != ALL ? 2 : 0;
        if (k != kind) continue;
        put(b, "<tr><td>");
        put_text(b, o->source);
        put(b, "</td>");
        if (kind == 1) {
            put(b, "<td>");
            put_text(b, o->cls < r->nclass_names ? r->class_names[o->cls] : "?");
            put(b, "</td>");
        }
        if (kind == 2) {
            if (o->exposure_ms) put(b, "<td>%d ms</td>", o->exposure_ms);
            else put(b, "<td>unlimited</td>");
        }
        put(b, "<td>%lld</td><td>%.3f</td><td>[%.3f, %.3f]</td>", (long long)o->n, o->frac,
            o->lo, o->hi);
        if (isnan(o->p_vs_real)) put(b, "<td>&ndash;</td>");
        else put(b, "<td>%.3g</td>", o->p_vs_real);
        put(b, "<td>%.0f</td></tr>\n", o->rt_median_ms);
    }
    put(b, "</table>\n");
}

lg_status lg_study_report_html(const lg_study_report *r, char **out) {
    LG_CHECK(r && out, LG_ERR_ARG, "lg_study_report_html: NULL argument");
    sbuf b = {0};
    put(&b, BEGIN_MARK "\n<section id=\"lapgan-study\">\n<h2>Human study: real or generated?</h2>\n"
            "<p>%d participant sessions, %lld judgements. Fraction of images judged real, "
            "with Wilson score 95%% intervals; p: two-sided two-proportion z test against "
            "the real images (judgements treated as independent).</p>\n",
        r->nsessions, (long long)r->njudgements);
    html_table(&b, r, "Per source", 0);
    int any_cls = 0, any_exp = 0;
    for (int i = 0; i < r->nrows; i++)
        any_cls |= r->rows[i].cls != ALL, any_exp |= r->rows[i].exposure_ms != ALL;
    if (any_exp) html_table(&b, r, "Per exposure", 2);
    if (any_cls) html_table(&b, r, "Per class", 1);
    put(&b, "</section>\n" END_MARK "\n");
    LG_CHECK(!b.oom && b.buf, LG_ERR_NOMEM, "out of memory for the HTML report");
    *out = b.buf;
    return LG_OK;
}

static const char *const page_head =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<title>lapgan human study</title>\n<style>\n"
    "body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 60em; }\n"
    "table { border-collapse: collapse; margin: .5em 0 1.5em; }\n"
    "th, td { border: 1px solid #bbb; padding: .25em .7em; text-align: right; }\n"
    "th:first-child, td:first-child { text-align: left; }\n"
    "</style>\n</head>\n<body>\n<h1>lapgan human study</h1>\n";

lg_status lg_study_report_html_write(const lg_study_report *r, const char *path) {
    LG_CHECK(r && path, LG_ERR_ARG, "lg_study_report_html_write: NULL argument");
    char *sec;
    LG_TRY(lg_study_report_html(r, &sec));
    unsigned char *old = NULL;
    size_t old_len = 0;
    /* An existing page gets the section; a FIFO or link there is refused
     * by lg_output_check, never opened. */
    lg_status st = lg_output_check(path);
    struct stat sb;
    if (st == LG_OK && lstat(path, &sb) == 0) st = lg_read_file(path, 64u << 20, &old, &old_len);
    sbuf b = {0};
    if (st == LG_OK && old) {
        /* Replace an earlier study section, else insert before </body>. */
        char *text = strndup((const char *)old, old_len);
        char *beg = text ? strstr(text, BEGIN_MARK) : NULL;
        char *end = beg ? strstr(beg, END_MARK) : NULL;
        char *body = text ? strstr(text, "</body>") : NULL;
        if (!text) st = lg_error(LG_ERR_NOMEM, "out of memory");
        else if (beg && end) {
            end += strlen(END_MARK);
            if (*end == '\n') end++;
            put(&b, "%.*s%s%s", (int)(beg - text), text, sec, end);
        } else if (body) put(&b, "%.*s%s%s", (int)(body - text), text, sec, body);
        else put(&b, "%s%s", text, sec);
        free(text);
    } else if (st == LG_OK) {
        put(&b, "%s%s</body>\n</html>\n", page_head, sec);
    }
    if (st == LG_OK && (b.oom || !b.buf)) st = lg_error(LG_ERR_NOMEM, "out of memory");
    if (st == LG_OK) st = lg_output_write_file(path, b.buf, b.len);
    free(b.buf);
    lg_free(old);
    free(sec);
    return st;
}
