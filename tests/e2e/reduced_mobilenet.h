/* The reduced MobileNetV2 (models/mobilenetv2_reduced.onnx) encrypted end to end, for the e2e
 * tests: keys, an in-process client, a random input batch and the plain backend's reference. */
#ifndef HG_TEST_REDUCED_MOBILENET_H
#define HG_TEST_REDUCED_MOBILENET_H

#include "test_common.h"

#include "he/he.h"
#include "hegraph/hg_onnx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct reduced_fixture {
    hg_graph *g;
    hg_ckks_params *p;
    hg_ckks_ctx *ctx;
    hg_ckks_sk *sk;
    hg_ckks_pk *pk;
    hg_he_client *cl;
    hg_ndarray *x, *want; /* the input batch, uniform in [-amp, amp], and the plain output */
} reduced_fixture;

static inline void reduced_setup(reduced_fixture *f, const hg_ckks_params_lit *lit,
                                 int64_t batch, uint64_t seed, double amp) {
    const char *src = getenv("HG_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/models/mobilenetv2_reduced.onnx", src ? src : ".");
    hg_assert_ok(hg_onnx_load_file(path, &f->g));
    hg_assert_ok(hg_graph_optimize(f->g, batch));
    hg_assert_ok(hg_ckks_params_new(lit, &f->p));
    hg_assert_ok(hg_ckks_ctx_new(f->p, &f->ctx));
    hg_assert_ok(hg_ckks_sk_new(f->ctx, &f->sk));
    hg_assert_ok(hg_ckks_pk_new(f->ctx, f->sk, &f->pk));
    hg_assert_ok(hg_he_client_new(f->ctx, f->sk, true, 0, &f->cl));
    hg_shape in_shape;
    hg_graph_input_shape(f->g, 0, &in_shape, NULL);
    in_shape.dims[0] = batch;
    hg_assert_ok(hg_ndarray_new(in_shape.rank, in_shape.dims, &f->x));
    hg_test_rng r;
    hg_test_rng_init(&r, seed);
    for (size_t i = 0; i < f->x->size; i++)
        f->x->data[i] = hg_test_rng_uniform(&r, -amp, amp);
    const hg_ndarray *in[1] = {f->x};
    hg_assert_ok(hg_plain_run(f->g, in, 1, &f->want));
}

/* One encrypted run with options o (re-randomized requests: the public key is given); returns
 * the largest error over the largest |reference|, and the plan's and the run's statistics. */
static inline double reduced_run(reduced_fixture *f, const hg_he_opts *o, hg_he_plan_stats *st,
                                 size_t *predicted, hg_he_run_stats *rs) {
    hg_he_model *m;
    hg_assert_ok(hg_he_model_new(f->g, f->ctx, o, (size_t)f->x->dims[0], &m));
    hg_he_model_stats(m, st);
    *predicted = hg_he_model_peak_bytes(m);
    hg_he_tensor *t, *out;
    hg_assert_ok(hg_he_client_encrypt(f->cl, f->x, &t));
    hg_he_run_opts ro = {.client = (hg_he_client_fn)hg_he_client_activate,
                         .client_user = f->cl, .pk = f->pk};
    hg_assert_ok(hg_he_run(m, NULL, NULL, &t, 1, &ro, &out, rs));
    hg_ndarray *y;
    hg_assert_ok(hg_he_client_decrypt(f->cl, out, &y));
    double worst = 0, top = 0;
    for (size_t i = 0; i < y->size; i++) {
        worst = fmax(worst, fabs(y->data[i] - f->want->data[i]));
        top = fmax(top, fabs(f->want->data[i]));
    }
    hg_ndarray_free(y);
    hg_he_tensor_free(t);
    hg_he_tensor_free(out);
    hg_he_model_free(m);
    return worst / fmax(top, 1e-300);
}

static inline void reduced_teardown(reduced_fixture *f) {
    hg_ndarray_free(f->want);
    hg_ndarray_free(f->x);
    hg_he_client_free(f->cl);
    hg_ckks_pk_free(f->pk);
    hg_ckks_sk_free(f->sk);
    hg_ckks_ctx_free(f->ctx);
    hg_ckks_params_free(f->p);
    hg_graph_free(f->g);
}

#endif
