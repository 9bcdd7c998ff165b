/* Model description files (`lapgan train --print-json`, `--model FILE`, and
 * the JSON in every checkpoint's header), read and written from one table.
 *
 * The table below lists every key: where it lives (the top level, "optim",
 * or each entry of "levels"), its type, its allowed values or range, and
 * the format version that introduced it, with the value files of earlier
 * formats get. Reading refuses unknown keys, duplicate keys, keys missing
 * from a file of a format that has them, wrong types and values outside the
 * table's range, each with one line naming the file, the key and what is
 * allowed; lg_model_desc_validate then checks how the values fit together
 * (sizes shrink, kernels odd, crop = finest size).
 *
 * ANY NEW MODEL FIELD MUST BE ADDED TO THIS TABLE (with `since` = the
 * format that first writes it and `def` = what older files mean), and
 * docs/model-format.md must list it. Changing what an existing key means,
 * or adding one, bumps LG_MODEL_FORMAT, so older files keep their meaning:
 *   lapgan-model-1  the first release.
 *   lapgan-model-2  adds optim.momentum_style (format 1 files: "pytorch",
 *                   what they trained with); 0 is a real value for
 *                   optim.beta1, beta2, eps and mom_max (in format 1 a 0
 *                   there stood for 0.9, 0.999, 1e-8 and "no cap").
 *   lapgan-model-4  adds flip (earlier files: 0, no mirroring).
 *   lapgan-model-3  adds d_init_scale (earlier files: 1, D drawn with
 *                   init_std as G is).
 *   lapgan-model-5  adds levels[].arch (earlier files: "plain"). */
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "io/file.h"
#include "lapgan/gan.h"
#include "model_json.h"

#define LG_MODEL_FORMAT 5
#define FORMAT_PREFIX "lapgan-model-"

typedef enum { K_INT, K_BOOL, K_FLOAT, K_ENUM, K_NAME, K_WIDTHS, K_PAIR } key_type;
typedef enum { IN_MODEL, IN_OPTIM, IN_LEVEL, SCOPE_COUNT } key_scope;
enum { LO_OPEN = 1, HI_OPEN = 2 }; /* range ends excluded */

typedef struct {
    const char *key;
    key_scope scope;
    key_type type;
    size_t off, off2; /* field; K_WIDTHS: count field, K_PAIR: second float */
    double lo, hi;    /* numbers (each element of K_WIDTHS and K_PAIR) */
    int open;         /* LO_OPEN | HI_OPEN */
    const char *(*name_of)(int); /* K_ENUM: value names 0 .. nnames-1 */
    int nnames;
    int since;        /* the first format with this key */
    double def;       /* its value in files of earlier formats */
    int zero_since;   /* before this format, a 0 stood for zero_was */
    double zero_was;
} model_key;

static const char *filter_name(int i) { return lg_pyr_filter_name((lg_pyr_filter)i); }
static const char *init_name(int i) {
    return i == LG_INIT_NORMAL ? "normal" : i == LG_INIT_TORCH ? "torch" : "?";
}
static const char *kind_name(int i) { return i == LG_OPT_ADAM ? "adam" : i == LG_OPT_SGD ? "sgd" : "?"; }
static const char *style_name(int i) { return lg_sgd_style_name((lg_sgd_style)i); }
static const char *arch_name(int i) { return lg_level_arch_name((lg_level_arch)i); }

#define M(f) offsetof(lg_model_desc, f)
#define O(f) offsetof(lg_optim_cfg, f)
#define L(f) offsetof(lg_level_desc, f)
#define INT(sc, k, off, lo, hi) {k, sc, K_INT, off, 0, lo, hi, 0, NULL, 0, 1, 0, 0, 0}
#define BOOL(sc, k, off) {k, sc, K_BOOL, off, 0, 0, 1, 0, NULL, 0, 1, 0, 0, 0}
#define NUM(sc, k, off, lo, hi, open) {k, sc, K_FLOAT, off, 0, lo, hi, open, NULL, 0, 1, 0, 0, 0}
#define ENUM(sc, k, off, fn, n) {k, sc, K_ENUM, off, 0, 0, 0, 0, fn, n, 1, 0, 0, 0}

