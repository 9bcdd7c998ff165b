/* Level checkpoints: one safetensors file per level holding everything a
 * bit-identical resume needs. Tensors: "<part>.<layer>.<kind>.<what>" for
 * weights and batch-norm buffers (part = G, D, GL, DL), "<part>.optim" for
 * the flat optimiser state. Metadata (strings): format, model (JSON), level,
 * step, seed, RNG states, optimiser step counts, data iterator state. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "lapgan/io.h"
#include "level_internal.h"
#include "rundir.h"

#define LG_CKPT_FORMAT "lapgan-level-1"

static lg_status add_part(lg_st_writer *w, const lg_part *p) {
    char name[96];
    size_t np, nb, ns;
    float *params = lg_net_params(p->net, &np), *bufs = lg_net_buffers(p->net, &nb);
    for (int i = 0; i < lg_net_tensor_count(p->net); i++) {
        lg_net_tensor_info ti;
        LG_TRY(lg_net_tensor_info_at(p->net, i, &ti));
        int64_t shape[4];
        for (int d = 0; d < ti.ndim; d++) shape[d] = ti.shape[d];
        snprintf(name, sizeof name, "%s.%s", p->name, ti.name);
        LG_TRY(lg_st_writer_add(w, name, (ti.kind ? bufs : params) + ti.offset, ti.ndim, shape));
    }
    float *state = lg_optim_state(p->opt, &ns);
    if (ns) {
        int64_t shape[1] = {(int64_t)ns};
        snprintf(name, sizeof name, "%s.optim", p->name);
        LG_TRY(lg_st_writer_add(w, name, state, 1, shape));
    }
    return LG_OK;
}

static lg_status meta_u64(lg_st_writer *w, const char *key, uint64_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return lg_st_writer_meta(w, key, buf);
}

static lg_status meta_rng(lg_st_writer *w, const char *key, const lg_rng *r) {
    char buf[80];
    snprintf(buf, sizeof buf, "%" PRIu64 " %" PRIu64 " %" PRIu64, r->seed, r->stream, r->offset);
    return lg_st_writer_meta(w, key, buf);
}

/* The validation split and best-model state (absent from older files). */
static lg_status meta_extra_val(lg_st_writer *w, const lg_level_extra *ex) {
    if (ex->val_images >= 0) LG_TRY(meta_u64(w, "val_images", (uint64_t)ex->val_images));
    if (!ex->has_best) return LG_OK;
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", ex->best_value);
    LG_TRY(lg_st_writer_meta(w, "best_value", buf));
    return meta_u64(w, "best_step", (uint64_t)ex->best_step);
}

static lg_status write_all(const lg_level *lv, const lg_level_extra *ex, lg_st_writer *w,
                           const char *path) {
    char *json = NULL, key[64];
    LG_TRY(lg_model_desc_to_json(&lv->m, &json));
    lg_status st = lg_st_writer_meta(w, "model", json);
    free(json);
    LG_TRY(st);
    LG_TRY(lg_st_writer_meta(w, "format", LG_CKPT_FORMAT));
    LG_TRY(lg_st_writer_meta(w, "lapgan_version", LG_VERSION));
    LG_TRY(meta_u64(w, "level", (uint64_t)lv->k));
    LG_TRY(meta_u64(w, "step", (uint64_t)lv->step));
    LG_TRY(meta_rng(w, "rng.noise", &lv->noise));
    if (ex) {
        LG_TRY(meta_u64(w, "seed", ex->seed));
        LG_TRY(meta_u64(w, "data_epoch", ex->data_epoch));
        LG_TRY(meta_u64(w, "data_cursor", ex->data_cursor));
        LG_TRY(lg_st_writer_meta(w, "data_source", ex->data_source));
        LG_TRY(meta_extra_val(w, ex));
    }
    for (int i = 0; i < LG_PART_COUNT; i++) {
        const lg_part *p = &lv->part[i];
        if (!p->net) continue;
        LG_TRY(add_part(w, p));
        snprintf(key, sizeof key, "rng.%s", p->name);
        LG_TRY(meta_rng(w, key, lg_net_rng(p->net)));
        snprintf(key, sizeof key, "optim.%s.t", p->name);
        LG_TRY(meta_u64(w, key, (uint64_t)*lg_optim_t(p->opt)));
    }
    return lg_st_writer_write(w, path);
}

