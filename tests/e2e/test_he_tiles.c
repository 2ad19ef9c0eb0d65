/*
 * Tiled regions: a reduced MobileNetV2 (inverted residual blocks with ReLU6) runs encrypted
 * with its blocks in tiles of channels and untiled; both agree with the plain backend, the tiled
 * plan predicts less memory and makes more (smaller) client round trips.
 */
#include "test_common.h"

#include "he/he.h"
#include "hegraph/hg_onnx.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_tiles(void **state) {
    (void)state;
    const char *src = getenv("HG_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/models/mobilenetv2_reduced.onnx", src ? src : ".");
    hg_graph *g;
    hg_assert_ok(hg_onnx_load_file(path, &g));
    const int64_t batch = 3;
    hg_assert_ok(hg_graph_optimize(g, batch));
    /* insecure test parameters: N = 1024, three 30-bit levels */
    hg_ckks_params_lit lit = {.log_n = 10, .n_primes = 5, .bits = {40, 30, 30, 30, 50},
                              .n_special = 1, .scale = 0x1p30, .insecure = true};
    hg_ckks_params *p;
    hg_ckks_ctx *ctx;
    hg_ckks_sk *sk;
    hg_ckks_pk *pk;
    hg_he_client *cl;
    hg_assert_ok(hg_ckks_params_new(&lit, &p));
    hg_assert_ok(hg_ckks_ctx_new(p, &ctx));
    hg_assert_ok(hg_ckks_sk_new(ctx, &sk));
    hg_assert_ok(hg_ckks_pk_new(ctx, sk, &pk));
    hg_assert_ok(hg_he_client_new(ctx, sk, true, 0, &cl));
    hg_shape in_shape;
    hg_graph_input_shape(g, 0, &in_shape, NULL);
    in_shape.dims[0] = batch;
    hg_ndarray *x;
    hg_assert_ok(hg_ndarray_new(in_shape.rank, in_shape.dims, &x));
    hg_test_rng r;
    hg_test_rng_init(&r, 70);
    for (size_t i = 0; i < x->size; i++)
        x->data[i] = hg_test_rng_uniform(&r, -1, 1);
    const hg_ndarray *in[1] = {x};
    hg_ndarray *want;
    hg_assert_ok(hg_plain_run(g, in, 1, &want));

    size_t peak[2], calls[2];
    for (int tiled = 0; tiled <= 1; tiled++) {
        hg_he_opts o;
        hg_he_opts_default(&o);
        o.complex_packing = true;
        o.tile_bytes = tiled ? (size_t)1 << 20 : SIZE_MAX / 4;
        hg_he_model *m;
        hg_assert_ok(hg_he_model_new(g, ctx, &o, (size_t)batch, &m));
        hg_he_plan_stats st;
        hg_he_model_stats(m, &st);
        peak[tiled] = hg_he_model_peak_bytes(m);
        calls[tiled] = st.client_calls;
        hg_he_tensor *t, *out;
        hg_assert_ok(hg_he_client_encrypt(cl, x, &t));
        hg_he_run_opts ro = {.client = (hg_he_client_fn)hg_he_client_activate,
                             .client_user = cl, .pk = pk};
        hg_he_run_stats rs;
        hg_assert_ok(hg_he_run(m, NULL, NULL, &t, 1, &ro, &out, &rs));
        hg_ndarray *y;
        hg_assert_ok(hg_he_client_decrypt(cl, out, &y));
        double worst = 0, top = 0;
        for (size_t i = 0; i < y->size; i++) {
            worst = fmax(worst, fabs(y->data[i] - want->data[i]));
            top = fmax(top, fabs(want->data[i]));
        }
        print_message("# %s: %zu client round trips, predicted peak %.1f MB, run peak %.1f MB, "
                      "max error %.2e of %.2e\n",
                      tiled ? "tiled" : "untiled", st.client_calls, (double)peak[tiled] / 1e6,
                      (double)rs.peak_bytes / 1e6, worst, top);
        assert_true(worst < 1e-2 * fmax(1, top));
        hg_ndarray_free(y);
        hg_he_tensor_free(t);
        hg_he_tensor_free(out);
        hg_he_model_free(m);
    }
    assert_true(calls[1] > calls[0]);
    assert_true(peak[1] < peak[0]);
    hg_ndarray_free(want);
    hg_ndarray_free(x);
    hg_he_client_free(cl);
    hg_ckks_pk_free(pk);
    hg_ckks_sk_free(sk);
    hg_ckks_ctx_free(ctx);
    hg_ckks_params_free(p);
    hg_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_tiles)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