/* Ranges: what lg_model_desc_validate and lg_optim_new accept, with finite
 * bounds so that every accepted number can be written back. */
static const model_key keys[] = {
    {"name", IN_MODEL, K_NAME, M(name), 0, 1, sizeof ((lg_model_desc *)0)->name - 1, 0, NULL, 0,
     1, 0, 0, 0},
    INT(IN_MODEL, "channels", M(c), 1, 3),
    ENUM(IN_MODEL, "filter", M(filter), filter_name, LG_PYR_FILTER_COUNT),
    INT(IN_MODEL, "crop", M(crop), 0, 4096),
    {"flip", IN_MODEL, K_INT, M(flip), 0, 0, 1, 0, NULL, 0, 4, 0, 0, 0},
    INT(IN_MODEL, "classes", M(nclasses), 0, LG_MAX_CLASSES),
    INT(IN_MODEL, "leaky_d", M(leaky_d), 0, 1),
    {"noise", IN_MODEL, K_PAIR, M(noise_lo), M(noise_hi), -1e6, 1e6, 0, NULL, 0, 1, 0, 0, 0},
    INT(IN_MODEL, "batch", M(batch), 2, 65536),
    ENUM(IN_MODEL, "init", M(init), init_name, 2),
    NUM(IN_MODEL, "init_std", M(init_std), 0, 100, 0),
    {"d_init_scale", IN_MODEL, K_FLOAT, M(d_init_scale), 0, 0, 100, LO_OPEN, NULL, 0, 3, 1.0, 0, 0},
    ENUM(IN_OPTIM, "kind", O(kind), kind_name, 2),
    NUM(IN_OPTIM, "lr", O(lr), 0, 10, LO_OPEN | HI_OPEN),
    NUM(IN_OPTIM, "momentum", O(momentum), 0, 1, 0),
    NUM(IN_OPTIM, "weight_decay", O(weight_decay), 0, 100, 0),
    {"beta1", IN_OPTIM, K_FLOAT, O(beta1), 0, 0, 1, HI_OPEN, NULL, 0, 1, 0, 2, LG_ADAM_BETA1},
    {"beta2", IN_OPTIM, K_FLOAT, O(beta2), 0, 0, 1, HI_OPEN, NULL, 0, 1, 0, 2, LG_ADAM_BETA2},
    {"eps", IN_OPTIM, K_FLOAT, O(eps), 0, 0, 1, 0, NULL, 0, 1, 0, 2, LG_ADAM_EPS},
    NUM(IN_OPTIM, "lr_decay", O(lr_decay), 0, 1e6, 0),
    NUM(IN_OPTIM, "lr_min", O(lr_min), 0, 10, 0),
    NUM(IN_OPTIM, "mom_step", O(mom_step), 0, 1, 0),
    {"mom_max", IN_OPTIM, K_FLOAT, O(mom_max), 0, 0, 1, 0, NULL, 0, 1, 0, 2, 1.0},
    {"momentum_style", IN_OPTIM, K_ENUM, O(sgd_style), 0, 0, 0, 0, style_name,
     LG_SGD_STYLE_COUNT, 2, LG_SGD_PYTORCH, 0, 0},
    INT(IN_LEVEL, "size", L(size), 2, 4096),
    BOOL(IN_LEVEL, "fc", L(fc)),
    INT(IN_LEVEL, "zdim", L(zdim), 1, 4096),
    {"g_width", IN_LEVEL, K_WIDTHS, L(g_width), L(g_nw), 1, 65536, 0, NULL, 0, 1, 0, 0, 0},
    {"d_width", IN_LEVEL, K_WIDTHS, L(d_width), L(d_nw), 1, 65536, 0, NULL, 0, 1, 0, 0, 0},
    INT(IN_LEVEL, "g_kernel", L(g_kernel), 0, 99),
    INT(IN_LEVEL, "g_out_kernel", L(g_out_kernel), 0, 99),
    INT(IN_LEVEL, "d_kernel", L(d_kernel), 0, 99),
    INT(IN_LEVEL, "d_last_stride", L(d_last_stride), 0, 2),
    NUM(IN_LEVEL, "g_dropout", L(g_dropout), 0, 1, HI_OPEN),
    NUM(IN_LEVEL, "d_dropout", L(d_dropout), 0, 1, HI_OPEN),
    BOOL(IN_LEVEL, "g_bn", L(g_bn)),
    BOOL(IN_LEVEL, "d_bn", L(d_bn)),
    {"arch", IN_LEVEL, K_ENUM, L(arch), 0, 0, 0, 0, arch_name, LG_ARCH_COUNT, 5, LG_ARCH_PLAIN,
     0, 0},
};
/* Enum fields are stored through an int. */
_Static_assert(sizeof(lg_pyr_filter) == sizeof(int) && sizeof(lg_init_kind) == sizeof(int) &&
                   sizeof(lg_opt_kind) == sizeof(int) && sizeof(lg_sgd_style) == sizeof(int) &&
                   sizeof(lg_level_arch) == sizeof(int),
               "enum fields must be int-sized");

