/*
 * The plain backend's kernels: every op on dense float64 arrays, NCHW, ONNX semantics.
 *
 * Loops put the contiguous axis innermost so that the compiler vectorizes them, and the
 * outer loops (over batch and channels) run under OpenMP when there is enough work to pay for
 * the threads: the backend is the oracle that evaluates whole test sets.
 */
#include "graph.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Below this many multiply-adds a kernel stays on one thread. */
#define PAR_WORK 32768

static int64_t prod(const int64_t *d, int from, int to) {
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= d[i];
    return p;
}

/* Row-major strides of s, with 0 for axes where s (aligned right against an output of rank
 * r) has length 1, so that indexing broadcasts. */
static void bcast_strides(const hg_shape *s, int r, int64_t *st) {
    int64_t acc = 1;
    for (int i = r - 1; i >= 0; i--) {
        int j = i - (r - s->rank);
        int64_t d = j >= 0 ? s->dims[j] : 1;
        st[i] = d == 1 ? 0 : acc;
        acc *= d;
    }
}

static hg_shape shape_of(const hg_ndarray *a) {
    hg_shape s = {.rank = a->rank};
    memcpy(s.dims, a->dims, sizeof s.dims);
    return s;
}

/* ---- element-wise ------------------------------------------------------------------------- */

typedef enum bin_op { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_POW, BIN_MIN } bin_op;

static inline double bin_apply(bin_op op, double a, double b) {
    switch (op) {
    case BIN_ADD:
        return a + b;
    case BIN_SUB:
        return a - b;
    case BIN_MUL:
        return a * b;
    case BIN_DIV:
        return a / b;
    case BIN_POW:
        return b == 2.0 ? a * a : pow(a, b);
    case BIN_MIN:
        return a < b || isnan(a) ? a : b;
    }
    return 0;
}

/* out = a (op) b with broadcasting; out has the broadcast shape. */
static void binary(bin_op op, const hg_ndarray *a, const hg_ndarray *b, hg_ndarray *out) {
    int r = out->rank;
    hg_shape sa = shape_of(a), sb = shape_of(b);
    if (a->size == out->size && b->size == out->size) {
        for (size_t i = 0; i < out->size; i++)
            out->data[i] = bin_apply(op, a->data[i], b->data[i]);
        return;
    }
    if (b->size == 1 && a->size == out->size) {
        double y = b->data[0];
        for (size_t i = 0; i < out->size; i++)
            out->data[i] = bin_apply(op, a->data[i], y);
        return;
    }
    int64_t ta[HG_MAX_RANK], tb[HG_MAX_RANK];
    bcast_strides(&sa, r, ta);
    bcast_strides(&sb, r, tb);
    int64_t inner = r ? out->dims[r - 1] : 1;
    int64_t sia = r ? ta[r - 1] : 0, sib = r ? tb[r - 1] : 0;
    int64_t rows = inner ? (int64_t)out->size / inner : 0;
    int64_t idx[HG_MAX_RANK] = {0};
    for (int64_t row = 0; row < rows; row++) {
        int64_t oa = 0, ob = 0;
        for (int d = 0; d < r - 1; d++) {
            oa += idx[d] * ta[d];
            ob += idx[d] * tb[d];
        }
        double *o = out->data + row * inner;
        for (int64_t j = 0; j < inner; j++)
            o[j] = bin_apply(op, a->data[oa + j * sia], b->data[ob + j * sib]);
        for (int d = r - 2; d >= 0; d--) {
            if (++idx[d] < out->dims[d])
                break;
            idx[d] = 0;
        }
    }
}

static void unary(const hg_node *n, const hg_ndarray *x, hg_ndarray *out) {
    const double *in = x->data;
    double *o = out->data;
    size_t len = x->size;
    switch (n->op) {
    case HG_OP_RELU:
        for (size_t i = 0; i < len; i++)
            o[i] = in[i] > 0 ? in[i] : 0.0;
        break;
    case HG_OP_RELU6:
    case HG_OP_CLIP: {
        double lo = n->attr.clip.min, hi = n->attr.clip.max;
        for (size_t i = 0; i < len; i++)
            o[i] = in[i] < lo ? lo : (in[i] > hi ? hi : in[i]);
        break;
    }
    case HG_OP_LEAKYRELU: {
        double al = n->attr.leaky_alpha;
        for (size_t i = 0; i < len; i++)
            o[i] = in[i] >= 0 ? in[i] : al * in[i];
        break;
    }
    case HG_OP_SIGMOID:
        for (size_t i = 0; i < len; i++)
            o[i] = in[i] >= 0 ? 1.0 / (1.0 + exp(-in[i])) : exp(in[i]) / (1.0 + exp(in[i]));
        break;
    case HG_OP_TANH:
        for (size_t i = 0; i < len; i++)
            o[i] = tanh(in[i]);
        break;
    case HG_OP_SQUARE:
        for (size_t i = 0; i < len; i++)
            o[i] = in[i] * in[i];
        break;
    default:
        memcpy(o, in, len * sizeof *o);
        break;
    }
}

