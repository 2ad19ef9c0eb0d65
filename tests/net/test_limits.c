/*
 * Resource limits of what a peer sends, each returning its error before anything is allocated:
 *   - a tensor whose shape the peer announces (an output, an activation request answered whole)
 *     and whose memory would exceed the client's max_tensor_bytes: HG_ERR_LIMIT (a hostile
 *     server once made the client allocate and zero a terabyte with one small piece; the
 *     session is in fuzz/regressions/fuzz_net_client);
 *   - an activation request whose shape holds more than HG_MAX_ELEMENTS elements: HG_ERR_FORMAT
 *     (the product of its dims, each below the bound, could overflow).
 * The other limits have their tests next to the code they guard: the frame size (test_frame.c:
 * a length above the limit is refused from the header alone; test_server.c: a client that
 * announces one), the ciphertexts of a tensor and of a piece (test_he_serialize.c,
 * test_frame.c), read timeouts (test_frame.c, test_server.c: a stalled client), the tensors of
 * a model (tests/onnx/test_limits.c), the elements of a tensor (tests/graph/test_passes.c,
 * tests/onnx/test_loader.c).
 */
#include "test_common.h"

#include "net/net.h"

#include <stdlib.h>
#include <string.h>

static void test_tensor_memory(void **state) {
    (void)state;
    hg_ckks_params_lit lit = {.log_n = 10,
                              .n_primes = 3,
                              .bits = {40, 30, 40},
                              .n_special = 1,
                              .scale = 0x1p30,
                              .insecure = true};
    hg_ckks_params *p;
    hg_net_keys k;
    hg_he_client *hc;
    hg_assert_ok(hg_ckks_params_new(&lit, &p));
    hg_assert_ok(hg_net_keys_generate(p, false, &k));
    hg_assert_ok(hg_he_client_new(k.ctx, k.sk, false, 1, &hc));
    const int64_t dims[2] = {2, 1};
    hg_ndarray *x;
    hg_assert_ok(hg_ndarray_new(2, dims, &x));
    hg_he_tensor *t;
    hg_assert_ok(hg_he_client_encrypt(hc, x, &t));
    uint8_t *buf;
    size_t len;
    hg_assert_ok(net_tensor_piece(t, 0, 1, &buf, &len));
    Hgnet__Piece pc = HGNET__PIECE__INIT;
    pc.count = 1;
    pc.tensor.data = buf;
    pc.tensor.len = len;

    /* 2^20 ciphertexts of 2 components at 2 limbs of N = 1024: 32 GiB. */
    hg_shape big = {.rank = 2, .dims = {2, 1 << 20}};
    net_assembly a;
    net_assembly_init(&a, &big);
    a.max_bytes = HG_NET_DEFAULT_MAX_TENSOR;
    hg_assert_fails(net_assembly_add(&a, k.ctx, &pc, "encrypted output"), HG_ERR_LIMIT,
                    "encrypted output: 1048576 ciphertexts of 32 KiB, above the limit of 16384 "
                    "MiB for a tensor");
    assert_null(a.t);
    net_assembly_clear(&a);
    /* Under the bound, the same piece starts the assembly. */
    hg_shape fits = {.rank = 2, .dims = {2, 1000}};
    net_assembly_init(&a, &fits);
    a.max_bytes = HG_NET_DEFAULT_MAX_TENSOR;
    pc.count = 1000; /* the first of 1000 pieces of one ciphertext */
    hg_assert_ok(net_assembly_add(&a, k.ctx, &pc, "encrypted output"));
    assert_non_null(a.t);
    net_assembly_clear(&a);
    /* And the option's default is that bound. */
    hg_net_client_opts o;
    hg_net_client_opts_default(&o);
    assert_true(o.max_tensor_bytes == HG_NET_DEFAULT_MAX_TENSOR);

    free(buf);
    hg_he_tensor_free(t);
    hg_ndarray_free(x);
    hg_he_client_free(hc);
    hg_net_keys_clear(&k);
    hg_ckks_params_free(p);
}

static void test_request_elements(void **state) {
    (void)state;
    hg_he_activation a;
    memset(&a, 0, sizeof a);
    a.op = HG_OP_MAXPOOL;
    a.group = 1;
    /* Each dim within HG_MAX_ELEMENTS, the product 2^56. */
    a.in_shape = (hg_shape){.rank = 3, .dims = {2, 1 << 27, 1 << 28}};
    a.out_shape = (hg_shape){.rank = 2, .dims = {2, 1}};
    uint8_t buf[2048];
    size_t w;
    hg_assert_ok(hg_he_activation_write(&a, buf, sizeof buf, &w));
    hg_he_activation back;
    hg_assert_fails(hg_he_activation_read(buf, w, &back), HG_ERR_FORMAT,
                    "more than 268435456 elements");
    a.in_shape = (hg_shape){.rank = 3, .dims = {2, 1 << 13, 1 << 14}};
    hg_assert_ok(hg_he_activation_write(&a, buf, sizeof buf, &w));
    hg_assert_ok(hg_he_activation_read(buf, w, &back));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tensor_memory),
        cmocka_unit_test(test_request_elements),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