static const char *const scope_name[SCOPE_COUNT] = {"", "optim.", "levels[%d]."};

/* "optim.lr", "levels[2].size", "crop". */
static void key_path(char *b, size_t n, const model_key *k, int level) {
    char pre[32];
    snprintf(pre, sizeof pre, scope_name[k->scope], level);
    snprintf(b, n, "%s%s", pre, k->key);
}

/* "an integer in [0, 4096]", "one of: sgd, adam", ... */
static void allowed_text(char *b, size_t n, const model_key *k) {
    const char *lo = k->open & LO_OPEN ? "(" : "[", *hi = k->open & HI_OPEN ? ")" : "]";
    switch (k->type) {
    case K_INT: snprintf(b, n, "an integer in [%g, %g]", k->lo, k->hi); break;
    case K_BOOL: snprintf(b, n, "true or false"); break;
    case K_FLOAT: snprintf(b, n, "a number in %s%g, %g%s", lo, k->lo, k->hi, hi); break;
    case K_NAME: snprintf(b, n, "a string of 1 to %g characters", k->hi); break;
    case K_WIDTHS:
        snprintf(b, n, "an array of 1 to %d integers in [%g, %g]", LG_MAX_WIDTHS, k->lo, k->hi);
        break;
    case K_PAIR: snprintf(b, n, "[lo, hi], two numbers in [%g, %g]", k->lo, k->hi); break;
    case K_ENUM: {
        size_t len = (size_t)snprintf(b, n, "one of:");
        for (int i = 0; i < k->nnames && len < n; i++)
            len += (size_t)snprintf(b + len, n - len, "%s %s", i ? "," : "", k->name_of(i));
        break;
    }
    }
}

static int in_range(const model_key *k, double v) {
    return isfinite(v) && (k->open & LO_OPEN ? v > k->lo : v >= k->lo) &&
           (k->open & HI_OPEN ? v < k->hi : v <= k->hi);
}

static lg_status bad_value(const model_key *k, int level, const char *src, const json_t *v) {
    char path[64], allowed[160];
    key_path(path, sizeof path, k, level);
    allowed_text(allowed, sizeof allowed, k);
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    lg_status st = lg_error(LG_ERR_FORMAT, "%s: model key '%s' is %.40s%s; allowed: %s", src, path,
                            text ? text : "?", text && strlen(text) > 40 ? "..." : "", allowed);
    free(text);
    return st;
}