static void softmax(const hg_node *n, const hg_ndarray *x, hg_ndarray *out) {
    int r = x->rank;
    int64_t ax = n->attr.softmax.axis < 0 ? n->attr.softmax.axis + r : n->attr.softmax.axis;
    int64_t outer = prod(x->dims, 0, (int)ax), len, inner;
    if (n->attr.softmax.legacy) {
        len = prod(x->dims, (int)ax, r);
        inner = 1;
    } else {
        len = x->dims[ax];
        inner = prod(x->dims, (int)ax + 1, r);
    }
#pragma omp parallel for if (outer * len * inner > PAR_WORK)
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            const double *p = x->data + o * len * inner + i;
            double *q = out->data + o * len * inner + i;
            double m = -INFINITY, sum = 0;
            for (int64_t k = 0; k < len; k++)
                m = p[k * inner] > m ? p[k * inner] : m;
            for (int64_t k = 0; k < len; k++) {
                q[k * inner] = exp(p[k * inner] - m);
                sum += q[k * inner];
            }
            for (int64_t k = 0; k < len; k++)
                q[k * inner] /= sum;
        }
    }
}

/* ---- windows: Conv and pools -------------------------------------------------------------- */

/* A window op's geometry as three spatial axes (missing leading axes have length 1). */
typedef struct geom {
    int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
} geom;

static void geom_init(geom *gm, const hg_window_attr *w, const hg_ndarray *x, const hg_ndarray *y) {
    int ns = w->n_spatial, off = 3 - ns;
    for (int i = 0; i < 3; i++) {
        gm->in[i] = gm->out[i] = gm->k[i] = gm->s[i] = gm->d[i] = 1;
        gm->pb[i] = gm->pe[i] = 0;
    }
    for (int i = 0; i < ns; i++) {
        gm->in[off + i] = x->dims[2 + i];
        gm->out[off + i] = y->dims[2 + i];
        gm->k[off + i] = w->kernel[i];
        gm->s[off + i] = w->strides[i];
        gm->d[off + i] = w->dilations[i];
        gm->pb[off + i] = w->pads[i];
        gm->pe[off + i] = w->pads[ns + i];
    }
}

/* First and last+1 output index o with 0 <= o*s - p + t < in. */
static void valid_range(int64_t out, int64_t in, int64_t s, int64_t p, int64_t t, int64_t *lo,
                        int64_t *hi) {
    int64_t a = p - t; /* o*s >= a */
    int64_t l = a <= 0 ? 0 : (a + s - 1) / s;
    int64_t b = in - 1 + p - t; /* o*s <= b */
    int64_t h = b < 0 ? 0 : b / s + 1;
    if (h > out)
        h = out;
    if (l > h)
        l = h;
    *lo = l;
    *hi = h;
}

