/*
 * Shared by the network harnesses (fuzz_net_server.c, fuzz_net_client.c) and the corpus
 * generator: the small model served, the client's fixed keys, splitting a byte stream into
 * frames, and a pump that writes one side of a TCP session while draining the other.
 *
 * The model: x (B, 1, 1, 2) -> Conv 1x1 -> Relu -> MaxPool 1x2, on the harnesses' parameters
 * (fuzz_common.h), batches up to 4: a client activation of each kind a client answers piece by
 * piece (Relu, masked MaxPool) or whole (unmasked MaxPool), in sessions small enough for the
 * corpus.
 *
 * The client's keys are fixed (fuzz/data/client_insecure.sk and .pk, written by make_corpus),
 * so that the ciphertexts of the committed sessions decrypt to what they held and a replayed
 * session goes all the way to its outputs.
 */
#ifndef HG_FUZZ_NET_H
#define HG_FUZZ_NET_H

#include "fuzz_common.h"

#include "graph/graph.h"
#include "net/net.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FUZZ_NET_BATCH 4

static inline int64_t fuzz_net_value(hg_graph *g, const char *name, hg_value_kind kind, int rank,
                                     const int64_t *dims) {
    int64_t v;
    fuzz_check(hg_graph_add_value(g, name, kind, HG_DTYPE_FLOAT32, &v), "value");
    if (rank >= 0) {
        g->values[v].shape.rank = rank;
        memcpy(g->values[v].shape.dims, dims, (size_t)rank * sizeof *dims);
        g->values[v].has_shape = true;
    }
    return v;
}

static inline int64_t fuzz_net_const(hg_graph *g, const char *name, int rank, const int64_t *dims,
                                     const double *data, size_t n) {
    int64_t v = fuzz_net_value(g, name, HG_VALUE_CONSTANT, rank, dims);
    fuzz_check(hg_value_set_f64(&g->values[v], data, n), "constant");
    return v;
}

static inline int64_t fuzz_net_node(hg_graph *g, hg_op op, const char *name, const int64_t *in,
                                    size_t n, const hg_node_attr *attr) {
    int64_t out = fuzz_net_value(g, name, HG_VALUE_NODE, -1, NULL);
    fuzz_check(hg_graph_add_node(g, op, name, in, n, out, attr), "node");
    fuzz_check(hg_node_resolve(g, &g->nodes[g->n_nodes - 1], false), "node");
    return out;
}

/* The served graph, optimized for batches of FUZZ_NET_BATCH. */
static inline hg_graph *fuzz_net_graph(void) {
    hg_graph *g;
    fuzz_check(hg_graph_new(&g), "graph");
    const int64_t xd[4] = {FUZZ_NET_BATCH, 1, 1, 2}, wd[4] = {1, 1, 1, 1}, bd[1] = {1};
    int64_t x = fuzz_net_value(g, "x", HG_VALUE_INPUT, 4, xd);
    fuzz_check(hg_graph_add_input(g, x), "input");
    const double w = 0.75, b = 0.125;
    hg_node_attr a;
    hg_node_attr_default(HG_OP_CONV, &a);
    int64_t in[3] = {x, fuzz_net_const(g, "w", 4, wd, &w, 1), fuzz_net_const(g, "b", 1, bd, &b, 1)};
    int64_t y = fuzz_net_node(g, HG_OP_CONV, "conv", in, 3, &a);
    y = fuzz_net_node(g, HG_OP_RELU, "relu", &y, 1, NULL);
    hg_node_attr_default(HG_OP_MAXPOOL, &a);
    a.window.n_spatial = 2;
    a.window.kernel[0] = 1;
    a.window.kernel[1] = 2;
    a.window.strides[0] = a.window.strides[1] = 1;
    a.window.has_kernel = true;
    y = fuzz_net_node(g, HG_OP_MAXPOOL, "maxpool", &y, 1, &a);
    fuzz_check(hg_graph_add_output(g, y), "output");
    fuzz_check(hg_graph_optimize(g, FUZZ_NET_BATCH), "optimize");
    return g;
}

/* The model compiled for ctx, masked or not, one thread. */
static inline hg_he_model *fuzz_net_model(const hg_graph *g, const hg_ckks_ctx *ctx, bool masked) {
    hg_he_opts o;
    hg_he_opts_default(&o);
    o.masking = masked;
    o.threads = 1;
    hg_he_model *m;
    fuzz_check(hg_he_model_new(g, ctx, &o, FUZZ_NET_BATCH, &m), "model");
    return m;
}

/* Reads a whole file into a new buffer; NULL if it cannot. */
static inline uint8_t *fuzz_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        uint8_t *nb = realloc(buf, cap *= 2);
        if (!nb)
            free(buf);
        buf = nb;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* The client's fixed secret and public keys, from fuzz/data. */
static inline void fuzz_net_keys(const hg_ckks_ctx *ctx, hg_ckks_sk **sk, hg_ckks_pk **pk) {
    uint8_t *b;
    size_t n;
    b = fuzz_read_file(HG_FUZZ_DIR "/data/client_insecure.sk", &n);
    if (!b) {
        fprintf(stderr, "fuzz set-up: %s: missing\n", HG_FUZZ_DIR "/data/client_insecure.sk");
        abort();
    }
    fuzz_check(hg_ckks_sk_read(ctx, b, n, sk), "secret key");
    free(b);
    b = fuzz_read_file(HG_FUZZ_DIR "/data/client_insecure.pk", &n);
    if (!b) {
        fprintf(stderr, "fuzz set-up: %s: missing\n", HG_FUZZ_DIR "/data/client_insecure.pk");
        abort();
    }
    fuzz_check(hg_ckks_pk_read(ctx, b, n, pk), "public key");
    free(b);
}