/* One value into its field (base: the model, its optim or one level). */
static lg_status read_value(const model_key *k, int level, int version, const json_t *v,
                            char *base, const char *src) {
    double x = 0;
    switch (k->type) {
    case K_INT:
        if (!json_is_integer(v) || !in_range(k, (double)json_integer_value(v)))
            return bad_value(k, level, src, v);
        *(int *)(base + k->off) = (int)json_integer_value(v);
        return LG_OK;
    case K_BOOL:
        if (!json_is_boolean(v)) return bad_value(k, level, src, v);
        *(int *)(base + k->off) = json_is_true(v);
        return LG_OK;
    case K_FLOAT:
        if (!json_is_number(v) || !in_range(k, x = json_number_value(v)))
            return bad_value(k, level, src, v);
        if (x == 0 && version < k->zero_since) x = k->zero_was;
        *(float *)(base + k->off) = (float)x;
        return LG_OK;
    case K_NAME: {
        const char *s = json_string_value(v);
        if (!s || strlen(s) < (size_t)k->lo || strlen(s) > (size_t)k->hi)
            return bad_value(k, level, src, v);
        memcpy(base + k->off, s, strlen(s) + 1);
        return LG_OK;
    }
    case K_ENUM: {
        const char *s = json_string_value(v);
        for (int i = 0; s && i < k->nnames; i++)
            if (!strcmp(s, k->name_of(i))) {
                *(int *)(base + k->off) = i;
                return LG_OK;
            }
        return bad_value(k, level, src, v);
    }
    case K_PAIR: {
        double a, b;
        if (json_unpack((json_t *)v, "[FF]", &a, &b) || !in_range(k, a) || !in_range(k, b))
            return bad_value(k, level, src, v);
        *(float *)(base + k->off) = (float)a;
        *(float *)(base + k->off2) = (float)b;
        return LG_OK;
    }
    case K_WIDTHS: {
        const size_t n = json_array_size(v);
        if (!json_is_array(v) || n < 1 || n > LG_MAX_WIDTHS) return bad_value(k, level, src, v);
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(v, i);
            if (!json_is_integer(e) || !in_range(k, (double)json_integer_value(e)))
                return bad_value(k, level, src, v);
            ((int *)(base + k->off))[i] = (int)json_integer_value(e);
        }
        *(int *)(base + k->off2) = (int)n;
        return LG_OK;
    }
    }
    return lg_error(LG_ERR_FORMAT, "%s: model key '%s': unknown type", src, k->key);
}

/* A file of a format before the key: the value that format meant. */
static void set_default(const model_key *k, char *base) {
    if (k->type == K_FLOAT) *(float *)(base + k->off) = (float)k->def;
    else *(int *)(base + k->off) = (int)k->def;
}

/* "format, ..., name, channels, ..." for an unknown key's message. */
static void known_keys(char *b, size_t n, key_scope scope, int version, const char *const *extra) {
    size_t len = 0;
    b[0] = 0;
    for (int i = 0; extra[i] && len < n; i++)
        len += (size_t)snprintf(b + len, n - len, "%s%s", len ? ", " : "", extra[i]);
    for (int i = 0; i < LG_ARRAY_LEN(keys) && len < n; i++)
        if (keys[i].scope == scope && keys[i].since <= version)
            len += (size_t)snprintf(b + len, n - len, "%s%s", len ? ", " : "", keys[i].key);
}

static const char *const no_extra[] = {NULL};
static const char *const top_extra[] = {"format", "optim", "levels", NULL};

/* Reads every key of one scope from object o, refusing unknown ones
 * (`extra` lists the keys the caller handles itself). */
static lg_status read_scope(const json_t *o, key_scope scope, int level, int version, char *base,
                            const char *const *extra, const char *src) {
    char path[64];
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)o, name, v) {
        int known = 0;
        for (int i = 0; !known && extra[i]; i++) known = !strcmp(extra[i], name);
        for (int i = 0; !known && i < LG_ARRAY_LEN(keys); i++)
            known = keys[i].scope == scope && keys[i].since <= version && !strcmp(keys[i].key, name);
        if (!known) {
            char list[600];
            known_keys(list, sizeof list, scope, version, extra);
            char pre[32];
            snprintf(pre, sizeof pre, scope_name[scope], level);
            return lg_error(LG_ERR_FORMAT, "%s: unknown model key '%s%.40s' in format %s%d "
                            "(known: %s)", src, pre, name, FORMAT_PREFIX, version, list);
        }
    }
    for (int i = 0; i < LG_ARRAY_LEN(keys); i++) {
        const model_key *k = &keys[i];
        if (k->scope != scope) continue;
        if (k->since > version) {
            set_default(k, base);
            continue;
        }
        const json_t *val = json_object_get(o, k->key);
        if (!val) {
            char allowed[160];
            key_path(path, sizeof path, k, level);
            allowed_text(allowed, sizeof allowed, k);
            return lg_error(LG_ERR_FORMAT, "%s: model key '%s' is missing (format %s%d has it; "
                            "allowed: %s)", src, path, FORMAT_PREFIX, version, allowed);
        }
        LG_TRY(read_value(k, level, version, val, base, src));
    }
    return LG_OK;
}

