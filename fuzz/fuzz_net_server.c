/*
 * The server's side of the wire protocol on untrusted bytes: a real server (hg_net_server, one
 * session per input, on loopback) receives the input as the client's byte stream: frame headers,
 * protobuf-c bodies, KeysAndInput with keys and cipher tensors in pieces, activation answers,
 * Bye. The first input byte picks the server: bit 0 unmasked (else masked), bits 1-2 the
 * ciphertexts per piece minus one. The session must end (the harness half-closes after the last
 * byte) without a crash, a leak or a hang.
 *
 * Pacing: the input is sent frame by frame (as its own headers delimit them); an activation
 * answer goes only once the server has sent the request it answers, or has been silent for a
 * while, so that a recorded session replays in order instead of racing the server.
 */
#include "fuzz_net.h"

#include <pthread.h>

static const hg_ckks_ctx *ctx;
static hg_graph *graph;
static hg_he_model *models[2]; /* masked, unmasked */

/* How long the harness waits for a request before sending its answer anyway. */
#define QUIET_MS 250

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    ctx = fuzz_ctx();
    graph = fuzz_net_graph();
    models[0] = fuzz_net_model(graph, ctx, true);
    models[1] = fuzz_net_model(graph, ctx, false);
    return 0;
}

static void *server_main(void *arg) {
    fuzz_ignore(hg_net_server_run(arg));
    return NULL;
}

/* The largest request id among the complete frames the server has sent so far. */
static uint64_t requests_seen(fuzz_pump *p, uint64_t seen) {
    while (p->rx_parsed < p->rx_len) {
        const uint8_t *f = p->rx + p->rx_parsed;
        size_t n;
        if (fuzz_frame_complete(f, p->rx_len - p->rx_parsed, &n) != 1)
            break; /* incomplete: wait for more (the server never sends anything else) */
        Hgnet__Frame *fr = fuzz_frame_decode(f, n);
        if (fr && fr->msg_case == HGNET__FRAME__MSG_REQUEST && fr->request->id > seen)
            seen = fr->request->id;
        if (fr)
            hgnet__frame__free_unpacked(fr, NULL);
        p->rx_parsed += n;
    }
    return seen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    hg_net_server_opts o;
    hg_net_server_opts_default(&o);
    o.listen = "127.0.0.1:0";
    o.max_sessions = 1;
    o.max_clients = 1;
    o.timeout_ms = 2000;
    o.max_frame_bytes = 1 << 20;
    o.piece_cts = 1 + ((data[0] >> 1) & 3);
    hg_net_server *srv;
    fuzz_check(hg_net_server_new(models[data[0] & 1], &o, &srv), "server");
    pthread_t th;
    if (pthread_create(&th, NULL, server_main, srv) != 0)
        abort();
    fuzz_pump p;
    fuzz_pump_init(&p, fuzz_connect(hg_net_server_port(srv)), 4 << 20);
    uint64_t seen = 0;
    for (size_t pos = 1; pos < size && !p.write_failed;) {
        size_t n = fuzz_frame_len(data + pos, size - pos);
        Hgnet__Frame *f = fuzz_frame_decode(data + pos, n);
        if (f && f->msg_case == HGNET__FRAME__MSG_ANSWER) {
            const uint64_t id = f->answer->id;
            while ((seen = requests_seen(&p, seen)) < id && !p.peer_closed &&
                   hg_now() - p.last_rx < QUIET_MS / 1e3) {
                fuzz_pump_wait(&p, false, 20);
                fuzz_pump_read(&p);
            }
        }
        if (f)
            hgnet__frame__free_unpacked(f, NULL);
        fuzz_pump_write(&p, data + pos, n);
        pos += n;
    }
    fuzz_pump_finish(&p, 20000);
    fuzz_pump_clear(&p);
    pthread_join(th, NULL);
    hg_net_server_free(srv);
    return 0;
}