static void conv(const hg_window_attr *w, const hg_ndarray *x, const hg_ndarray *wt,
                 const hg_ndarray *bias, hg_ndarray *y) {
    geom gm;
    geom_init(&gm, w, x, y);
    int64_t N = x->dims[0], C = x->dims[1], M = y->dims[1], G = w->group;
    int64_t cg = C / G, mg = M / G;
    int64_t in_plane = gm.in[0] * gm.in[1] * gm.in[2];
    int64_t out_plane = gm.out[0] * gm.out[1] * gm.out[2];
    int64_t ksize = gm.k[0] * gm.k[1] * gm.k[2];
    int64_t work = N * M * out_plane * cg * ksize;
#pragma omp parallel for collapse(2) schedule(static) if (work > PAR_WORK)
    for (int64_t n = 0; n < N; n++) {
        for (int64_t m = 0; m < M; m++) {
            double *o = y->data + (n * M + m) * out_plane;
            double b0 = bias ? bias->data[m] : 0.0;
            for (int64_t i = 0; i < out_plane; i++)
                o[i] = b0;
            int64_t g = m / mg;
            for (int64_t ic = 0; ic < cg; ic++) {
                const double *in = x->data + (n * C + g * cg + ic) * in_plane;
                const double *wk = wt->data + (m * cg + ic) * ksize;
                for (int64_t kd = 0; kd < gm.k[0]; kd++)
                    for (int64_t kh = 0; kh < gm.k[1]; kh++)
                        for (int64_t kw = 0; kw < gm.k[2]; kw++) {
                            double wv = wk[(kd * gm.k[1] + kh) * gm.k[2] + kw];
                            int64_t td = kd * gm.d[0], th = kh * gm.d[1], tw = kw * gm.d[2];
                            int64_t d0, d1, h0, h1, w0, w1;
                            valid_range(gm.out[0], gm.in[0], gm.s[0], gm.pb[0], td, &d0, &d1);
                            valid_range(gm.out[1], gm.in[1], gm.s[1], gm.pb[1], th, &h0, &h1);
                            valid_range(gm.out[2], gm.in[2], gm.s[2], gm.pb[2], tw, &w0, &w1);
                            for (int64_t od = d0; od < d1; od++) {
                                int64_t id = od * gm.s[0] - gm.pb[0] + td;
                                for (int64_t oh = h0; oh < h1; oh++) {
                                    int64_t ih = oh * gm.s[1] - gm.pb[1] + th;
                                    const double *row = in + (id * gm.in[1] + ih) * gm.in[2];
                                    double *orow = o + (od * gm.out[1] + oh) * gm.out[2];
                                    int64_t sw = gm.s[2], base = tw - gm.pb[2];
                                    if (sw == 1) {
                                        for (int64_t ow = w0; ow < w1; ow++)
                                            orow[ow] += wv * row[ow + base];
                                    } else {
                                        for (int64_t ow = w0; ow < w1; ow++)
                                            orow[ow] += wv * row[ow * sw + base];
                                    }
                                }
                            }
                        }
            }
        }
    }
}

static void pool(hg_op op, const hg_window_attr *w, const hg_ndarray *x, hg_ndarray *y) {
    geom gm;
    geom_init(&gm, w, x, y);
    int64_t planes = x->dims[0] * x->dims[1];
    int64_t in_plane = gm.in[0] * gm.in[1] * gm.in[2];
    int64_t out_plane = gm.out[0] * gm.out[1] * gm.out[2];
    int64_t work = planes * out_plane * gm.k[0] * gm.k[1] * gm.k[2];
    bool is_max = op == HG_OP_MAXPOOL;
#pragma omp parallel for schedule(static) if (work > PAR_WORK)
    for (int64_t p = 0; p < planes; p++) {
        const double *in = x->data + p * in_plane;
        double *o = y->data + p * out_plane;
        for (int64_t od = 0; od < gm.out[0]; od++)
            for (int64_t oh = 0; oh < gm.out[1]; oh++)
                for (int64_t ow = 0; ow < gm.out[2]; ow++) {
                    int64_t st[3] = {od * gm.s[0] - gm.pb[0], oh * gm.s[1] - gm.pb[1],
                                     ow * gm.s[2] - gm.pb[2]};
                    double acc = is_max ? -INFINITY : 0.0;
                    int64_t valid = 0, padded = 0;
                    for (int64_t kd = 0; kd < gm.k[0]; kd++) {
                        int64_t id = st[0] + kd * gm.d[0];
                        bool in_pad_d = id >= -gm.pb[0] && id < gm.in[0] + gm.pe[0];
                        for (int64_t kh = 0; kh < gm.k[1]; kh++) {
                            int64_t ih = st[1] + kh * gm.d[1];
                            bool in_pad_h = ih >= -gm.pb[1] && ih < gm.in[1] + gm.pe[1];
                            for (int64_t kw = 0; kw < gm.k[2]; kw++) {
                                int64_t iw = st[2] + kw * gm.d[2];
                                bool in_pad_w = iw >= -gm.pb[2] && iw < gm.in[2] + gm.pe[2];
                                if (in_pad_d && in_pad_h && in_pad_w)
                                    padded++;
                                if (id < 0 || id >= gm.in[0] || ih < 0 || ih >= gm.in[1] ||
                                    iw < 0 || iw >= gm.in[2])
                                    continue;
                                double v = in[(id * gm.in[1] + ih) * gm.in[2] + iw];
                                valid++;
                                if (is_max)
                                    acc = v > acc ? v : acc;
                                else
                                    acc += v;
                            }
                        }
                    }
                    if (!is_max) {
                        int64_t cnt = w->count_include_pad ? padded : valid;
                        acc = cnt ? acc / (double)cnt : 0.0;
                    }
                    o[(od * gm.out[1] + oh) * gm.out[2] + ow] = acc;
                }
    }
}