static lg_status object_at(const json_t *o, const char *key, const char *src, json_t **out) {
    *out = json_object_get(o, key);
    LG_CHECK(json_is_object(*out), LG_ERR_FORMAT, "%s: model key '%s' %s; allowed: an object",
             src, key, *out ? "is not an object" : "is missing");
    return LG_OK;
}

/* "lapgan-model-N" -> N, for every N this build reads. */
static lg_status read_format(const json_t *o, const char *src, int *version) {
    const char *fmt = json_string_value(json_object_get(o, "format"));
    const size_t np = strlen(FORMAT_PREFIX);
    char *end = NULL;
    long v = fmt && !strncmp(fmt, FORMAT_PREFIX, np) ? strtol(fmt + np, &end, 10) : 0;
    LG_CHECK(end && !*end && end != fmt + np && v >= 1 && v <= LG_MODEL_FORMAT, LG_ERR_FORMAT,
             "%s: model format '%.40s' is not one this build reads (%s1 to %s%d)", src,
             fmt ? fmt : "(missing)", FORMAT_PREFIX, FORMAT_PREFIX, LG_MODEL_FORMAT);
    *version = (int)v;
    return LG_OK;
}

static lg_status from_object(lg_model_desc *m, const json_t *o, const char *src) {
    LG_CHECK(json_is_object(o), LG_ERR_FORMAT, "%s: a model description is a JSON object", src);
    int version = 0;
    LG_TRY(read_format(o, src, &version));
    LG_TRY(read_scope(o, IN_MODEL, 0, version, (char *)m, top_extra, src));
    json_t *optim;
    LG_TRY(object_at(o, "optim", src, &optim));
    LG_TRY(read_scope(optim, IN_OPTIM, 0, version, (char *)&m->opt, no_extra, src));
    const json_t *levels = json_object_get(o, "levels");
    const size_t n = json_array_size(levels);
    LG_CHECK(json_is_array(levels) && n >= 1 && n <= LG_PYR_MAX_LEVELS, LG_ERR_FORMAT,
             "%s: model key 'levels' must be an array of 1 to %d level objects", src,
             LG_PYR_MAX_LEVELS);
    m->levels = (int)n;
    for (int k = 0; k < m->levels; k++) {
        const json_t *l = json_array_get(levels, (size_t)k);
        LG_CHECK(json_is_object(l), LG_ERR_FORMAT, "%s: model key 'levels[%d]' is not an object",
                 src, k);
        LG_TRY(read_scope(l, IN_LEVEL, k, version, (char *)&m->level[k], no_extra, src));
    }
    return LG_OK;
}

lg_status lg_model_desc_from_json(lg_model_desc *m, const char *text, const char *src) {
    LG_CHECK(m && text, LG_ERR_ARG, "lg_model_desc_from_json: NULL argument");
    if (!src) src = "model description";
    json_error_t err;
    json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    LG_CHECK(o, LG_ERR_FORMAT, "%s: model description is not JSON (line %d col %d: %s)", src,
             err.line, err.column, err.text);
    memset(m, 0, sizeof *m);
    lg_status st = from_object(m, o, src);
    json_decref(o);
    if (st == LG_OK && (st = lg_model_desc_validate(m)) != LG_OK)
        st = lg_error(LG_ERR_FORMAT, "%s: %s", src, lg_errmsg());
    return st;
}

/* ---- writing ------------------------------------------------------------- */

