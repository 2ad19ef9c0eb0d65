/*
 * Writes the seed corpus of the harnesses from objects the library itself makes, on the
 * harnesses' parameters (fuzz_common.h):
 *   fuzz_params        the harness set, the CryptoNets and MobileNetV2 sets;
 *   fuzz_ckks_objects  ciphertexts (seeded, public-key, three components, level 0), public,
 *                      relinearization and conjugation keys, a secret key;
 *   fuzz_he            cipher tensors (real and complex packing, fresh and not), requests of
 *                      every op a client answers, a request with its tensor;
 *   fuzz_idx           IDX files of each type code, raw and gzip;
 *   fuzz_tensorproto   TensorProto files of each type;
 *   fuzz_net_server    what a client sends in whole sessions (masked and unmasked servers);
 *   fuzz_net_client    what a server sends in the same sessions.
 * The sessions are recorded through a proxy between a real server and a real client holding the
 * fixed keys of fuzz/data (made here when missing). Models (fuzz_onnx) are copied by
 * scripts/fuzz.sh --seeds.
 *
 * Usage: make_corpus OUT_DIR (normally fuzz/corpus).
 */
#include "fuzz_net.h"

#include "he/he.h"

#include <math.h>
#include <pthread.h>
#include <sys/stat.h>
#include <zlib.h>

static const char *out_dir;

