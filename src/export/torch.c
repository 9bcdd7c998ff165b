/* `lapgan export --format torch`: the generator pyramid as a Python module
 * (src/export/torch_model.py with the model's layers and u(.) matrices as
 * JSON) and its weights as one safetensors file. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/check.h"
#include "export/export.h"
#include "lapgan/io.h"

extern const char lg_export_torch_py[];

static json_t *shape3(int c, int h, int w) { return json_pack("[iii]", c, h, w); }

static json_t *layer_json(const lg_layer_spec *s, int c, int h, int w) {
    json_t *j = json_pack("{s:s, s:o}", "kind", lg_layer_kind_name(s->kind), "in", shape3(c, h, w));
    switch (s->kind) {
    case LG_LAYER_LINEAR:
        json_object_set_new(j, "in_features", json_integer((json_int_t)c * h * w));
        json_object_set_new(j, "out", json_integer(s->out));
        json_object_set_new(j, "bias", json_boolean(!s->no_bias));
        break;
    case LG_LAYER_CONV2D:
        json_object_set_new(j, "out", json_integer(s->out));
        json_object_set_new(j, "k", json_integer(s->k));
        json_object_set_new(j, "stride", json_integer(s->stride));
        json_object_set_new(j, "pad", json_integer(s->pad));
        json_object_set_new(j, "groups", json_integer(s->groups));
        json_object_set_new(j, "bias", json_boolean(!s->no_bias));
        break;
    case LG_LAYER_FEATURE_L2POOL: json_object_set_new(j, "k", json_integer(s->k)); break;
    case LG_LAYER_BATCHNORM:
        json_object_set_new(j, "eps", json_real(s->eps));
        json_object_set_new(j, "affine", json_boolean(!s->no_affine));
        break;
    case LG_LAYER_LEAKY_RELU: json_object_set_new(j, "slope", json_real(s->slope)); break;
    case LG_LAYER_RESHAPE: json_object_set_new(j, "shape", shape3(s->c, s->h, s->w)); break;
    default: break;
    }
    return j;
}

static lg_status net_json(const lg_net *net, json_t **out) {
    *out = json_array();
    for (int i = 0; i < lg_net_layer_count(net); i++) {
        lg_layer_spec s;
        int c, h, w;
        LG_TRY(lg_net_layer_at(net, i, &s, &c, &h, &w));
        LG_CHECK(s.kind != LG_LAYER_UPSAMPLE_NEAREST && s.kind != LG_LAYER_UPSAMPLE_BILINEAR,
                 LG_ERR_UNSUPPORTED, "export: layer %d (%s) has no exporter", i,
                 lg_layer_kind_name(s.kind));
        json_array_append_new(*out, layer_json(&s, c, h, w));
    }
    return LG_OK;
}

static json_t *matrix_json(const float *u, int rows, int cols) {
    json_t *m = json_array();
    for (int r = 0; r < rows; r++) {
        json_t *row = json_array();
        for (int q = 0; q < cols; q++) json_array_append_new(row, json_real(u[(size_t)r * cols + q]));
        json_array_append_new(m, row);
    }
    return m;
}

static lg_status level_json(const lg_exp_level *L, json_t **out) {
    json_t *g = NULL, *gl = json_null();
    lg_status st = net_json(L->g, &g);
    if (st == LG_OK && L->gl) st = net_json(L->gl, &gl);
    *out = json_pack("{s:i, s:b, s:i, s:i, s:i, s:o, s:o, s:o}", "k", L->k, "fc", L->fc, "size",
                     L->size, "sc", L->sc, "zdim", L->zdim, "G", g, "GL", gl, "up",
                     L->up ? matrix_json(L->up, L->size, L->sc) : json_null());
    return st;
}

static lg_status model_json(const lg_exp *e, char **text) {
    json_t *levels = json_array();
    lg_status st = LG_OK;
    for (int k = 0; st == LG_OK && k < e->d.levels; k++) {
        json_t *lj;
        st = level_json(&e->L[k], &lj);
        json_array_append_new(levels, lj);
    }
    json_t *root = json_pack("{s:s, s:i, s:i, s:s, s:o}", "name", e->d.name, "c", e->d.c,
                             "nclasses", e->d.nclasses, "lapgan_version", LG_VERSION, "level",
                             levels);
    *text = st == LG_OK ? json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(root);
    if (st == LG_OK && !*text) st = LG_ERR_NOMEM;
    return st;
}

/* The template with @MODEL_JSON@ replaced (malloc'd). */
static char *fill_template(const char *json) {
    const char *mark = strstr(lg_export_torch_py, "@MODEL_JSON@");
    if (!mark) return NULL;
    size_t head = (size_t)(mark - lg_export_torch_py), jl = strlen(json);
    const char *tail = mark + strlen("@MODEL_JSON@");
    char *out = malloc(head + jl + strlen(tail) + 1);
    if (!out) return NULL;
    memcpy(out, lg_export_torch_py, head);
    memcpy(out + head, json, jl);
    strcpy(out + head + jl, tail);
    return out;
}