/* Length of the frame at the start of p[0..n) by its own header (header included), or n when
 * the header is not a frame's or the frame runs past the end: the rest then goes as it is. */
static inline size_t fuzz_frame_len(const uint8_t *p, size_t n) {
    if (n < NET_HEADER_BYTES || memcmp(p, NET_MAGIC, 3) != 0)
        return n;
    uint64_t len = 0;
    for (int i = 0; i < 8; i++)
        len |= (uint64_t)p[4 + i] << (8 * i);
    if (len > n - NET_HEADER_BYTES)
        return n;
    return NET_HEADER_BYTES + (size_t)len;
}

/* Whether p[0..n) starts with a whole frame: 1 (its length in *len), 0 when more bytes are
 * needed, -1 when it does not start with a frame header. */
static inline int fuzz_frame_complete(const uint8_t *p, size_t n, size_t *len) {
    if (n < NET_HEADER_BYTES)
        return n >= 3 && memcmp(p, NET_MAGIC, 3) != 0 ? -1 : 0;
    if (memcmp(p, NET_MAGIC, 3) != 0)
        return -1;
    uint64_t body = 0;
    for (int i = 0; i < 8; i++)
        body |= (uint64_t)p[4 + i] << (8 * i);
    if (body > n - NET_HEADER_BYTES)
        return 0;
    *len = NET_HEADER_BYTES + (size_t)body;
    return 1;
}

/* The decoded frame at p (fuzz_frame_len bytes), or NULL. */
static inline Hgnet__Frame *fuzz_frame_decode(const uint8_t *p, size_t len) {
    if (len <= NET_HEADER_BYTES || memcmp(p, NET_MAGIC, 3) != 0)
        return NULL;
    return hgnet__frame__unpack(NULL, len - NET_HEADER_BYTES, p + NET_HEADER_BYTES);
}

/* One side of a session: writes bytes while reading (and keeping, for frame inspection) what the
 * peer sends, so that neither side blocks on a full socket buffer. */
typedef struct fuzz_pump {
    int fd;
    bool peer_closed, write_failed;
    uint8_t *rx; /* received bytes (the first rx_keep of them are kept) */
    size_t rx_len, rx_cap, rx_keep;
    size_t rx_parsed; /* received frames are parsed up to here */
    double last_rx;
} fuzz_pump;

static inline void fuzz_pump_init(fuzz_pump *p, int fd, size_t keep) {
    memset(p, 0, sizeof *p);
    p->fd = fd;
    p->rx_keep = keep;
    p->last_rx = hg_now();
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static inline void fuzz_pump_clear(fuzz_pump *p) {
    free(p->rx);
    close(p->fd);
    memset(p, 0, sizeof *p);
}

/* Reads what is there (without waiting). */
static inline void fuzz_pump_read(fuzz_pump *p) {
    uint8_t tmp[1 << 16];
    while (!p->peer_closed) {
        ssize_t r = recv(p->fd, tmp, sizeof tmp, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            p->peer_closed = true;
            break;
        }
        if (r < 0)
            break;
        p->last_rx = hg_now();
        size_t take = (size_t)r;
        if (p->rx_len + take > p->rx_keep)
            take = p->rx_keep > p->rx_len ? p->rx_keep - p->rx_len : 0;
        if (take) {
            if (p->rx_len + take > p->rx_cap) {
                size_t nc = p->rx_cap ? p->rx_cap : 1 << 16;
                while (nc < p->rx_len + take)
                    nc *= 2;
                uint8_t *nb = realloc(p->rx, nc);
                if (!nb)
                    abort();
                p->rx = nb;
                p->rx_cap = nc;
            }
            memcpy(p->rx + p->rx_len, tmp, take);
            p->rx_len += take;
        }
    }
}

/* Waits up to ms for the socket to be readable (or writable, with want_write). */
static inline void fuzz_pump_wait(fuzz_pump *p, bool want_write, int ms) {
    struct pollfd pf = {.fd = p->fd, .events = (short)(POLLIN | (want_write ? POLLOUT : 0))};
    (void)poll(&pf, 1, ms);
}

/* Writes all n bytes (reading meanwhile); gives up when the peer stops or fails. */
static inline void fuzz_pump_write(fuzz_pump *p, const uint8_t *b, size_t n) {
    while (n > 0 && !p->write_failed) {
        ssize_t w = send(p->fd, b, n, MSG_NOSIGNAL);
        if (w > 0) {
            b += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            p->write_failed = true;
            break;
        }
        fuzz_pump_read(p);
        if (p->peer_closed) {
            p->write_failed = true;
            break;
        }
        fuzz_pump_wait(p, true, 100);
    }
    fuzz_pump_read(p);
}

/* Half-closes, then reads until the peer closes (bounded by ms, a harness safety net). */
static inline void fuzz_pump_finish(fuzz_pump *p, int ms) {
    shutdown(p->fd, SHUT_WR);
    double end = hg_now() + ms / 1e3;
    for (;;) {
        fuzz_pump_read(p);
        if (p->peer_closed || hg_now() > end)
            break;
        fuzz_pump_wait(p, false, 100);
    }
}

/* A TCP listener on 127.0.0.1 at any free port. */
static inline int fuzz_listen(int *port) {
    int fd;
    fuzz_check(net_listen("127.0.0.1:0", 16, &fd, port), "listen");
    return fd;
}

static inline int fuzz_connect(int port) {
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    int fd;
    fuzz_check(net_connect(addr, 5000, &fd), "connect");
    return fd;
}

#endif