static void global_avg(const hg_ndarray *x, hg_ndarray *y) {
    int64_t planes = x->dims[0] * x->dims[1];
    int64_t len = prod(x->dims, 2, x->rank);
    for (int64_t p = 0; p < planes; p++) {
        double s = 0;
        for (int64_t i = 0; i < len; i++)
            s += x->data[p * len + i];
        y->data[p] = len ? s / (double)len : 0.0;
    }
}

/* ---- matrix products ------------------------------------------------------------------------ */

static void gemm(const hg_gemm_attr *at, const hg_ndarray *a, const hg_ndarray *b,
                 const hg_ndarray *c, hg_ndarray *y) {
    int64_t M = y->dims[0], N = y->dims[1];
    int64_t K = at->trans_a ? a->dims[0] : a->dims[1];
    int64_t ct[2] = {0, 0};
    if (c) {
        hg_shape sc = shape_of(c);
        bcast_strides(&sc, 2, ct);
    }
#pragma omp parallel for schedule(static) if (M * N * K > PAR_WORK)
    for (int64_t i = 0; i < M; i++) {
        double *yr = y->data + i * N;
        for (int64_t j = 0; j < N; j++)
            yr[j] = 0.0;
        if (at->trans_b) {
            for (int64_t j = 0; j < N; j++) {
                const double *br = b->data + j * K;
                double s = 0;
                if (at->trans_a)
                    for (int64_t k = 0; k < K; k++)
                        s += a->data[k * M + i] * br[k];
                else
                    for (int64_t k = 0; k < K; k++)
                        s += a->data[i * K + k] * br[k];
                yr[j] = s;
            }
        } else {
            for (int64_t k = 0; k < K; k++) {
                double av = at->trans_a ? a->data[k * M + i] : a->data[i * K + k];
                const double *br = b->data + k * N;
                for (int64_t j = 0; j < N; j++)
                    yr[j] += av * br[j];
            }
        }
        for (int64_t j = 0; j < N; j++) {
            yr[j] *= at->alpha;
            if (c)
                yr[j] += at->beta * c->data[i * ct[0] + j * ct[1]];
        }
    }
}

static void matmul(const hg_ndarray *a, const hg_ndarray *b, hg_ndarray *y) {
    hg_shape sa = shape_of(a), sb = shape_of(b);
    if (sa.rank == 1) {
        sa.rank = 2;
        sa.dims[1] = sa.dims[0];
        sa.dims[0] = 1;
    }
    if (sb.rank == 1) {
        sb.rank = 2;
        sb.dims[1] = 1;
    }
    int64_t M = sa.dims[sa.rank - 2], K = sa.dims[sa.rank - 1], N = sb.dims[sb.rank - 1];
    /* Batch axes: broadcast of sa and sb without their last two axes. */
    hg_shape ba = {.rank = sa.rank - 2}, bb = {.rank = sb.rank - 2};
    memcpy(ba.dims, sa.dims, sizeof(int64_t) * (size_t)ba.rank);
    memcpy(bb.dims, sb.dims, sizeof(int64_t) * (size_t)bb.rank);
    int r = ba.rank > bb.rank ? ba.rank : bb.rank;
    hg_shape bo = {.rank = r};
    for (int i = 0; i < r; i++) {
        int ia = i - (r - ba.rank), ib = i - (r - bb.rank);
        int64_t da = ia >= 0 ? ba.dims[ia] : 1, db = ib >= 0 ? bb.dims[ib] : 1;
        bo.dims[i] = da == 1 ? db : da;
    }
    int64_t ta[HG_MAX_RANK], tb[HG_MAX_RANK];
    bcast_strides(&ba, r, ta);
    bcast_strides(&bb, r, tb);
    int64_t batches = prod(bo.dims, 0, r);
#pragma omp parallel for schedule(static) if (batches * M * N * K > PAR_WORK)
    for (int64_t t = 0; t < batches; t++) {
        int64_t rem = t, oa = 0, ob = 0;
        for (int d = r - 1; d >= 0; d--) {
            int64_t i = rem % bo.dims[d];
            rem /= bo.dims[d];
            oa += i * ta[d];
            ob += i * tb[d];
        }
        const double *A = a->data + oa * M * K, *B = b->data + ob * K * N;
        double *Y = y->data + t * M * N;
        for (int64_t i = 0; i < M; i++) {
            double *yr = Y + i * N;
            for (int64_t j = 0; j < N; j++)
                yr[j] = 0.0;
            for (int64_t k = 0; k < K; k++) {
                double av = A[i * K + k];
                const double *br = B + k * N;
                for (int64_t j = 0; j < N; j++)
                    yr[j] += av * br[j];
            }
        }
    }
}

