/*
 * The client's side of the wire protocol on untrusted bytes: a real client (hg_net_client, with
 * the fixed keys of fuzz/data) connects to a fake server that sends the input as the server's
 * byte stream (Hello, activation requests in pieces, outputs, Error) while draining whatever
 * the client sends, then half-closes. The client runs one batch of two samples and closes. The
 * first input byte sets the client's options: bit 0 requires masking. The session must end
 * without a crash, a leak or a hang.
 */
#include "fuzz_net.h"

#include <math.h>
#include <pthread.h>

static const hg_ckks_ctx *ctx;
static hg_ckks_sk *sk;
static hg_ckks_pk *pk;
static int lfd, port;
static hg_ndarray *x;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    ctx = fuzz_ctx();
    fuzz_net_keys(ctx, &sk, &pk);
    lfd = fuzz_listen(&port);
    const int64_t d[4] = {2, 1, 1, 2};
    fuzz_check(hg_ndarray_new(4, d, &x), "array");
    for (size_t i = 0; i < x->size; i++)
        x->data[i] = sin((double)i + 1);
    return 0;
}

typedef struct fake_server {
    const uint8_t *data;
    size_t size;
} fake_server;

static void *fake_server_main(void *arg) {
    const fake_server *fs = arg;
    struct pollfd pf = {.fd = lfd, .events = POLLIN};
    if (poll(&pf, 1, 10000) != 1)
        return NULL;
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    fuzz_pump p;
    fuzz_pump_init(&p, fd, 0);
    fuzz_pump_write(&p, fs->data, fs->size);
    fuzz_pump_finish(&p, 20000);
    fuzz_pump_clear(&p);
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    fake_server fs = {.data = data + 1, .size = size - 1};
    pthread_t th;
    if (pthread_create(&th, NULL, fake_server_main, &fs) != 0)
        abort();
    hg_net_client_opts o;
    hg_net_client_opts_default(&o);
    o.timeout_ms = 2000;
    o.max_frame_bytes = 1 << 20;
    o.max_tensor_bytes = 256 << 20; /* below libFuzzer's -malloc_limit_mb */
    o.allow_insecure = true;
    o.require_masked = data[0] & 1;
    o.threads = 1;
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    hg_net_client *c = NULL;
    if (hg_net_client_connect(addr, ctx, sk, pk, NULL, NULL, &o, &c) == HG_OK) {
        const hg_ndarray *in[1] = {x};
        hg_ndarray *out[16] = {0};
        if (hg_net_client_infer(c, in, 1, out, NULL) == HG_OK)
            for (size_t i = 0; i < hg_net_client_server_info(c)->n_outputs; i++)
                hg_ndarray_free(out[i]);
        hg_net_client_close(c);
    }
    pthread_join(th, NULL);
    return 0;
}
