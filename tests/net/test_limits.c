/*
 * Resource limits of what a peer sends, each returning its error before anything is allocated:
 *   - a tensor whose shape the peer announces (an output, an activation request answered whole)
 *     and whose memory would exceed the client's max_tensor_bytes: HG_ERR_LIMIT (a hostile
 *     server once made the client allocate and zero a terabyte with one small piece; the
 *     session is in fuzz/regressions/fuzz_net_client);
 *   - an activation request whose shape holds more than HG_MAX_ELEMENTS elements: HG_ERR_FORMAT
 *     (the product of its dims, each below the bound, could overflow);
 *   - a client that sends a batch larger than the model's: the server ends the session with
 *     HG_ERR_LIMIT and tells the client why.
 * The other limits have their tests next to the code they guard: the frame size (test_frame.c:
 * a length above the limit is refused from the header alone; test_server.c: a client that
 * announces one), the ciphertexts of a tensor and of a piece (test_he_serialize.c,
 * test_frame.c), read timeouts (test_frame.c, test_server.c: a stalled client), the tensors of
 * a model (tests/onnx/test_limits.c), the elements of a tensor (tests/graph/test_passes.c,
 * tests/onnx/test_loader.c).
 */
#include "graph_build.h"

#include "net/net.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_tensor_memory(void **state) {
    (void)state;
    hg_ckks_params_lit lit = HG_PARAMS_TEST_INSECURE_N1024_DEPTH1();
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

static void *serve(void *arg) {
    hg_assert_ok(hg_net_server_run(arg));
    return NULL;
}

static void test_server_batch(void **state) {
    (void)state;
    hg_ckks_params_lit lit = HG_PARAMS_TEST_INSECURE_N1024_DEPTH1();
    hg_ckks_params *p;
    hg_net_keys k;
    hg_assert_ok(hg_ckks_params_new(&lit, &p));
    hg_assert_ok(hg_net_keys_generate(p, false, &k));
    /* x (B, 2) -> Relu, for batches of up to 4. */
    hg_graph *g;
    hg_assert_ok(hg_graph_new(&g));
    const int64_t d[2] = {4, 2};
    int64_t x = tg_input(g, "x", 2, d);
    hg_assert_ok(hg_graph_add_output(g, tg_node(g, HG_OP_RELU, "relu", &x, 1, NULL)));
    hg_assert_ok(hg_graph_optimize(g, 4));
    hg_he_opts ho;
    hg_he_opts_default(&ho);
    ho.threads = 1;
    hg_he_model *m;
    hg_assert_ok(hg_he_model_new(g, k.ctx, &ho, 4, &m));
    hg_net_server_opts so;
    hg_net_server_opts_default(&so);
    so.listen = "127.0.0.1:0";
    so.max_clients = 1;
    so.timeout_ms = 5000;
    hg_net_server *srv;
    hg_assert_ok(hg_net_server_new(m, &so, &srv));
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, serve, srv), 0);

    /* A client by hand: Hello, then keys and an input of a batch of 5. */
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", hg_net_server_port(srv));
    int fd;
    hg_assert_ok(net_connect(addr, 5000, &fd));
    hg_assert_ok(net_socket_setup(fd));
    uint8_t *body;
    uint64_t len;
    bool clean;
    hg_assert_ok(net_frame_read(fd, 1 << 20, 5000, 5000, NULL, NULL, NULL, &body, &len, &clean));
    free(body);
    size_t pk_len = hg_ckks_pk_size_bytes(k.pk), w;
    uint8_t *pk = malloc(pk_len);
    hg_assert_ok(hg_ckks_pk_write(k.pk, pk, pk_len, &w));
    int64_t dims[2] = {5, 2};
    Hgnet__Shape sh = HGNET__SHAPE__INIT;
    sh.n_dims = 2;
    sh.dims = dims;
    Hgnet__Piece pc = HGNET__PIECE__INIT;
    pc.count = 1;
    Hgnet__KeysAndInput ki = HGNET__KEYS_AND_INPUT__INIT;
    ki.has_public_key = true;
    ki.public_key.data = pk;
    ki.public_key.len = w;
    ki.shape = &sh;
    ki.piece = &pc;
    Hgnet__Frame f = HGNET__FRAME__INIT;
    f.msg_case = HGNET__FRAME__MSG_KEYS_AND_INPUT;
    f.keys_and_input = &ki;
    uint64_t sent;
    hg_assert_ok(net_frame_write(fd, &f, 1 << 20, 5000, &sent));
    free(pk);
    /* The server's answer: an Error that says why. */
    hg_assert_ok(net_frame_read(fd, 1 << 20, 5000, 5000, NULL, NULL, NULL, &body, &len, &clean));
    Hgnet__Frame *e;
    hg_assert_ok(net_frame_decode(body, len, &e));
    free(body);
    assert_int_equal(e->msg_case, HGNET__FRAME__MSG_ERROR);
    hg_assert_fails(net_peer_error(e->error, "server"), HG_ERR_LIMIT,
                    "a batch of 5, the server takes 1 to 4");
    net_frame_free(e);
    close(fd);
    pthread_join(th, NULL);
    hg_net_server_free(srv);
    hg_he_model_free(m);
    hg_graph_free(g);
    hg_net_keys_clear(&k);
    hg_ckks_params_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tensor_memory),
        cmocka_unit_test(test_request_elements),
        cmocka_unit_test(test_server_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