static lg_status write_weights(const lg_exp *e, const char *path) {
    lg_st_writer *w;
    LG_TRY(lg_st_writer_new(&w));
    lg_status st = lg_st_writer_meta(w, "format", "lapgan-export-torch-1");
    char name[160];
    for (int k = 0; st == LG_OK && k < e->d.levels; k++) {
        lg_net *nets[2] = {e->L[k].g, e->L[k].gl};
        const char *part[2] = {"G", "GL"};
        for (int p = 0; p < 2 && st == LG_OK; p++) {
            if (!nets[p]) continue;
            size_t np, nb;
            float *params = lg_net_params(nets[p], &np), *bufs = lg_net_buffers(nets[p], &nb);
            for (int i = 0; st == LG_OK && i < lg_net_tensor_count(nets[p]); i++) {
                lg_net_tensor_info ti;
                st = lg_net_tensor_info_at(nets[p], i, &ti);
                int64_t shape[4];
                for (int d = 0; d < ti.ndim; d++) shape[d] = ti.shape[d];
                snprintf(name, sizeof name, "level_%d.%s.%s", k, part[p], ti.name);
                if (st == LG_OK)
                    st = lg_st_writer_add(w, name, (ti.kind ? bufs : params) + ti.offset, ti.ndim,
                                          shape);
            }
        }
    }
    if (st == LG_OK) st = lg_st_writer_write(w, path);
    lg_st_writer_free(w);
    return st;
}

static lg_status make_dir(const char *dir) {
    LG_CHECK(mkdir(dir, 0777) == 0 || errno == EEXIST, LG_ERR_IO, "%s: cannot create: %s", dir,
             strerror(errno));
    struct stat sb;
    LG_CHECK(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode), LG_ERR_IO, "%s: not a directory", dir);
    return LG_OK;
}

static lg_status export_into(const lg_exp *e, const char *out_dir) {
    char path[4096], *json = NULL;
    LG_TRY(make_dir(out_dir));
    LG_TRY(model_json(e, &json));
    char *py = fill_template(json);
    free(json);
    LG_CHECK(py, LG_ERR_NOMEM, "export: out of memory for the module text");
    snprintf(path, sizeof path, "%s/weights.safetensors", out_dir);
    lg_status st = write_weights(e, path);
    snprintf(path, sizeof path, "%s/lapgan_model.py", out_dir);
    if (st == LG_OK) st = lg_atomic_write_file(path, py, strlen(py));
    free(py);
    return st;
}

lg_status lg_export_torch(const char *run_dir, const char *out_dir) {
    LG_CHECK(run_dir && out_dir, LG_ERR_ARG, "lg_export_torch: NULL argument");
    lg_exp *e;
    LG_TRY(lg_exp_open(&e, run_dir));
    lg_status st = export_into(e, out_dir);
    lg_exp_free(e);
    return st;
}