static void batchnorm(double eps, const hg_ndarray *x, const hg_ndarray *const *p, hg_ndarray *y) {
    int64_t N = x->dims[0], C = x->dims[1], len = prod(x->dims, 2, x->rank);
    for (int64_t c = 0; c < C; c++) {
        double a = p[0]->data[c] / sqrt(p[3]->data[c] + eps);
        double b = p[1]->data[c] - p[2]->data[c] * a;
        for (int64_t n = 0; n < N; n++) {
            const double *in = x->data + (n * C + c) * len;
            double *o = y->data + (n * C + c) * len;
            for (int64_t i = 0; i < len; i++)
                o[i] = a * in[i] + b;
        }
    }
}

/* ---- data movement --------------------------------------------------------------------------- */

static void transpose(const hg_transpose_attr *t, const hg_ndarray *x, hg_ndarray *y) {
    int r = x->rank;
    int64_t perm[HG_MAX_RANK], xs[HG_MAX_RANK], st[HG_MAX_RANK];
    for (int i = 0; i < r; i++)
        perm[i] = t->rank ? t->perm[i] : r - 1 - i;
    int64_t acc = 1;
    for (int i = r - 1; i >= 0; i--) {
        xs[i] = acc;
        acc *= x->dims[i];
    }
    for (int i = 0; i < r; i++)
        st[i] = xs[perm[i]]; /* input stride of output axis i */
    int64_t idx[HG_MAX_RANK] = {0};
    for (size_t o = 0; o < y->size; o++) {
        int64_t off = 0;
        for (int i = 0; i < r; i++)
            off += idx[i] * st[i];
        y->data[o] = x->data[off];
        for (int i = r - 1; i >= 0; i--) {
            if (++idx[i] < y->dims[i])
                break;
            idx[i] = 0;
        }
    }
}

static void concat(int64_t axis, const hg_ndarray *const *in, size_t n_in, hg_ndarray *y) {
    int r = y->rank;
    int64_t ax = axis < 0 ? axis + r : axis;
    int64_t outer = prod(y->dims, 0, (int)ax), inner = prod(y->dims, (int)ax + 1, r);
    int64_t yrow = y->dims[ax] * inner, pos = 0;
    for (size_t k = 0; k < n_in; k++) {
        int64_t row = in[k]->dims[ax] * inner;
        for (int64_t o = 0; o < outer; o++)
            memcpy(y->data + o * yrow + pos, in[k]->data + o * row, (size_t)row * sizeof(double));
        pos += row;
    }
}

static void pad(const hg_pad_attr *p, const hg_ndarray *x, hg_ndarray *y) {
    int r = y->rank;
    for (size_t i = 0; i < y->size; i++)
        y->data[i] = p->value;
    if (x->size == 0 || y->size == 0)
        return;
    int64_t xs[HG_MAX_RANK], acc = 1;
    for (int i = r - 1; i >= 0; i--) {
        xs[i] = acc;
        acc *= x->dims[i];
    }
    /* For each output row (all axes but the last), find the input row, then copy the overlap
     * of the last axis. */
    int64_t inner = r ? y->dims[r - 1] : 1, rows = (int64_t)y->size / inner;
    int64_t idx[HG_MAX_RANK] = {0};
    for (int64_t row = 0; row < rows; row++) {
        bool inside = true;
        int64_t off = 0;
        for (int d = 0; d < r - 1; d++) {
            int64_t i = idx[d] - p->pads[d];
            if (i < 0 || i >= x->dims[d]) {
                inside = false;
                break;
            }
            off += i * xs[d];
        }
        if (inside) {
            int64_t b = r ? p->pads[r - 1] : 0;
            for (int64_t j = 0; j < inner; j++) {
                int64_t i = j - b;
                if (i >= 0 && i < (r ? x->dims[r - 1] : 1))
                    y->data[row * inner + j] = x->data[off + i];
            }
        }
        for (int d = r - 2; d >= 0; d--) {
            if (++idx[d] < y->dims[d])
                break;
            idx[d] = 0;
        }
    }
}

