/* `lapgan export --format onnx`: the whole coarse-to-fine sampler as one
 * ONNX graph (opset 13), built as protobuf-c messages of the ONNX schema
 * that Debian's libonnx-dev ships (onnx.proto, compiled by protoc-c at
 * build time) and packed by libprotobuf-c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "export/export.h"
#include "lapgan/io.h"
#include "onnx.pb-c.h"

#define LG_ONNX_OPSET 13
#define LG_ONNX_IR_VERSION 7

/* Every message and array of the graph, freed together. */
typedef struct {
    void **mem;
    size_t nmem, capmem;
    Onnx__GraphProto *g;
    size_t capnode, capinit;
    int names; /* counter for fresh value names */
    lg_status st;
} builder;

static void *bal(builder *b, size_t bytes) {
    if (b->st != LG_OK) return NULL;
    if (b->nmem == b->capmem) {
        size_t cap = b->capmem ? 2 * b->capmem : 256;
        void **m = realloc(b->mem, cap * sizeof *m);
        if (!m) return b->st = lg_error(LG_ERR_NOMEM, "export onnx: out of memory"), NULL;
        b->mem = m;
        b->capmem = cap;
    }
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) return b->st = lg_error(LG_ERR_NOMEM, "export onnx: out of memory"), NULL;
    return b->mem[b->nmem++] = p;
}

static char *bstr(builder *b, const char *s) {
    char *p = bal(b, strlen(s) + 1);
    if (p) strcpy(p, s);
    return p;
}

static char *fresh(builder *b, const char *stem) {
    char buf[64];
    snprintf(buf, sizeof buf, "%s_%d", stem, b->names++);
    return bstr(b, buf);
}

/* Appends p to the array *arr of *n entries (capacity *cap). */
static void push(builder *b, void ***arr, size_t *n, size_t *cap, void *p) {
    if (b->st != LG_OK || !p) return;
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        void **a = bal(b, c * sizeof *a);
        if (!a) return;
        if (*n) memcpy(a, *arr, *n * sizeof *a);
        *arr = a;
        *cap = c;
    }
    (*arr)[(*n)++] = p;
}

/* An initializer of float data (copied) or int64 data. */
static char *init_tensor(builder *b, const char *stem, int type, const void *data, size_t bytes,
                         int ndim, const int64_t *dims) {
    Onnx__TensorProto *t = bal(b, sizeof *t);
    int64_t *d = bal(b, sizeof(int64_t) * (size_t)(ndim ? ndim : 1));
    uint8_t *raw = bal(b, bytes);
    char *name = fresh(b, stem);
    if (b->st != LG_OK) return NULL;
    onnx__tensor_proto__init(t);
    memcpy(d, dims, sizeof(int64_t) * (size_t)ndim);
    memcpy(raw, data, bytes);
    t->n_dims = (size_t)ndim;
    t->dims = d;
    t->has_data_type = 1;
    t->data_type = type;
    t->name = name;
    t->has_raw_data = 1;
    t->raw_data.len = bytes;
    t->raw_data.data = raw;
    push(b, (void ***)&b->g->initializer, &b->g->n_initializer, &b->capinit, t);
    return name;
}

static char *init_floats(builder *b, const char *stem, const float *x, int ndim, const int64_t *dims) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    return init_tensor(b, stem, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, x, n * sizeof(float), ndim,
                       dims);
}

static char *init_int64s(builder *b, const char *stem, const int64_t *x, int n) {
    int64_t dims[1] = {n};
    return init_tensor(b, stem, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, x,
                       (size_t)n * sizeof(int64_t), 1, dims);
}

static Onnx__AttributeProto *attr_int(builder *b, const char *name, int64_t v) {
    Onnx__AttributeProto *a = bal(b, sizeof *a);
    char *nm = bstr(b, name);
    if (!a || !nm) return NULL;
    onnx__attribute_proto__init(a);
    a->name = nm;
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    a->has_i = 1;
    a->i = v;
    return a;
}

static Onnx__AttributeProto *attr_float(builder *b, const char *name, float v) {
    Onnx__AttributeProto *a = attr_int(b, name, 0);
    if (!a) return NULL;
    a->has_i = 0;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    a->has_f = 1;
    a->f = v;
    return a;
}

static Onnx__AttributeProto *attr_ints(builder *b, const char *name, const int64_t *v, int n) {
    Onnx__AttributeProto *a = attr_int(b, name, 0);
    int64_t *x = bal(b, sizeof(int64_t) * (size_t)n);
    if (!a || !x) return NULL;
    a->has_i = 0;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    memcpy(x, v, sizeof(int64_t) * (size_t)n);
    a->n_ints = (size_t)n;
    a->ints = x;
    return a;
}

