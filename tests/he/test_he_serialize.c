/* Cipher tensors and activation requests across the wire: round trips, pieces, and hostile
 * buffers (truncated, oversized, corrupted, inconsistent requests). */
#include "graph_build.h"

#include "he/he.h"

#include <stdlib.h>
#include <string.h>

static hg_ckks_params *P;
static hg_ckks_ctx *C;
static hg_ckks_sk *SK;
static hg_he_client *CL;

static int setup(void **state) {
    (void)state;
    hg_ckks_params_lit lit = {.log_n = 10, .n_primes = 4, .bits = {45, 30, 30, 50},
                              .n_special = 1, .scale = 0x1p30, .insecure = true};
    if (hg_ckks_params_new(&lit, &P) || hg_ckks_ctx_new(P, &C) || hg_ckks_sk_new(C, &SK) ||
        hg_he_client_new(C, SK, false, 1, &CL))
        return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    hg_he_client_free(CL);
    hg_ckks_sk_free(SK);
    hg_ckks_ctx_free(C);
    hg_ckks_params_free(P);
    return 0;
}

static hg_ndarray *batch_of(int64_t b, int64_t c, int64_t h, int64_t w, uint64_t stream) {
    hg_test_rng r;
    hg_test_rng_init(&r, stream);
    int64_t d[4] = {b, c, h, w};
    return tg_random_array(4, d, 3.0, &r);
}

static void test_tensor_round_trip(void **state) {
    (void)state;
    hg_ndarray *x = batch_of(5, 2, 3, 3, 1);
    hg_he_tensor *t, *back, *part, *whole;
    hg_assert_ok(hg_he_client_encrypt(CL, x, &t));
    size_t len = hg_he_tensor_size_bytes(t), w;
    uint8_t *buf = malloc(len + 16);
    hg_assert_ok(hg_he_tensor_write(t, buf, len, &w));
    assert_int_equal(w, len);
    hg_assert_ok(hg_he_tensor_read(C, buf, len, 0, &back));
    hg_ndarray *y;
    hg_assert_ok(hg_he_client_decrypt(CL, back, &y));
    for (size_t i = 0; i < x->size; i++)
        hg_assert_close(y->data[i], x->data[i], 1e-5);
    hg_ndarray_free(y);
    hg_he_tensor_free(back);
    /* The limit on ciphertexts. */
    hg_assert_fails(hg_he_tensor_read(C, buf, len, 17, &back), HG_ERR_LIMIT, "limit is 17");
    /* Truncated, oversized, corrupted. */
    for (size_t cut = 0; cut < len; cut += cut < 200 ? 1 : 1013)
        assert_int_not_equal(hg_he_tensor_read(C, buf, cut, 0, &back), HG_OK);
    hg_assert_fails(hg_he_tensor_read(C, buf, len + 16, 0, &back), HG_ERR_FORMAT, "payload");
    uint8_t save = buf[16];
    buf[16] = 0xff; /* rank */
    hg_assert_fails(hg_he_tensor_read(C, buf, len, 0, &back), HG_ERR_FORMAT, "rank");
    buf[16] = save;
    /* A count that the bytes cannot hold is refused before allocating. */
    uint64_t huge = 1 << 20;
    memcpy(buf + 16 + 4 + 8 * 3, &huge, 8); /* the last dimension */
    hg_assert_fails(hg_he_tensor_read(C, buf, len, 0, &back), HG_ERR_FORMAT, "announced");
    /* Pieces: slice then paste back into an empty tensor. */
    hg_shape shape;
    hg_he_tensor_shape(t, &shape);
    hg_assert_ok(hg_he_tensor_new_empty(C, &shape, hg_he_tensor_level(t), 2,
                                        hg_he_tensor_scale(t), false, &whole));
    for (size_t from = 0; from < 18; from += 7) {
        size_t n = 18 - from < 7 ? 18 - from : 7;
        hg_assert_ok(hg_he_tensor_slice(t, from, n, &part));
        hg_assert_ok(hg_he_tensor_paste(whole, from, part));
        hg_he_tensor_free(part);
    }
    hg_assert_ok(hg_he_client_decrypt(CL, whole, &y));
    for (size_t i = 0; i < x->size; i++)
        hg_assert_close(y->data[i], x->data[i], 1e-5);
    hg_ndarray_free(y);
    hg_assert_fails(hg_he_tensor_slice(t, 10, 9, &part), HG_ERR_INVALID_ARG, "[10, 19)");
    hg_assert_ok(hg_he_tensor_slice(t, 0, 4, &part));
    hg_assert_fails(hg_he_tensor_paste(whole, 15, part), HG_ERR_PROTOCOL, "does not fit");
    hg_he_tensor_free(part);
    hg_he_tensor_free(whole);
    free(buf);
    hg_he_tensor_free(t);
    hg_ndarray_free(x);
}

