/*
 * Cipher tensors from a hostile peer: a tensor whose header announces fewer components than
 * its ciphertexts carry (a tensor of 2-component ciphertexts holding 3-component ones) is
 * refused with HG_ERR_FORMAT. Read in place, such a ciphertext made the reader grow, and so
 * free, the tensor's own buffer (a double free found by fuzz_net_server; the session is in
 * fuzz/regressions/fuzz_net_server).
 */
#include "test_common.h"

#include "he/he.h"

#include <stdlib.h>
#include <string.h>

static void test_more_components_than_announced(void **state) {
    (void)state;
    hg_ckks_params_lit lit = HG_PARAMS_TEST_INSECURE_N1024_DEPTH1();
    hg_ckks_params *p;
    hg_ckks_ctx *ctx;
    hg_assert_ok(hg_ckks_params_new(&lit, &p));
    hg_assert_ok(hg_ckks_ctx_new(p, &ctx));
    for (size_t count = 1; count <= 2; count++) {
        /* A tensor of 3-component ciphertexts (encryptions of zero), serialized... */
        hg_shape shape = {.rank = 2, .dims = {1, (int64_t)count}};
        hg_he_tensor *t;
        hg_assert_ok(hg_he_tensor_new(ctx, &shape, 1, 3, 0x1p30, false, &t));
        size_t len = hg_he_tensor_size_bytes(t), w;
        uint8_t *buf = malloc(len);
        hg_assert_ok(hg_he_tensor_write(t, buf, len, &w));
        hg_he_tensor *back;
        hg_assert_ok(hg_he_tensor_read(ctx, buf, w, 0, &back));
        hg_he_tensor_free(back);
        /* ...then announced as 2-component: header, shape (rank 2), level, then components. */
        const size_t at = 16 + 4 + 2 * 8 + 4;
        assert_int_equal(buf[at], 3);
        buf[at] = 2;
        hg_assert_fails(hg_he_tensor_read(ctx, buf, w, 0, &back), HG_ERR_FORMAT,
                        "ciphertext 0 has another state");
        assert_null(back);
        free(buf);
        hg_he_tensor_free(t);
    }
    hg_ckks_ctx_free(ctx);
    hg_ckks_params_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_more_components_than_announced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