static void write_seed(const char *harness, const char *name, uint8_t prefix, bool has_prefix,
                       const void *data, size_t len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", out_dir, harness);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, harness, name);
    FILE *f = fopen(path, "wb");
    if (!f || (has_prefix && fwrite(&prefix, 1, 1, f) != 1) ||
        (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        fprintf(stderr, "make_corpus: cannot write %s\n", path);
        exit(1);
    }
}

#define SERIALIZE(kind, obj, harness, name, prefix)                                                \
    do {                                                                                           \
        size_t n_ = hg_ckks_##kind##_size_bytes(obj), w_;                                          \
        uint8_t *b_ = malloc(n_);                                                                  \
        fuzz_check(hg_ckks_##kind##_write(obj, b_, n_, &w_), #kind);                               \
        write_seed(harness, name, prefix, true, b_, w_);                                           \
        free(b_);                                                                                  \
    } while (0)

/* ---- parameters and CKKS objects ----------------------------------------------------------- */

static void params_seed(const hg_ckks_params_lit *lit, const char *name, uint8_t prefix) {
    hg_ckks_params *p;
    fuzz_check(hg_ckks_params_new(lit, &p), name);
    size_t n = hg_ckks_params_size(p), w;
    uint8_t *b = malloc(n);
    fuzz_check(hg_ckks_params_write(p, b, n, &w), name);
    write_seed("fuzz_params", name, prefix, true, b, w);
    free(b);
    hg_ckks_params_free(p);
}

static void ckks_seeds(const hg_ckks_ctx *ctx, const hg_ckks_sk *sk, const hg_ckks_pk *pk) {
    hg_ckks_params_lit lit = fuzz_params_lit();
    params_seed(&lit, "insecure_n1024", 1);
    hg_ckks_params_lit cn = {.log_n = 13,
                             .n_primes = 7,
                             .bits = {30, 24, 24, 24, 24, 24, 34},
                             .n_special = 1,
                             .scale = 0x1p24};
    params_seed(&cn, "cryptonets_n8192", 0);
    hg_ckks_params_lit mn = {
        .log_n = 12, .n_primes = 4, .bits = {30, 22, 22, 30}, .n_special = 1, .scale = 0x1p22};
    params_seed(&mn, "mobilenetv2_n4096", 0);
    hg_ckks_params_lit ns = {
        .log_n = 12, .n_primes = 3, .bits = {39, 35, 35}, .n_special = 0, .scale = 0x1p35};
    params_seed(&ns, "no_special_n4096", 0);

    const char *h = "fuzz_ckks_objects";
    hg_ckks_eval *ev;
    hg_ckks_pt *pt;
    hg_ckks_ct *ct, *ct2;
    fuzz_check(hg_ckks_eval_new(ctx, &ev), "evaluator");
    fuzz_check(hg_ckks_pt_new(ctx, &pt), "plaintext");
    fuzz_check(hg_ckks_ct_new(ctx, &ct), "ciphertext");
    fuzz_check(hg_ckks_ct_new(ctx, &ct2), "ciphertext");
    double x[3] = {0.5, -1, 2};
    const int top = hg_ckks_ctx_max_level(ctx);
    fuzz_check(hg_ckks_encode_real(ev, x, 3, top, 0x1p20, pt), "encode");
    fuzz_check(hg_ckks_encrypt_sym(ev, sk, pt, ct), "encrypt");
    SERIALIZE(ct, ct, h, "ct_seeded", 0);
    fuzz_check(hg_ckks_mul(ev, ct, ct, ct2), "multiply");
    SERIALIZE(ct, ct2, h, "ct_three", 0);
    fuzz_check(hg_ckks_encrypt(ev, pk, pt, ct), "encrypt");
    SERIALIZE(ct, ct, h, "ct_public", 0);
    fuzz_check(hg_ckks_drop_level(ev, ct, 0, ct2), "drop");
    SERIALIZE(ct, ct2, h, "ct_level0", 0);
    SERIALIZE(pk, pk, h, "pk", 1);
    hg_ckks_rlk *rlk;
    fuzz_check(hg_ckks_rlk_new(ctx, sk, &rlk), "relinearization key");
    SERIALIZE(rlk, rlk, h, "rlk", 2);
    hg_ckks_gk *gk;
    fuzz_check(hg_ckks_gk_new(ctx, sk, NULL, 0, true, &gk), "conjugation key");
    SERIALIZE(gk, gk, h, "gk_conj", 3);
    hg_ckks_gk_free(gk);
    SERIALIZE(sk, sk, h, "sk", 4);
    hg_ckks_rlk_free(rlk);
    hg_ckks_ct_free(ct);
    hg_ckks_ct_free(ct2);
    hg_ckks_pt_free(pt);
    hg_ckks_eval_free(ev);
}

/* ---- the he layer ------------------------------------------------------------------------------
 */

static uint8_t *tensor_bytes(const hg_he_tensor *t, size_t *len) {
    size_t n = hg_he_tensor_size_bytes(t);
    uint8_t *b = malloc(n);
    fuzz_check(hg_he_tensor_write(t, b, n, len), "tensor");
    return b;
}

static hg_he_tensor *encrypt(hg_he_client *c, int rank, const int64_t *dims) {
    hg_ndarray *x;
    fuzz_check(hg_ndarray_new(rank, dims, &x), "array");
    for (size_t i = 0; i < x->size; i++)
        x->data[i] = cos((double)i) * 2;
    hg_he_tensor *t;
    fuzz_check(hg_he_client_encrypt(c, x, &t), "encrypt");
    hg_ndarray_free(x);
    return t;
}

static void request_seed(const char *name, const hg_he_activation *a, const hg_he_tensor *t) {
    uint8_t buf[2048];
    size_t w;
    fuzz_check(hg_he_activation_write(a, buf, sizeof buf, &w), "request");
    if (!t) {
        write_seed("fuzz_he", name, 1, true, buf, w);
        return;
    }
    size_t tl;
    uint8_t *tb = tensor_bytes(t, &tl);
    uint8_t *all = malloc(w + tl);
    memcpy(all, buf, w);
    memcpy(all + w, tb, tl);
    write_seed("fuzz_he", name, 2, true, all, w + tl);
    free(all);
    free(tb);
}

static hg_he_activation request(hg_op op, bool masked, int rank, const int64_t *in,
                                const int64_t *out) {
    hg_he_activation a;
    memset(&a, 0, sizeof a);
    a.op = op;
    a.masked = masked;
    a.group = 1;
    a.in_shape.rank = a.out_shape.rank = rank;
    memcpy(a.in_shape.dims, in, (size_t)rank * sizeof *in);
    memcpy(a.out_shape.dims, out, (size_t)rank * sizeof *out);
    a.clip_min = -HUGE_VAL;
    a.clip_max = HUGE_VAL;
    return a;
}

static void he_seeds(const hg_ckks_ctx *ctx, const hg_ckks_sk *sk) {
    hg_he_client *real, *cplx;
    fuzz_check(hg_he_client_new(ctx, sk, false, 1, &real), "client");
    fuzz_check(hg_he_client_new(ctx, sk, true, 1, &cplx), "client");
    size_t len;
    uint8_t *b;

    const int64_t d2[2] = {3, 2};
    hg_he_tensor *t = encrypt(real, 2, d2);
    b = tensor_bytes(t, &len);
    write_seed("fuzz_he", "tensor_fresh", 0, true, b, len);
    free(b);
    /* Not fresh any more: c1 travels whole. */
    hg_free(t->seeds);
    t->seeds = NULL;
    b = tensor_bytes(t, &len);
    write_seed("fuzz_he", "tensor_full", 0, true, b, len);
    free(b);
    hg_he_tensor_free(t);
    const int64_t dc[2] = {5, 1};
    t = encrypt(cplx, 2, dc);
    b = tensor_bytes(t, &len);
    write_seed("fuzz_he", "tensor_complex", 0, true, b, len);
    free(b);
    hg_he_tensor_free(t);

    /* Requests answered on a tensor made by the harness. */
    const int64_t flat[2] = {2, 4}, half[2] = {2, 2}, img[4] = {2, 1, 2, 2},
                  pooled[4] = {2, 1, 1, 1}, vec[2] = {2, 3};
    hg_he_activation a = request(HG_OP_RELU, true, 2, flat, flat);
    request_seed("masked_relu", &a, NULL);
    a = request(HG_OP_LEAKYRELU, true, 2, flat, flat);
    a.alpha = 0.1;
    request_seed("masked_leakyrelu", &a, NULL);
    a = request(HG_OP_MAXPOOL, true, 2, flat, half);
    a.group = 2;
    request_seed("masked_maxpool", &a, NULL);
    a = request(HG_OP_RELU, false, 4, img, img);
    request_seed("relu", &a, NULL);
    a = request(HG_OP_CLIP, false, 4, img, img);
    a.clip_min = 0;
    a.clip_max = 6;
    request_seed("clip", &a, NULL);
    a = request(HG_OP_RELU6, false, 2, flat, flat);
    a.clip_min = 0;
    a.clip_max = 6;
    request_seed("relu6", &a, NULL);
    a = request(HG_OP_SIGMOID, false, 2, vec, vec);
    request_seed("sigmoid", &a, NULL);
    a = request(HG_OP_TANH, false, 2, vec, vec);
    request_seed("tanh", &a, NULL);
    a = request(HG_OP_SOFTMAX, false, 2, vec, vec);
    a.axis = 1;
    request_seed("softmax", &a, NULL);
    a = request(HG_OP_SOFTMAX, false, 4, img, img);
    a.axis = 1;
    a.legacy = true;
    request_seed("softmax_legacy", &a, NULL);
    a = request(HG_OP_MAXPOOL, false, 4, img, pooled);
    a.n_spatial = 2;
    a.kernel[0] = a.kernel[1] = 2;
    a.strides[0] = a.strides[1] = 2;
    a.dilations[0] = a.dilations[1] = 1;
    request_seed("maxpool", &a, NULL);

    /* A request with the tensor it comes with. */
    t = encrypt(real, 2, half);
    a = request(HG_OP_RELU, true, 2, half, half);
    request_seed("masked_relu_with_tensor", &a, t);
    hg_he_tensor_free(t);
    t = encrypt(real, 4, img);
    a = request(HG_OP_MAXPOOL, false, 4, img, pooled);
    a.n_spatial = 2;
    a.kernel[0] = a.kernel[1] = 2;
    a.strides[0] = a.strides[1] = 2;
    a.dilations[0] = a.dilations[1] = 1;
    request_seed("maxpool_with_tensor", &a, t);
    hg_he_tensor_free(t);
    hg_he_client_free(real);
    hg_he_client_free(cplx);
}

/* ---- data files ------------------------------------------------------------------------------ */

static void idx_seed(const char *name, uint8_t code, size_t esize, int rank, const uint32_t *dims,
                     bool gzip, uint8_t prefix) {
    size_t count = 1;
    for (int i = 0; i < rank; i++)
        count *= dims[i];
    size_t len = 4 + 4 * (size_t)rank + count * esize;
    uint8_t *raw = calloc(1, len);
    raw[2] = code;
    raw[3] = (uint8_t)rank;
    for (int i = 0; i < rank; i++)
        for (int k = 0; k < 4; k++)
            raw[4 + 4 * i + k] = (uint8_t)(dims[i] >> (24 - 8 * k));
    uint8_t *v = raw + 4 + 4 * rank;
    for (size_t i = 0; i < count; i++) {
        uint64_t bits = i * 37 % 251;
        if (code == 0x0D) {
            float f = (float)i / 3.0f;
            uint32_t u;
            memcpy(&u, &f, 4);
            bits = u;
        } else if (code == 0x0E) {
            double d = (double)i / 7.0;
            memcpy(&bits, &d, 8);
        }
        for (size_t k = 0; k < esize; k++)
            v[i * esize + k] = (uint8_t)(bits >> (8 * (esize - 1 - k)));
    }
    if (!gzip) {
        write_seed("fuzz_idx", name, prefix, true, raw, len);
        free(raw);
        return;
    }
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    uint8_t out[8192];
    if (deflateInit2(&zs, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    zs.next_in = raw;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = sizeof out;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
        abort();
    write_seed("fuzz_idx", name, prefix, true, out, sizeof out - zs.avail_out);
    deflateEnd(&zs);
    free(raw);
}

static void data_seeds(void) {
    const uint32_t images[3] = {3, 4, 4}, labels[1] = {5}, cube[4] = {2, 2, 2, 2};
    idx_seed("images_u8", 0x08, 1, 3, images, false, 0);
    idx_seed("images_u8_first2", 0x08, 1, 3, images, false, 0x82);
    idx_seed("images_u8_gz", 0x08, 1, 3, images, true, 0);
    idx_seed("labels_u8", 0x08, 1, 1, labels, false, 0);
    idx_seed("labels_u8_gz", 0x08, 1, 1, labels, true, 0x81);
    idx_seed("i8", 0x09, 1, 4, cube, false, 0);
    idx_seed("i16", 0x0B, 2, 4, cube, false, 0);
    idx_seed("i32", 0x0C, 4, 1, labels, false, 0);
    idx_seed("f32", 0x0D, 4, 3, images, false, 0);
    idx_seed("f64_gz", 0x0E, 8, 4, cube, true, 0);

    /* TensorProto files through the library's writer. */
    const hg_dtype types[3] = {HG_DTYPE_FLOAT32, HG_DTYPE_FLOAT64, HG_DTYPE_INT64};
    const char *names[3] = {"float", "double", "int64"};
    const int64_t dims[3] = {2, 3, 2};
    for (int k = 0; k < 3; k++) {
        hg_ndarray *a;
        fuzz_check(hg_ndarray_new(k == 2 ? 1 : 3, dims, &a), "array");
        for (size_t i = 0; i < a->size; i++)
            a->data[i] = (double)i - 2.5 * (k != 2);
        char path[1024];
        snprintf(path, sizeof path, "%s/fuzz_tensorproto", out_dir);
        mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/fuzz_tensorproto/written_%s.pb", out_dir, names[k]);
        fuzz_check(hg_onnx_tensor_write_file(path, a, names[k], types[k]), "tensor file");
        hg_ndarray_free(a);
    }
}

/* ---- sessions
 * ------------------------------------------------------------------------------------ */

typedef struct proxy {
    int lfd, server_port;
    uint8_t *c2s, *s2c;
    size_t c2s_len, s2c_len;
} proxy;

static void append(uint8_t **buf, size_t *len, const uint8_t *p, size_t n) {
    *buf = realloc(*buf, *len + n);
    memcpy(*buf + *len, p, n);
    *len += n;
}

/* Forwards one connection both ways, recording each direction, until both have closed. */
static void *proxy_main(void *arg) {
    proxy *px = arg;
    int cfd = accept(px->lfd, NULL, NULL);
    int sfd = fuzz_connect(px->server_port);
    fcntl(sfd, F_SETFL, fcntl(sfd, F_GETFL) & ~O_NONBLOCK);
    bool c_open = true, s_open = true;
    uint8_t buf[1 << 16];
    while (c_open || s_open) {
        struct pollfd p[2] = {{.fd = c_open ? cfd : -1, .events = POLLIN},
                              {.fd = s_open ? sfd : -1, .events = POLLIN}};
        if (poll(p, 2, 10000) <= 0)
            break;
        for (int k = 0; k < 2; k++) {
            if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            int from = k ? sfd : cfd, to = k ? cfd : sfd;
            ssize_t r = recv(from, buf, sizeof buf, 0);
            if (r <= 0) {
                shutdown(to, SHUT_WR);
                if (k)
                    s_open = false;
                else
                    c_open = false;
                continue;
            }
            if (k)
                append(&px->s2c, &px->s2c_len, buf, (size_t)r);
            else
                append(&px->c2s, &px->c2s_len, buf, (size_t)r);
            for (ssize_t off = 0; off < r;) {
                ssize_t w = send(to, buf + off, (size_t)(r - off), MSG_NOSIGNAL);
                if (w <= 0)
                    break;
                off += w;
            }
        }
    }
    close(cfd);
    close(sfd);
    return NULL;
}

static void *server_main(void *arg) {
    fuzz_check(hg_net_server_run(arg), "server");
    return NULL;
}

/* One recorded session: a server for the model (piece_cts ciphertexts per piece), a client
 * that sends one batch of two samples and says Bye. The seeds start with the harnesses'
 * option byte. */
static void session_seed(const hg_he_model *m, const hg_ckks_ctx *ctx, const hg_ckks_sk *sk,
                         const hg_ckks_pk *pk, bool masked, uint32_t piece_cts, const char *name) {
    hg_net_server_opts so;
    hg_net_server_opts_default(&so);
    so.listen = "127.0.0.1:0";
    so.max_clients = 1;
    so.piece_cts = piece_cts;
    so.max_frame_bytes = 1 << 20;
    hg_net_server *srv;
    fuzz_check(hg_net_server_new(m, &so, &srv), "server");
    pthread_t st, pt;
    pthread_create(&st, NULL, server_main, srv);
    proxy px = {.server_port = hg_net_server_port(srv)};
    int port;
    px.lfd = fuzz_listen(&port);
    fcntl(px.lfd, F_SETFL, fcntl(px.lfd, F_GETFL) & ~O_NONBLOCK);
    pthread_create(&pt, NULL, proxy_main, &px);

    hg_net_client_opts co;
    hg_net_client_opts_default(&co);
    co.allow_insecure = true;
    co.threads = 1;
    co.max_frame_bytes = 1 << 20;
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    hg_net_client *c;
    fuzz_check(hg_net_client_connect(addr, ctx, sk, pk, NULL, NULL, &co, &c), "connect");
    const int64_t d[4] = {2, 1, 1, 2};
    hg_ndarray *x, *y = NULL;
    fuzz_check(hg_ndarray_new(4, d, &x), "array");
    for (size_t i = 0; i < x->size; i++)
        x->data[i] = sin((double)i + 1);
    const hg_ndarray *in[1] = {x};
    fuzz_check(hg_net_client_infer(c, in, 1, &y, NULL), "infer");
    hg_ndarray_free(x);
    hg_ndarray_free(y);
    hg_net_client_close(c);
    pthread_join(pt, NULL);
    pthread_join(st, NULL);
    hg_net_server_free(srv);
    close(px.lfd);
    /* Option bytes: the server harness's (bit 0 unmasked, bits 1-2 piece_cts - 1), the client
     * harness's (bit 0 require masking). */
    write_seed("fuzz_net_server", name, (uint8_t)((masked ? 0 : 1) | (piece_cts - 1) << 1), true,
               px.c2s, px.c2s_len);
    write_seed("fuzz_net_client", name, masked ? 1 : 0, true, px.s2c, px.s2c_len);
    free(px.c2s);
    free(px.s2c);
}

static void net_seeds(const hg_ckks_ctx *ctx, const hg_ckks_sk *sk, const hg_ckks_pk *pk) {
    hg_graph *g = fuzz_net_graph();
    hg_he_model *masked = fuzz_net_model(g, ctx, true), *plain = fuzz_net_model(g, ctx, false);
    session_seed(masked, ctx, sk, pk, true, 1, "session_masked");
    session_seed(plain, ctx, sk, pk, false, 1, "session_unmasked");
    hg_he_model_free(masked);
    hg_he_model_free(plain);
    hg_graph_free(g);
}

/* The client's fixed keys: made once, then reused so that the corpus stays valid. */
static void client_keys(const hg_ckks_ctx *ctx, hg_ckks_sk **sk, hg_ckks_pk **pk) {
    FILE *f = fopen(HG_FUZZ_DIR "/data/client_insecure.sk", "rb");
    if (f) {
        fclose(f);
        fuzz_net_keys(ctx, sk, pk);
        return;
    }
    mkdir(HG_FUZZ_DIR "/data", 0755);
    fuzz_check(hg_ckks_sk_new(ctx, sk), "secret key");
    fuzz_check(hg_ckks_pk_new(ctx, *sk, pk), "public key");
    const char *names[2] = {HG_FUZZ_DIR "/data/client_insecure.sk",
                            HG_FUZZ_DIR "/data/client_insecure.pk"};
    for (int k = 0; k < 2; k++) {
        size_t n = k ? hg_ckks_pk_size_bytes(*pk) : hg_ckks_sk_size_bytes(*sk), w;
        uint8_t *b = malloc(n);
        fuzz_check(k ? hg_ckks_pk_write(*pk, b, n, &w) : hg_ckks_sk_write(*sk, b, n, &w), "key");
        f = fopen(names[k], "wb");
        if (!f || fwrite(b, 1, w, f) != w || fclose(f) != 0)
            abort();
        free(b);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus OUT_DIR\n");
        return 2;
    }
    out_dir = argv[1];
    mkdir(out_dir, 0755);
    const hg_ckks_ctx *ctx = fuzz_ctx();
    hg_ckks_sk *sk;
    hg_ckks_pk *pk;
    client_keys(ctx, &sk, &pk);
    ckks_seeds(ctx, sk, pk);
    he_seeds(ctx, sk);
    data_seeds();
    net_seeds(ctx, sk, pk);
    hg_ckks_pk_free(pk);
    hg_ckks_sk_free(sk);
    return 0;
}