static void test_activation_requests(void **state) {
    (void)state;
    hg_ndarray *x = batch_of(4, 1, 4, 4, 2);
    hg_he_tensor *t, *out;
    hg_assert_ok(hg_he_client_encrypt(CL, x, &t));
    hg_he_activation a = {.op = HG_OP_MAXPOOL, .group = 1, .n_spatial = 2,
                          .kernel = {2, 2}, .strides = {2, 2}, .dilations = {1, 1}};
    a.in_shape = (hg_shape){.rank = 4, .dims = {4, 1, 4, 4}};
    a.out_shape = (hg_shape){.rank = 4, .dims = {4, 1, 2, 2}};
    uint8_t buf[1024];
    size_t w;
    assert_true(hg_he_activation_size() <= sizeof buf);
    hg_assert_ok(hg_he_activation_write(&a, buf, sizeof buf, &w));
    hg_he_activation b;
    hg_assert_ok(hg_he_activation_read(buf, w, &b));
    assert_int_equal(b.op, HG_OP_MAXPOOL);
    assert_int_equal(b.kernel[1], 2);
    hg_assert_ok(hg_he_client_activate(CL, &b, t, &out));
    hg_ndarray *y;
    hg_assert_ok(hg_he_client_decrypt(CL, out, &y));
    for (int64_t n = 0; n < 4; n++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++) {
                double m = -1e9;
                for (int di = 0; di < 2; di++)
                    for (int dj = 0; dj < 2; dj++) {
                        double v = x->data[n * 16 + (2 * i + di) * 4 + 2 * j + dj];
                        m = v > m ? v : m;
                    }
                hg_assert_close(y->data[n * 4 + i * 2 + j], m, 1e-4);
            }
    hg_ndarray_free(y);
    hg_he_tensor_free(out);
    /* Masked: the maximum of groups of 4 consecutive ciphertexts, then Relu. */
    hg_he_activation mg = {.op = HG_OP_MAXPOOL, .masked = true, .group = 4};
    mg.in_shape = (hg_shape){.rank = 2, .dims = {4, 16}};
    mg.out_shape = (hg_shape){.rank = 2, .dims = {4, 4}};
    hg_assert_ok(hg_he_client_activate(CL, &mg, t, &out));
    assert_int_equal(hg_he_tensor_count(out), 4);
    hg_he_tensor_free(out);
    /* Hostile requests. */
    for (size_t cut = 0; cut < w; cut += 5)
        assert_int_equal(hg_he_activation_read(buf, cut, &b), HG_ERR_FORMAT);
    hg_he_activation bad = a;
    bad.op = HG_OP_CONV;
    hg_assert_fails(hg_he_client_activate(CL, &bad, t, &out), HG_ERR_PROTOCOL, "not one a client");
    bad = a;
    bad.in_shape.dims[2] = 5;
    hg_assert_fails(hg_he_client_activate(CL, &bad, t, &out), HG_ERR_PROTOCOL, "holds 20");
    bad = a;
    bad.out_shape.dims[2] = 3;
    hg_assert_fails(hg_he_client_activate(CL, &bad, t, &out), HG_ERR_PROTOCOL, "output shape");
    bad = mg;
    bad.group = 5;
    hg_assert_fails(hg_he_client_activate(CL, &bad, t, &out), HG_ERR_PROTOCOL, "groups of 5");
    bad = a;
    bad.kernel[0] = 0;
    hg_assert_fails(hg_he_client_activate(CL, &bad, t, &out), HG_ERR_PROTOCOL, "window");
    hg_he_tensor_free(t);
    hg_ndarray_free(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tensor_round_trip),
        cmocka_unit_test(test_activation_requests),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