/* Adds node op(inputs) -> one fresh output, returned; attrs NULL-ended. */
static char *node(builder *b, const char *op, int nin, const char *const *in,
                  Onnx__AttributeProto *const *attrs, int nattr) {
    Onnx__NodeProto *n = bal(b, sizeof *n);
    char **ins = bal(b, sizeof(char *) * (size_t)nin), **outs = bal(b, sizeof(char *));
    Onnx__AttributeProto **as = bal(b, sizeof *as * (size_t)(nattr ? nattr : 1));
    char *out = fresh(b, op), *opn = bstr(b, op);
    if (b->st != LG_OK) return NULL;
    onnx__node_proto__init(n);
    for (int i = 0; i < nin; i++) {
        if (!in[i]) return b->st = lg_error(LG_ERR_NOMEM, "export onnx: out of memory"), NULL;
        ins[i] = (char *)in[i];
    }
    for (int i = 0; i < nattr; i++) {
        if (!attrs[i]) return NULL;
        as[i] = attrs[i];
    }
    outs[0] = out;
    n->n_input = (size_t)nin;
    n->input = ins;
    n->n_output = 1;
    n->output = outs;
    n->op_type = opn;
    n->n_attribute = (size_t)nattr;
    n->attribute = as;
    push(b, (void ***)&b->g->node, &b->g->n_node, &b->capnode, n);
    return out;
}

static char *node1(builder *b, const char *op, const char *x) { return node(b, op, 1, &x, NULL, 0); }
static char *node2(builder *b, const char *op, const char *x, const char *y) {
    const char *in[2] = {x, y};
    return node(b, op, 2, in, NULL, 0);
}

/* x reshaped to [n, c, h, w] (0 keeps the batch dimension). */
static char *reshape4(builder *b, const char *x, int c, int h, int w) {
    const int64_t shape[4] = {0, c, h, w};
    return node2(b, "Reshape", x, init_int64s(b, "shape", shape, 4));
}

static char *param(builder *b, const lg_net *net, const char *want, int layer, int ndim,
                   const int64_t *dims) {
    size_t np, nb;
    const float *params = lg_net_params((lg_net *)net, &np);
    const float *bufs = lg_net_buffers((lg_net *)net, &nb);
    char prefix[16];
    snprintf(prefix, sizeof prefix, "%d.", layer);
    for (int i = 0; i < lg_net_tensor_count(net); i++) {
        lg_net_tensor_info ti;
        if (lg_net_tensor_info_at(net, i, &ti) != LG_OK) break;
        const char *dot = strrchr(ti.name, '.');
        if (!strncmp(ti.name, prefix, strlen(prefix)) && dot && !strcmp(dot + 1, want))
            return init_floats(b, want, (ti.kind ? bufs : params) + ti.offset, ndim, dims);
    }
    return NULL; /* absent: no bias, or no affine batch norm */
}

static char *constant(builder *b, const char *stem, float v, int n) {
    float *x = bal(b, sizeof(float) * (size_t)n);
    if (!x) return NULL;
    for (int i = 0; i < n; i++) x[i] = v;
    int64_t dims[1] = {n};
    return init_floats(b, stem, x, 1, dims);
}