/* A checkpoint holding NaN or Inf could never be trained on or sampled
 * from, and writing it would replace the last good one: refuse. */
static lg_status check_finite(const lg_level *lv, const char *part, const char *what,
                              const float *x, size_t n, const char *path) {
    size_t bad = 0;
    while (bad < n && isfinite(x[bad])) bad++;
    LG_CHECK(bad == n, LG_ERR_NUMERIC,
             "level %d step %lld: %s %s hold %s (value %zu of %zu); %s not written", lv->k,
             (long long)lv->step, part, what, isnan(x[bad]) ? "NaN" : "Inf", bad, n, path);
    return LG_OK;
}

lg_status lg_level_check_finite(const lg_level *lv, const char *path) {
    for (int i = 0; i < LG_PART_COUNT; i++) {
        const lg_part *p = &lv->part[i];
        if (!p->net) continue;
        size_t n;
        const float *x = lg_net_params(p->net, &n);
        LG_TRY(check_finite(lv, p->name, "weights", x, n, path));
        x = lg_net_buffers(p->net, &n);
        LG_TRY(check_finite(lv, p->name, "buffers", x, n, path));
        x = lg_optim_state(p->opt, &n);
        LG_TRY(check_finite(lv, p->name, "optimiser state", x, n, path));
    }
    return LG_OK;
}

lg_status lg_level_save(const lg_level *lv, const lg_level_extra *extra, const char *path) {
    LG_CHECK(lv && path, LG_ERR_ARG, "lg_level_save: NULL argument");
    LG_TRY(lg_level_check_finite(lv, path));
    lg_st_writer *w;
    LG_TRY(lg_st_writer_new(&w));
    lg_status st = write_all(lv, extra, w, path);
    lg_st_writer_free(w);
    return st;
}

/* ---- reading -------------------------------------------------------------- */

static lg_status meta_get_u64(const lg_safetensors *st, const char *path, const char *key,
                              uint64_t *v) {
    const char *s = lg_st_meta(st, key);
    LG_CHECK(s, LG_ERR_FORMAT, "%s: checkpoint has no '%s'", path, key);
    char *end;
    unsigned long long x = strtoull(s, &end, 10);
    LG_CHECK(*s && !*end, LG_ERR_FORMAT, "%s: '%s' is not an integer ('%s')", path, key, s);
    *v = x;
    return LG_OK;
}

static lg_status meta_get_rng(const lg_safetensors *st, const char *path, const char *key,
                              lg_rng *r) {
    const char *s = lg_st_meta(st, key);
    LG_CHECK(s, LG_ERR_FORMAT, "%s: checkpoint has no '%s'", path, key);
    unsigned long long a, b, c;
    char tail;
    LG_CHECK(sscanf(s, "%llu %llu %llu%c", &a, &b, &c, &tail) == 3, LG_ERR_FORMAT,
             "%s: '%s' is not an RNG state ('%s')", path, key, s);
    r->seed = a, r->stream = b, r->offset = c;
    return LG_OK;
}

/* NaN or Inf could never be trained on or sampled from: a file holding one
 * is not a good checkpoint (nor the "last good" one to resume from). */
static lg_status check_tensors_finite(const lg_safetensors *st, const char *path) {
    for (int i = 0; i < lg_st_count(st); i++) {
        const lg_st_tensor *t = lg_st_at(st, i);
        for (size_t j = 0; j < t->numel; j++)
            LG_CHECK(isfinite(t->data[j]), LG_ERR_FORMAT,
                     "%s: tensor '%s' holds %s (value %zu of %zu): not a usable checkpoint", path,
                     t->name, isnan(t->data[j]) ? "NaN" : "Inf", j, t->numel);
    }
    return LG_OK;
}

