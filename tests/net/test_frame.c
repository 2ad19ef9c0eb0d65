/*
 * Framing over a socket pair: a round trip of every message kind, every truncation of a frame,
 * a bad magic and version, an empty and an oversized length (refused from the header alone,
 * before any allocation), a stall inside a frame, a malformed body; then the connection's queue
 * and timeouts, and the assembly of pieces out of order.
 */
#include "test_common.h"

#include "net/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void pair(int fd[2]) {
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
    hg_assert_ok(net_socket_setup(fd[0]));
    hg_assert_ok(net_socket_setup(fd[1]));
}

/* A Hello with every field set, packed into a frame (header included) in a new buffer. */
static uint8_t *hello_frame(size_t *len) {
    static uint8_t params[5] = {1, 2, 3, 4, 5};
    static uint64_t elts[2] = {3, 2047};
    static int64_t dims[3] = {1, 28, 28};
    Hgnet__Shape sh = HGNET__SHAPE__INIT;
    sh.n_dims = 3;
    sh.dims = dims;
    Hgnet__Shape *shapes[1] = {&sh};
    Hgnet__Hello h = HGNET__HELLO__INIT;
    h.version = HG_NET_VERSION;
    h.params.data = params;
    h.params.len = sizeof params;
    h.n_galois_elts = 2;
    h.galois_elts = elts;
    h.n_inputs = h.n_outputs = 1;
    h.inputs = h.outputs = shapes;
    h.max_batch = 512;
    h.masked = true;
    h.piece_cts = 256;
    h.max_frame_bytes = 1 << 30;
    Hgnet__Frame f = HGNET__FRAME__INIT;
    f.msg_case = HGNET__FRAME__MSG_HELLO;
    f.hello = &h;
    size_t body = protobuf_c_message_get_packed_size(&f.base);
    uint8_t *buf = malloc(NET_HEADER_BYTES + body);
    net_frame_header(buf, body);
    protobuf_c_message_pack(&f.base, buf + NET_HEADER_BYTES);
    *len = NET_HEADER_BYTES + body;
    return buf;
}

static hg_status read_one(int fd, uint64_t max, int timeout_ms, Hgnet__Frame **out) {
    uint8_t *body;
    uint64_t len;
    bool clean;
    *out = NULL;
    HG_TRY(net_frame_read(fd, max, timeout_ms, timeout_ms, NULL, NULL, NULL, &body, &len, &clean));
    hg_status s = net_frame_decode(body, len, out);
    free(body);
    return s;
}

static void test_round_trip(void **state) {
    (void)state;
    int fd[2];
    pair(fd);
    /* Written with net_frame_write (streamed), read back. */
    size_t len;
    uint8_t *raw = hello_frame(&len);
    Hgnet__Frame *f;
    hg_assert_ok(net_frame_decode(raw + NET_HEADER_BYTES, len - NET_HEADER_BYTES, &f));
    uint64_t bytes;
    hg_assert_ok(net_frame_write(fd[0], f, 1 << 20, 1000, &bytes));
    assert_int_equal(bytes, len);
    net_frame_free(f);
    hg_assert_ok(read_one(fd[1], 1 << 20, 1000, &f));
    assert_int_equal(f->msg_case, HGNET__FRAME__MSG_HELLO);
    assert_int_equal(f->hello->max_batch, 512);
    assert_int_equal(f->hello->n_galois_elts, 2);
    assert_int_equal(f->hello->galois_elts[1], 2047);
    assert_int_equal(f->hello->inputs[0]->dims[2], 28);
    assert_true(f->hello->masked);
    assert_string_equal(net_frame_name(f), "Hello");
    /* A frame above the sender's limit is not sent. */
    hg_assert_fails(net_frame_write(fd[0], f, 16, 1000, &bytes), HG_ERR_LIMIT, "above the limit");
    net_frame_free(f);
    /* The header: magic, version, little-endian length. */
    assert_memory_equal(raw, "HGN\x01", 4);
    for (int i = 0; i < 8; i++)
        assert_int_equal(raw[4 + i], (uint8_t)((len - NET_HEADER_BYTES) >> (8 * i)));
    free(raw);
    close(fd[0]);
    close(fd[1]);
}

static void test_every_truncation(void **state) {
    (void)state;
    size_t len;
    uint8_t *raw = hello_frame(&len);
    for (size_t cut = 0; cut < len; cut++) {
        int fd[2];
        pair(fd);
        hg_assert_ok(net_write_all(fd[0], raw, cut, 1000));
        close(fd[0]);
        Hgnet__Frame *f;
        hg_status s = read_one(fd[1], 1 << 20, 1000, &f);
        if (cut == 0)
            hg_assert_fails(s, HG_ERR_IO, "closed the connection");
        else if (cut < NET_HEADER_BYTES)
            hg_assert_fails(s, HG_ERR_PROTOCOL, "truncated frame header");
        else
            hg_assert_fails(s, HG_ERR_PROTOCOL, "truncated frame");
        assert_null(f);
        close(fd[1]);
    }
    /* Every truncation of the body given as a whole body: a malformed message, never a crash
     * (required fields missing or a field cut short). */
    for (size_t cut = NET_HEADER_BYTES; cut < len; cut++) {
        Hgnet__Frame *f = NULL;
        hg_status s = net_frame_decode(raw + NET_HEADER_BYTES, cut - NET_HEADER_BYTES, &f);
        assert_int_equal(s, HG_ERR_PROTOCOL);
        assert_null(f);
    }
    free(raw);
}