static char *layer_node(builder *b, const lg_net *net, int i, const lg_layer_spec *s, int c,
                        int h, int w, const char *x) {
    switch (s->kind) {
    case LG_LAYER_LINEAR: {
        if (h * w > 1) x = node(b, "Flatten", 1, &x, (Onnx__AttributeProto *[]){attr_int(b, "axis", 1)}, 1);
        const int64_t wd[2] = {s->out, (int64_t)c * h * w}, bd[1] = {s->out};
        const char *in[3] = {x, param(b, net, "weight", i, 2, wd), param(b, net, "bias", i, 1, bd)};
        if (!in[2]) in[2] = constant(b, "zero_bias", 0.f, s->out);
        return node(b, "Gemm", 3, in, (Onnx__AttributeProto *[]){attr_int(b, "transB", 1)}, 1);
    }
    case LG_LAYER_CONV2D: {
        const int64_t wd[4] = {s->out, c / s->groups, s->k, s->k}, bd[1] = {s->out};
        const int64_t k[2] = {s->k, s->k}, st[2] = {s->stride, s->stride};
        const int64_t pads[4] = {s->pad, s->pad, s->pad, s->pad};
        const char *in[3] = {x, param(b, net, "weight", i, 4, wd), param(b, net, "bias", i, 1, bd)};
        Onnx__AttributeProto *a[4] = {attr_ints(b, "kernel_shape", k, 2),
                                      attr_ints(b, "strides", st, 2), attr_ints(b, "pads", pads, 4),
                                      attr_int(b, "group", s->groups)};
        return node(b, "Conv", in[2] ? 3 : 2, in, a, 4);
    }
    case LG_LAYER_FEATURE_L2POOL: { /* [n, c/k, k, h, w], then the L2 norm over the k maps */
        const int64_t shape[5] = {0, c / s->k, s->k, h, w}, axis[1] = {2};
        x = node2(b, "Reshape", x, init_int64s(b, "pool_shape", shape, 5));
        return node(b, "ReduceL2", 1, &x,
                    (Onnx__AttributeProto *[]){attr_ints(b, "axes", axis, 1), attr_int(b, "keepdims", 0)}, 2);
    }
    case LG_LAYER_BATCHNORM: {
        const int64_t d[1] = {c};
        const char *in[5] = {x, param(b, net, "weight", i, 1, d), param(b, net, "bias", i, 1, d),
                             param(b, net, "running_mean", i, 1, d),
                             param(b, net, "running_var", i, 1, d)};
        if (!in[1]) in[1] = constant(b, "ones", 1.f, c);
        if (!in[2]) in[2] = constant(b, "zeros", 0.f, c);
        return node(b, "BatchNormalization", 5, in,
                    (Onnx__AttributeProto *[]){attr_float(b, "epsilon", s->eps)}, 1);
    }
    case LG_LAYER_RELU: return node1(b, "Relu", x);
    case LG_LAYER_LEAKY_RELU:
        return node(b, "LeakyRelu", 1, &x, (Onnx__AttributeProto *[]){attr_float(b, "alpha", s->slope)}, 1);
    case LG_LAYER_SIGMOID: return node1(b, "Sigmoid", x);
    case LG_LAYER_TANH: return node1(b, "Tanh", x);
    case LG_LAYER_DROPOUT: return (char *)x; /* the identity in eval */
    case LG_LAYER_FLATTEN:
        return node(b, "Flatten", 1, &x, (Onnx__AttributeProto *[]){attr_int(b, "axis", 1)}, 1);
    case LG_LAYER_RESHAPE: return reshape4(b, x, s->c, s->h, s->w);
    default:
        b->st = lg_error(LG_ERR_UNSUPPORTED, "export onnx: layer %d (%s) has no exporter", i,
                         lg_layer_kind_name(s->kind));
        return NULL;
    }
}

static char *net_nodes(builder *b, const lg_net *net, const char *x) {
    for (int i = 0; x && b->st == LG_OK && i < lg_net_layer_count(net); i++) {
        lg_layer_spec s;
        int c, h, w;
        if ((b->st = lg_net_layer_at(net, i, &s, &c, &h, &w)) != LG_OK) return NULL;
        x = layer_node(b, net, i, &s, c, h, w, x);
    }
    return (char *)x;
}

static Onnx__ValueInfoProto *value_info(builder *b, const char *name, int type, int ndim,
                                        const int64_t *dims) {
    Onnx__ValueInfoProto *v = bal(b, sizeof *v);
    Onnx__TypeProto *t = bal(b, sizeof *t);
    Onnx__TypeProto__Tensor *tt = bal(b, sizeof *tt);
    Onnx__TensorShapeProto *sh = bal(b, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dv = bal(b, sizeof *dv * (size_t)ndim);
    char *nm = bstr(b, name), *batch = bstr(b, "n");
    for (int i = 0; i < ndim && b->st == LG_OK; i++) {
        Onnx__TensorShapeProto__Dimension *d = bal(b, sizeof *d);
        if (!d) break;
        onnx__tensor_shape_proto__dimension__init(d);
        if (dims[i] < 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = batch;
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i];
        }
        dv[i] = d;
    }
    if (b->st != LG_OK) return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(t);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    sh->n_dim = (size_t)ndim;
    sh->dim = dv;
    tt->has_elem_type = 1;
    tt->elem_type = type;
    tt->shape = sh;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->name = nm;
    v->type = t;
    return v;
}

/* Level k's image from its noise input, the coarser image and the one-hot
 * labels (NULL when unconditional). */