/* Reads and checks the header fields every checkpoint reader needs. */
static lg_status open_ckpt(const char *path, lg_safetensors **out, lg_model_desc *m, int *level,
                           int64_t *step) {
    LG_TRY(lg_st_read(out, path));
    lg_safetensors *st = *out;
    const char *fmt = lg_st_meta(st, "format"), *json = lg_st_meta(st, "model");
    lg_status s = LG_OK;
    uint64_t k = 0, n = 0;
    if (fmt && !strncmp(fmt, "lapgan-level-", 13) && strcmp(fmt, LG_CKPT_FORMAT))
        s = lg_error(LG_ERR_UNSUPPORTED,
                     "%s: checkpoint format '%.40s' is not one this build reads ('%s'): it "
                     "was written by another lapgan version", path, fmt, LG_CKPT_FORMAT);
    else if (!fmt || strcmp(fmt, LG_CKPT_FORMAT))
        s = lg_error(fmt ? LG_ERR_UNSUPPORTED : LG_ERR_FORMAT,
                     "%s: not a lapgan level checkpoint (format '%.40s', expected '%s')", path,
                     fmt ? fmt : "missing", LG_CKPT_FORMAT);
    else if (!json)
        s = lg_error(LG_ERR_FORMAT, "%s: checkpoint has no model description", path);
    if (s == LG_OK) s = lg_model_desc_from_json(m, json, path);
    if (s == LG_OK) s = check_tensors_finite(st, path);
    if (s == LG_OK) s = meta_get_u64(st, path, "level", &k);
    if (s == LG_OK) s = meta_get_u64(st, path, "step", &n);
    if (s == LG_OK && (k >= (uint64_t)m->levels || n > INT64_MAX))
        s = lg_error(LG_ERR_FORMAT, "%s: level %llu or step out of range", path,
                     (unsigned long long)k);
    if (s != LG_OK) {
        lg_st_free(st);
        *out = NULL;
        return s;
    }
    *level = (int)k;
    *step = (int64_t)n;
    return LG_OK;
}

lg_status lg_checkpoint_peek(const char *path, lg_model_desc *m, int *level, int64_t *step) {
    LG_CHECK(path && m && level && step, LG_ERR_ARG, "lg_checkpoint_peek: NULL argument");
    lg_safetensors *st;
    LG_TRY(open_ckpt(path, &st, m, level, step));
    lg_st_free(st);
    return LG_OK;
}

/* "[a,b,...]" of a shape, for messages. */
static const char *shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", d ? "," : "", (long long)shape[d]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

/* shape (ndim dims) is the model's; ndim 0 means a flat [numel] tensor. A
 * transposed weight has the right count but is the wrong tensor, so the
 * shape is compared, not just the count. */
static lg_status copy_tensor(const lg_safetensors *st, const char *path, const char *name,
                             float *dst, size_t numel, int ndim, const int *shape) {
    const lg_st_tensor *t = lg_st_find(st, name);
    LG_CHECK(t, LG_ERR_FORMAT, "%s: tensor '%s' is missing", path, name);
    LG_CHECK(t->numel == numel, LG_ERR_FORMAT, "%s: tensor '%s' has %zu values, expected %zu",
             path, name, t->numel, numel);
    int64_t want[LG_ST_MAX_DIMS] = {(int64_t)numel};
    int wn = ndim > 0 && ndim <= LG_ST_MAX_DIMS ? ndim : 1, same = t->ndim == wn;
    for (int d = 0; d < ndim && d < LG_ST_MAX_DIMS; d++) want[d] = shape[d];
    for (int d = 0; same && d < wn; d++) same = t->shape[d] == want[d];
    char a[96], b[96];
    LG_CHECK(same, LG_ERR_FORMAT, "%s: tensor '%s' has shape %s, the model's is %s", path, name,
             shape_str(a, sizeof a, t->ndim, t->shape), shape_str(b, sizeof b, wn, want));
    memcpy(dst, t->data, numel * sizeof(float));
    return LG_OK;
}