static void test_bad_headers(void **state) {
    (void)state;
    uint8_t h[NET_HEADER_BYTES];
    uint64_t len;
    net_frame_header(h, 100);
    hg_assert_ok(net_frame_check(h, 100, &len));
    assert_int_equal(len, 100);
    hg_assert_fails(net_frame_check(h, 99, &len), HG_ERR_LIMIT,
                    "100 bytes announced, the limit "
                    "is 99");
    /* The largest length there is: refused from the header, nothing allocated. */
    memset(h + 4, 0xff, 8);
    hg_assert_fails(net_frame_check(h, (uint64_t)1 << 30, &len), HG_ERR_LIMIT, "the limit is");
    net_frame_header(h, 0);
    hg_assert_fails(net_frame_check(h, 100, &len), HG_ERR_PROTOCOL, "empty body");
    net_frame_header(h, 10);
    h[0] = 'X';
    hg_assert_fails(net_frame_check(h, 100, &len), HG_ERR_PROTOCOL, "bad magic");
    net_frame_header(h, 10);
    h[3] = 2;
    hg_assert_fails(net_frame_check(h, 100, &len), HG_ERR_PROTOCOL, "version 2");

    /* The same through a socket: an oversized length ends the read before the body. */
    int fd[2];
    pair(fd);
    net_frame_header(h, (uint64_t)1 << 62);
    hg_assert_ok(net_write_all(fd[0], h, sizeof h, 1000));
    Hgnet__Frame *f;
    hg_assert_fails(read_one(fd[1], 1 << 20, 1000, &f), HG_ERR_LIMIT, "the limit is 1048576");
    /* A body that is not a Frame, and a Frame with no message. */
    net_frame_header(h, 3);
    hg_assert_ok(net_write_all(fd[0], h, sizeof h, 1000));
    hg_assert_ok(net_write_all(fd[0], "\x0a\xff\x01", 3, 1000));
    hg_assert_fails(read_one(fd[1], 1 << 20, 1000, &f), HG_ERR_PROTOCOL, "malformed");
    hg_assert_fails(net_frame_decode((const uint8_t *)"\x40\x01", 2, &f), HG_ERR_PROTOCOL,
                    "no message");
    close(fd[0]);
    close(fd[1]);
}

static void test_stalls(void **state) {
    (void)state;
    int fd[2];
    pair(fd);
    Hgnet__Frame *f;
    /* Nothing at all, then half a header, then a header and half a body. */
    hg_assert_fails(read_one(fd[1], 1 << 20, 100, &f), HG_ERR_TIMEOUT, "nothing for 100 ms");
    uint8_t h[NET_HEADER_BYTES];
    net_frame_header(h, 50);
    hg_assert_ok(net_write_all(fd[0], h, 5, 1000));
    hg_assert_fails(read_one(fd[1], 1 << 20, 100, &f), HG_ERR_TIMEOUT, "stalled in a frame header");
    close(fd[0]);
    close(fd[1]);
    pair(fd);
    hg_assert_ok(net_write_all(fd[0], h, sizeof h, 1000));
    hg_assert_ok(net_write_all(fd[0], "abc", 3, 1000));
    hg_assert_fails(read_one(fd[1], 1 << 20, 100, &f), HG_ERR_TIMEOUT,
                    "stalled in a frame (3 of 50");
    /* A peer that reads nothing: the writer gives up. */
    static uint8_t big[1 << 20];
    hg_status s = HG_OK;
    for (int i = 0; i < 64 && s == HG_OK; i++)
        s = net_write_all(fd[0], big, sizeof big, 100);
    hg_assert_fails(s, HG_ERR_TIMEOUT, "read nothing for 100 ms");
    close(fd[0]);
    close(fd[1]);
}

static void test_connection(void **state) {
    (void)state;
    int fd[2];
    pair(fd);
    net_conn c;
    hg_assert_ok(net_conn_init(&c, fd[1], 150, 1 << 20, NULL, NULL));
    Hgnet__Frame *f;
    /* Silence: a timeout. */
    hg_assert_fails(net_conn_recv(&c, &f), HG_ERR_TIMEOUT, "nothing for 150 ms");
    /* Frames arrive in order, more than the queue holds. */
    for (uint32_t i = 0; i < 2 * NET_QUEUE; i++) {
        Hgnet__Error e = HGNET__ERROR__INIT;
        e.code = HG_ERR_LIMIT;
        char msg[32];
        snprintf(msg, sizeof msg, "number %u\x01", i);
        e.message = msg;
        Hgnet__Frame out = HGNET__FRAME__INIT;
        out.msg_case = HGNET__FRAME__MSG_ERROR;
        out.error = &e;
        uint64_t bytes;
        hg_assert_ok(net_frame_write(fd[0], &out, 1 << 20, 1000, &bytes));
    }
    for (uint32_t i = 0; i < 2 * NET_QUEUE; i++) {
        hg_assert_ok(net_conn_recv(&c, &f));
        assert_int_equal(f->msg_case, HGNET__FRAME__MSG_ERROR);
        char want[32];
        snprintf(want, sizeof want, "number %u?", i);
        hg_assert_fails(net_peer_error(f->error, "server"), HG_ERR_LIMIT, want);
        net_frame_free(f);
    }
    /* An orderly close: reported once the queue is empty. */
    close(fd[0]);
    hg_assert_fails(net_conn_recv(&c, &f), HG_ERR_IO, "closed the connection");
    net_conn_clear(&c);
}