static char *level_nodes(builder *b, const lg_exp *e, const lg_exp_level *L, const char *coarse,
                         const char *onehot, size_t *cap_in) {
    char zname[16];
    snprintf(zname, sizeof zname, "z_%d", L->k);
    const int64_t zfc[2] = {-1, L->zdim}, zconv[4] = {-1, L->zdim, L->size, L->size};
    push(b, (void ***)&b->g->input, &b->g->n_input, cap_in,
         value_info(b, zname, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, L->fc ? 2 : 4,
                    L->fc ? zfc : zconv));
    const char *z = bstr(b, zname);
    if (L->fc) {
        const char *in[2] = {z, onehot};
        const char *x = onehot ? node(b, "Concat", 2, in,
                                      (Onnx__AttributeProto *[]){attr_int(b, "axis", 1)}, 1)
                               : z;
        return reshape4(b, net_nodes(b, L->g, x), e->d.c, L->size, L->size);
    }
    const int64_t ud[2] = {L->size, L->sc};
    float *ut = bal(b, sizeof(float) * (size_t)L->size * L->sc);
    if (!ut) return NULL;
    for (int r = 0; r < L->size; r++)
        for (int q = 0; q < L->sc; q++) ut[(size_t)q * L->size + r] = L->up[(size_t)r * L->sc + q];
    const int64_t utd[2] = {L->sc, L->size};
    /* u(I_{k+1}) = U I U^T on each plane (MatMul broadcasts over n, c) */
    const char *low = node2(b, "MatMul", node2(b, "MatMul", init_floats(b, "up", L->up, 2, ud), coarse),
                            init_floats(b, "up_t", ut, 2, utd));
    const char *in[3] = {z, low, L->gl ? net_nodes(b, L->gl, onehot) : NULL};
    const char *x = node(b, "Concat", L->gl ? 3 : 2, in,
                         (Onnx__AttributeProto *[]){attr_int(b, "axis", 1)}, 1);
    return node2(b, "Add", low, net_nodes(b, L->g, x));
}

static lg_status build_graph(builder *b, const lg_exp *e) {
    size_t cap_in = 0;
    const char *onehot = NULL;
    if (e->d.nclasses) {
        const int64_t ld[1] = {-1}, depth[1] = {e->d.nclasses};
        push(b, (void ***)&b->g->input, &b->g->n_input, &cap_in,
             value_info(b, "labels", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, ld));
        const float offon[2] = {0.f, 1.f};
        const int64_t vd[1] = {2};
        const char *in[3] = {bstr(b, "labels"), init_int64s(b, "depth", depth, 1),
                             init_floats(b, "off_on", offon, 1, vd)};
        onehot = node(b, "OneHot", 3, in, (Onnx__AttributeProto *[]){attr_int(b, "axis", -1)}, 1);
    }
    const char *img = NULL;
    for (int k = e->d.levels - 1; k >= 0 && b->st == LG_OK; k--)
        img = level_nodes(b, e, &e->L[k], img, onehot, &cap_in);
    if (b->st != LG_OK) return b->st;
    /* name the result "image" */
    const char *out = node1(b, "Identity", img);
    if (b->st != LG_OK) return b->st;
    Onnx__NodeProto *last = b->g->node[b->g->n_node - 1];
    last->output[0] = bstr(b, "image");
    (void)out;
    const int64_t od[4] = {-1, e->d.c, e->d.level[0].size, e->d.level[0].size};
    b->g->n_output = 1;
    b->g->output = bal(b, sizeof *b->g->output);
    if (b->g->output)
        b->g->output[0] = value_info(b, "image", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 4, od);
    return b->st;
}

static lg_status write_model(builder *b, const lg_exp *e, const char *path) {
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    Onnx__OperatorSetIdProto *opsets[1] = {&opset};
    opset.domain = "";
    opset.has_version = 1;
    opset.version = LG_ONNX_OPSET;
    model.has_ir_version = 1;
    model.ir_version = LG_ONNX_IR_VERSION;
    model.n_opset_import = 1;
    model.opset_import = opsets;
    model.producer_name = "lapgan";
    model.producer_version = LG_VERSION;
    model.graph = b->g;
    b->g->name = bstr(b, e->d.name);
    LG_TRY(b->st);
    size_t len = onnx__model_proto__get_packed_size(&model);
    uint8_t *buf = malloc(len ? len : 1);
    LG_CHECK(buf, LG_ERR_NOMEM, "%s: out of memory for %zu bytes", path, len);
    onnx__model_proto__pack(&model, buf);
    lg_status st = lg_atomic_write_file(path, buf, len);
    free(buf);
    return st;
}

lg_status lg_export_onnx(const char *run_dir, const char *out_path) {
    LG_CHECK(run_dir && out_path, LG_ERR_ARG, "lg_export_onnx: NULL argument");
    lg_exp *e;
    LG_TRY(lg_exp_open(&e, run_dir));
    builder b = {.st = LG_OK};
    b.g = bal(&b, sizeof *b.g);
    if (b.g) onnx__graph_proto__init(b.g);
    lg_status st = b.st == LG_OK ? build_graph(&b, e) : b.st;
    if (st == LG_OK) st = write_model(&b, e, out_path);
    for (size_t i = 0; i < b.nmem; i++) free(b.mem[i]);
    free(b.mem);
    lg_exp_free(e);
    return st;
}