static lg_status load_part(lg_part *p, const lg_safetensors *st, const char *path) {
    char name[96];
    size_t np, nb, ns;
    float *params = lg_net_params(p->net, &np), *bufs = lg_net_buffers(p->net, &nb);
    for (int i = 0; i < lg_net_tensor_count(p->net); i++) {
        lg_net_tensor_info ti;
        LG_TRY(lg_net_tensor_info_at(p->net, i, &ti));
        snprintf(name, sizeof name, "%s.%s", p->name, ti.name);
        LG_TRY(copy_tensor(st, path, name, (ti.kind ? bufs : params) + ti.offset, ti.numel,
                           ti.ndim, ti.shape));
    }
    float *state = lg_optim_state(p->opt, &ns);
    if (ns) {
        snprintf(name, sizeof name, "%s.optim", p->name);
        LG_TRY(copy_tensor(st, path, name, state, ns, 0, NULL));
    }
    uint64_t t = 0;
    snprintf(name, sizeof name, "optim.%s.t", p->name);
    LG_TRY(meta_get_u64(st, path, name, &t));
    *lg_optim_t(p->opt) = (int64_t)t;
    snprintf(name, sizeof name, "rng.%s", p->name);
    return meta_get_rng(st, path, name, lg_net_rng(p->net));
}

/* Optional keys: files written before validation splits lack them. */
static lg_status read_extra_val(const lg_safetensors *st, const char *path, lg_level_extra *ex) {
    uint64_t v = 0;
    ex->val_images = -1;
    if (lg_st_meta(st, "val_images")) {
        LG_TRY(meta_get_u64(st, path, "val_images", &v));
        ex->val_images = (int64_t)v;
    }
    const char *b = lg_st_meta(st, "best_value");
    if (!b || !lg_st_meta(st, "best_step")) return LG_OK;
    char *end;
    ex->best_value = strtod(b, &end);
    LG_CHECK(*b && !*end, LG_ERR_FORMAT, "%s: 'best_value' is not a number ('%s')", path, b);
    LG_TRY(meta_get_u64(st, path, "best_step", &v));
    ex->best_step = (int64_t)v;
    ex->has_best = 1;
    return LG_OK;
}

static lg_status load_into(lg_level *lv, lg_level_extra *ex, const lg_safetensors *st,
                           const char *path, const lg_model_desc *m, int level, int64_t step) {
    char diff[600];
    if (lg_model_desc_diff(m, "the checkpoint", &lv->m, "here", diff, sizeof diff) != LG_OK)
        return lg_error(LG_ERR_FORMAT, "%s: checkpoint is for a different model: %s", path, diff);
    LG_CHECK(level == lv->k, LG_ERR_FORMAT, "%s: checkpoint holds level %d, not level %d", path,
             level, lv->k);
    for (int i = 0; i < LG_PART_COUNT; i++)
        if (lv->part[i].net) LG_TRY(load_part(&lv->part[i], st, path));
    LG_TRY(meta_get_rng(st, path, "rng.noise", &lv->noise));
    lv->step = step;
    if (ex) {
        memset(ex, 0, sizeof *ex);
        LG_TRY(meta_get_u64(st, path, "seed", &ex->seed));
        LG_TRY(meta_get_u64(st, path, "data_epoch", &ex->data_epoch));
        LG_TRY(meta_get_u64(st, path, "data_cursor", &ex->data_cursor));
        const char *src = lg_st_meta(st, "data_source");
        snprintf(ex->data_source, sizeof ex->data_source, "%s", src ? src : "");
        LG_TRY(read_extra_val(st, path, ex));
    }
    return LG_OK;
}

lg_status lg_level_load(lg_level *lv, lg_level_extra *extra, const char *path) {
    LG_CHECK(lv && path, LG_ERR_ARG, "lg_level_load: NULL argument");
    lg_safetensors *st;
    lg_model_desc m;
    int level;
    int64_t step;
    LG_TRY(open_ckpt(path, &st, &m, &level, &step));
    lg_status s = load_into(lv, extra, st, path, &m, level, step);
    lg_st_free(st);
    return s;
}