static void test_assembly(void **state) {
    (void)state;
    hg_ckks_params_lit lit = HG_PARAMS_TEST_INSECURE_N1024_DEPTH1();
    hg_net_keys k;
    hg_ckks_params *p;
    hg_assert_ok(hg_ckks_params_new(&lit, &p));
    hg_assert_ok(hg_net_keys_generate(p, false, &k));
    hg_he_client *hc;
    hg_assert_ok(hg_he_client_new(k.ctx, k.sk, false, 1, &hc));
    int64_t dims[2] = {3, 10};
    hg_ndarray *x;
    hg_assert_ok(hg_ndarray_new(2, dims, &x));
    for (size_t i = 0; i < x->size; i++)
        x->data[i] = (double)i / 7;
    hg_he_tensor *t;
    hg_assert_ok(hg_he_client_encrypt(hc, x, &t));
    uint8_t *b[3];
    size_t len[3];
    for (int i = 0; i < 3; i++)
        hg_assert_ok(net_tensor_piece(t, (size_t)i * 4, i == 2 ? 2 : 4, &b[i], &len[i]));
    Hgnet__Piece pc[3];
    for (int i = 0; i < 3; i++) {
        hgnet__piece__init(&pc[i]);
        pc[i].index = (uint32_t)i;
        pc[i].count = 3;
        pc[i].offset = (uint64_t)i * 4;
        pc[i].tensor.data = b[i];
        pc[i].tensor.len = len[i];
    }
    hg_shape shape = {.rank = 2, .dims = {3, 10}};
    net_assembly a;
    /* Out of order, a wrong offset, a wrong count, too many ciphertexts. */
    net_assembly_init(&a, &shape);
    hg_assert_fails(net_assembly_add(&a, k.ctx, &pc[1], "test"), HG_ERR_PROTOCOL,
                    "expected piece 0");
    pc[0].offset = 1;
    hg_assert_fails(net_assembly_add(&a, k.ctx, &pc[0], "test"), HG_ERR_PROTOCOL,
                    "expected piece 0 at 0");
    pc[0].offset = 0;
    hg_assert_ok(net_assembly_add(&a, k.ctx, &pc[0], "test"));
    pc[1].count = 4;
    hg_assert_fails(net_assembly_add(&a, k.ctx, &pc[1], "test"), HG_ERR_PROTOCOL, "piece 1 of 4");
    pc[1].count = 3;
    hg_assert_ok(net_assembly_add(&a, k.ctx, &pc[1], "test"));
    assert_false(net_assembly_complete(&a));
    hg_assert_ok(net_assembly_add(&a, k.ctx, &pc[2], "test"));
    assert_true(net_assembly_complete(&a));
    hg_ndarray *y;
    hg_assert_ok(hg_he_client_decrypt(hc, a.t, &y));
    for (size_t i = 0; i < x->size; i++)
        hg_assert_close(y->data[i], x->data[i], 1e-5);
    hg_ndarray_free(y);
    net_assembly_clear(&a);
    /* A tensor smaller than its pieces: the limit on ciphertexts. */
    hg_shape small = {.rank = 2, .dims = {3, 3}};
    net_assembly_init(&a, &small);
    hg_assert_fails(net_assembly_add(&a, k.ctx, &pc[0], "test"), HG_ERR_LIMIT, "the limit is 3");
    net_assembly_clear(&a);
    /* Pieces: sizes fit the frame limit and the groups. */
    assert_int_equal(net_piece_cts(256, (uint64_t)1 << 30, 10000, 1), 256);
    assert_int_equal(net_piece_cts(256, (uint64_t)1 << 30, 10000, 9), 252);
    assert_int_equal(net_piece_cts(256, (uint64_t)1 << 30, NET_PIECE_BYTES / 100, 1), 100);
    assert_int_equal(net_piece_cts(256, (1 << 20) + (64 << 10), 100000, 1), 10);
    assert_int_equal(net_piece_cts(256, 1 << 10, 100000, 4), 4);
    for (int i = 0; i < 3; i++)
        free(b[i]);
    hg_he_tensor_free(t);
    hg_ndarray_free(x);
    hg_he_client_free(hc);
    hg_net_keys_clear(&k);
    hg_ckks_params_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),  cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_bad_headers), cmocka_unit_test(test_stalls),
        cmocka_unit_test(test_connection),  cmocka_unit_test(test_assembly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