static json_t *value_json(const model_key *k, const char *base) {
    const int i = *(const int *)(base + k->off);
    const float f = *(const float *)(base + k->off);
    switch (k->type) {
    case K_INT: return json_integer(i);
    case K_BOOL: return json_boolean(i);
    case K_FLOAT: return json_real(f);
    case K_NAME: return json_string(base + k->off);
    case K_ENUM: return json_string(k->name_of(i));
    case K_PAIR: return json_pack("[f,f]", f, *(const float *)(base + k->off2));
    case K_WIDTHS: {
        json_t *a = json_array();
        const int *w = (const int *)(base + k->off), n = *(const int *)(base + k->off2);
        for (int j = 0; j < n; j++) json_array_append_new(a, json_integer(w[j]));
        return a;
    }
    }
    return json_null();
}

static json_t *scope_json(json_t *o, key_scope scope, const char *base) {
    for (int i = 0; i < LG_ARRAY_LEN(keys); i++)
        if (keys[i].scope == scope) json_object_set_new(o, keys[i].key, value_json(&keys[i], base));
    return o;
}

lg_status lg_model_desc_to_json(const lg_model_desc *m, char **json) {
    LG_CHECK(m && json, LG_ERR_ARG, "lg_model_desc_to_json: NULL argument");
    char fmt[32];
    snprintf(fmt, sizeof fmt, FORMAT_PREFIX "%d", LG_MODEL_FORMAT);
    json_t *o = json_object();
    json_object_set_new(o, "format", json_string(fmt));
    scope_json(o, IN_MODEL, (const char *)m);
    json_object_set_new(o, "optim", scope_json(json_object(), IN_OPTIM, (const char *)&m->opt));
    json_t *lv = json_array();
    for (int k = 0; k < m->levels && k < LG_PYR_MAX_LEVELS; k++)
        json_array_append_new(lv, scope_json(json_object(), IN_LEVEL, (const char *)&m->level[k]));
    json_object_set_new(o, "levels", lv);
    *json = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    LG_CHECK(*json, LG_ERR_NOMEM, "out of memory encoding the model description");
    return LG_OK;
}

lg_status lg_model_desc_load(lg_model_desc *m, const char *path) {
    LG_CHECK(m && path, LG_ERR_ARG, "lg_model_desc_load: NULL argument");
    unsigned char *buf;
    size_t n;
    LG_TRY(lg_read_file(path, 1u << 20, &buf, &n));
    char *text = malloc(n + 1);
    if (!text) {
        lg_free(buf);
        return lg_error(LG_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(text, buf, n);
    text[n] = 0;
    lg_free(buf);
    lg_status st = strlen(text) == n ? lg_model_desc_from_json(m, text, path)
                                     : lg_error(LG_ERR_FORMAT, "%s: NUL byte in JSON", path);
    free(text);
    return st; /* from_json validated it */
}

/* ---- checking a description against the table ------------------------------ */

/* Each field through the reader's own checks: what validates can be written
 * and read back (a checkpoint is never unloadable). */
static lg_status check_scope(key_scope scope, int level, const char *base, const char *what) {
    lg_model_desc scratch; /* larger than the optim and level structs, and aligned */
    for (int i = 0; i < LG_ARRAY_LEN(keys); i++) {
        const model_key *k = &keys[i];
        if (k->scope != scope) continue;
        json_t *v = value_json(k, base);
        lg_status st = read_value(k, level, LG_MODEL_FORMAT, v, (char *)&scratch, what);
        json_decref(v);
        LG_TRY(st);
    }
    return LG_OK;
}

lg_status lg_model_desc_check_keys(const lg_model_desc *m) {
    char what[64];
    snprintf(what, sizeof what, "model '%s'", m->name);
    lg_status st = check_scope(IN_MODEL, 0, (const char *)m, what);
    if (st == LG_OK) st = check_scope(IN_OPTIM, 0, (const char *)&m->opt, what);
    for (int k = 0; st == LG_OK && k < m->levels && k < LG_PYR_MAX_LEVELS; k++)
        st = check_scope(IN_LEVEL, k, (const char *)&m->level[k], what);
    /* a bad setting, as the rest of lg_model_desc_validate reports it */
    return st == LG_OK ? LG_OK : lg_error(LG_ERR_ARG, "%s", lg_errmsg());
}