/* ---- dispatch ----------------------------------------------------------------------------------
 */

hg_status hg_plain_eval_node(const hg_graph *g, const hg_node *n, const hg_ndarray *const *in,
                             hg_ndarray **out) {
    *out = NULL;
    hg_shape shapes[16], *sp[16];
    const hg_shape **sin = (const hg_shape **)sp;
    hg_shape *heap = NULL;
    const hg_shape **hsin = NULL;
    if (n->n_inputs > 16) {
        heap = malloc(n->n_inputs * sizeof *heap);
        hsin = malloc(n->n_inputs * sizeof *hsin);
        if (!heap || !hsin) {
            free(heap);
            free(hsin);
            return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
        }
        sin = hsin;
    }
    hg_shape *sh = heap ? heap : shapes;
    for (size_t k = 0; k < n->n_inputs; k++) {
        if (n->inputs[k] >= 0 && in[k]) {
            sh[k] = shape_of(in[k]);
            sin[k] = &sh[k];
        } else if (n->inputs[k] >= 0) {
            /* int64 operands (shapes) are not passed as arrays: use the value's shape. */
            sin[k] = &g->values[n->inputs[k]].shape;
        } else {
            sin[k] = NULL;
        }
    }
    hg_shape os;
    hg_window_attr w;
    hg_status s = hg_node_infer_shape(g, n, sin, &w, &os);
    free(heap);
    free(hsin);
    HG_TRY(s);
    hg_ndarray *y;
    HG_TRY(hg_ndarray_new(os.rank, os.dims, &y));
    const hg_ndarray *x = in[0];
    switch (n->op) {
    case HG_OP_IDENTITY:
    case HG_OP_DROPOUT:
    case HG_OP_FLATTEN:
    case HG_OP_RESHAPE:
    case HG_OP_RELU:
    case HG_OP_RELU6:
    case HG_OP_CLIP:
    case HG_OP_LEAKYRELU:
    case HG_OP_SIGMOID:
    case HG_OP_TANH:
    case HG_OP_SQUARE:
        unary(n, x, y);
        break;
    case HG_OP_SOFTMAX:
        softmax(n, x, y);
        break;
    case HG_OP_ADD:
        binary(BIN_ADD, x, in[1], y);
        break;
    case HG_OP_SUB:
        binary(BIN_SUB, x, in[1], y);
        break;
    case HG_OP_MUL:
        binary(BIN_MUL, x, in[1], y);
        break;
    case HG_OP_DIV:
        binary(BIN_DIV, x, in[1], y);
        break;
    case HG_OP_POW:
        binary(BIN_POW, x, in[1], y);
        break;
    case HG_OP_MIN:
        if (n->n_inputs == 1) {
            memcpy(y->data, x->data, x->size * sizeof(double));
            break;
        }
        binary(BIN_MIN, x, in[1], y);
        for (size_t k = 2; k < n->n_inputs; k++) {
            /* y has the final broadcast shape, so min(y, in[k]) keeps it. */
            binary(BIN_MIN, y, in[k], y);
        }
        break;
    case HG_OP_CONV:
        conv(&w, x, in[1], n->n_inputs > 2 ? in[2] : NULL, y);
        break;
    case HG_OP_AVERAGEPOOL:
    case HG_OP_MAXPOOL:
        pool(n->op, &w, x, y);
        break;
    case HG_OP_GLOBALAVERAGEPOOL:
        global_avg(x, y);
        break;
    case HG_OP_GEMM:
        gemm(&n->attr.gemm, x, in[1], n->n_inputs > 2 ? in[2] : NULL, y);
        break;
    case HG_OP_MATMUL:
        matmul(x, in[1], y);
        break;
    case HG_OP_BATCHNORM:
        batchnorm(n->attr.bn_epsilon, x, in + 1, y);
        break;
    case HG_OP_TRANSPOSE:
        transpose(&n->attr.transpose, x, y);
        break;
    case HG_OP_CONCAT:
        concat(n->attr.axis, in, n->n_inputs, y);
        break;
    case HG_OP_PAD:
        pad(&n->attr.pad, x, y);
        break;
    case HG_OP_COUNT:
        break;
    }
    *out = y;
    return HG_OK;
}
