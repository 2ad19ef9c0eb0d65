/*
 * hegraph net: the client-aided protocol over TCP (docs/protocol.md). A server holds a compiled
 * model and never a secret key; a client holds the keys and the data. A session: the server
 * sends Hello (its parameters and what it needs), the client checks them against its keys and
 * sends its public evaluation keys with the encrypted input of a batch, the server runs the
 * model and sends each activation layer's input to the client in pieces, the client answers each
 * piece with fresh encryptions as soon as it is ready, the server sends the encrypted outputs;
 * further batches reuse the keys; Bye ends the session.
 *
 * Every byte from the socket is untrusted: frames have a maximum size checked before anything is
 * allocated, every field is validated (HG_ERR_PROTOCOL for a message that breaks the protocol,
 * HG_ERR_FORMAT for a malformed object inside one, HG_ERR_LIMIT for one above a limit), and a
 * peer that sends nothing, or reads nothing, for the configured time ends the session with
 * HG_ERR_TIMEOUT. A failing session ends with an Error message to the peer (when the socket
 * still works) and a log entry; the server goes on with the next client.
 *
 * Objects and threads:
 *   hg_net_server  the model, its context and the options; hg_net_server_run serves sessions,
 *                  each on its own thread; hg_net_server_stop may be called from any thread.
 *                  It holds no secret key: only each session's public, relinearization and
 *                  Galois keys, freed when the session ends.
 *   hg_net_client  one session with a server: one thread at a time (it parallelizes inside).
 */
#ifndef HEGRAPH_HG_NET_H
#define HEGRAPH_HG_NET_H

#include "hegraph/hg_ckks.h"
#include "hegraph/hg_common.h"
#include "hegraph/hg_graph.h"
#include "hegraph/hg_he.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Protocol version, sent in every frame header and in Hello. */
#define HG_NET_VERSION 1
/* Defaults of the options below. */
#define HG_NET_DEFAULT_MAX_FRAME         ((uint64_t)1 << 30)
#define HG_NET_DEFAULT_PIECE_CTS         256
#define HG_NET_DEFAULT_SERVER_TIMEOUT_MS 60000
#define HG_NET_DEFAULT_CLIENT_TIMEOUT_MS 600000
#define HG_NET_DEFAULT_MAX_TENSOR ((uint64_t)16 << 30)

/* ---- logging ----------------------------------------------------------------------------------
 */

typedef enum hg_net_log_level {
    HG_NET_LOG_INFO,  /* a session started or ended normally, with its figures */
    HG_NET_LOG_ERROR, /* a session ended with an error, or the server could not accept */
} hg_net_log_level;

/* Called by the server from its threads (possibly several at once: the callee locks if it
 * needs to). session is 1, 2, ... in the order clients were accepted (0: the accept loop);
 * status is HG_OK for information; msg is one line without a newline. */
typedef void (*hg_net_log_fn)(void *user, hg_net_log_level level, uint64_t session,
                              hg_status status, const char *msg);

/* Traffic and time of a session (or a batch), as one side saw it. */
typedef struct hg_net_stats {
    uint64_t bytes_sent, bytes_received; /* frames, headers included */
    uint64_t frames_sent, frames_received;
    uint64_t requests;        /* activation requests (one round trip each) */
    uint64_t masked_requests; /* of which masked */
    uint64_t batches, samples;
    double server_seconds; /* the server's computing time (hg_he_run_stats.server_seconds) */
    double client_seconds; /* the client's computing time: encrypt, answer, decrypt */
    double wall_seconds;
} hg_net_stats;

/* Adds b into a. */
HG_API void hg_net_stats_add(hg_net_stats *a, const hg_net_stats *b);

/* ---- the server --------------------------------------------------------------------------------
 */

typedef struct hg_net_server_opts {
    const char *listen;       /* "HOST:PORT", e.g. "127.0.0.1:7000"; port 0: any free port */
    int max_sessions;         /* sessions served at once (default 4); more clients wait */
    uint64_t max_clients;     /* return after this many sessions (0: run until stopped) */
    int timeout_ms;           /* silence that ends a session (default 60 s) */
    uint64_t max_frame_bytes; /* largest frame accepted (default 1 GiB) */
    uint32_t piece_cts;       /* ciphertexts per piece (default 256) */
    hg_net_log_fn log;        /* optional */
    void *log_user;
    /* Called after each session with its figures (optional; from the session's thread). */
    void (*on_session)(void *user, uint64_t session, hg_status status, const hg_net_stats *st);
    void *session_user;
} hg_net_server_opts;

HG_API void hg_net_server_opts_default(hg_net_server_opts *o);

typedef struct hg_net_server hg_net_server;

/* A server for a compiled model (borrowed: the model, its graph and its context must outlive
 * the server). Hello announces the model's parameters, packing, masking (hg_he_opts.masking),
 * largest batch, input and output shapes and the keys its plan needs. Binds and listens on
 * o->listen: HG_ERR_INVALID_ARG for an address that is not HOST:PORT ("[v6]:PORT" for IPv6),
 * HG_ERR_IO naming the address when it cannot be bound. */
HG_API hg_status hg_net_server_new(const hg_he_model *m, const hg_net_server_opts *o,
                                   hg_net_server **out) HG_WUR;
/* Stops listening, waits for running sessions to end, frees. NULL is a no-op. */
HG_API void hg_net_server_free(hg_net_server *s);
/* The port the server listens on (useful with port 0). */
HG_API int hg_net_server_port(const hg_net_server *s);
/* Accepts clients and serves each on its own thread, at most max_sessions at once, until
 * hg_net_server_stop or max_clients sessions; then waits for the running sessions and
 * returns HG_OK. A session's failure is logged, never returned. */
HG_API hg_status hg_net_server_run(hg_net_server *s) HG_WUR;
/* Asks hg_net_server_run to return (from any thread; running sessions finish first). */
HG_API void hg_net_server_stop(hg_net_server *s);

/* ---- the client
 * ------------------------------------------------------------------------------------ */

typedef struct hg_net_client_opts {
    int timeout_ms;           /* silence that ends the session (default 10 min) */
    uint64_t max_frame_bytes; /* largest frame accepted (default 1 GiB) */
    /* Largest tensor whose shape the server sets that the client assembles in memory (an
     * output, an activation request answered whole), in bytes (default 16 GiB); larger ones
     * end the session with HG_ERR_LIMIT before anything is allocated. */
    uint64_t max_tensor_bytes;
    bool allow_insecure;      /* accept parameters below the security table: tests only */
    bool require_masked;      /* refuse unmasked activation requests */
    int threads;              /* for decryption and encryption (0: all cores) */
} hg_net_client_opts;

HG_API void hg_net_client_opts_default(hg_net_client_opts *o);

/* What the server announced in Hello. */
typedef struct hg_net_server_info {
    size_t n_inputs, n_outputs;
    hg_shape inputs[16], outputs[16]; /* per sample: without the batch axis */
    size_t max_batch;
    bool masked, complex_packing, need_relin;
    size_t n_galois;
    uint32_t piece_cts;
} hg_net_server_info;

typedef struct hg_net_client hg_net_client;

/* Connects to "HOST:PORT", receives Hello and checks it: the server's parameters must be
 * exactly those of ctx (the keys' parameters) and, unless o->allow_insecure, at least 128-bit
 * secure (HG_ERR_PARAMS otherwise, and the server is told why). rlk and gk may be NULL: keys
 * the server asks for and that are not given are generated from sk. The client borrows ctx,
 * sk and pk; it never sends sk. */
HG_API hg_status hg_net_client_connect(const char *address, const hg_ckks_ctx *ctx,
                                       const hg_ckks_sk *sk, const hg_ckks_pk *pk,
                                       const hg_ckks_rlk *rlk, const hg_ckks_gk *gk,
                                       const hg_net_client_opts *o, hg_net_client **out) HG_WUR;
HG_API const hg_net_server_info *hg_net_client_server_info(const hg_net_client *c);
/* One batch: encrypts the inputs (one array per model input, axis 0 the batch, at most
 * max_batch), sends them (with the keys, the first time), answers the activation requests,
 * receives and decrypts the outputs into new arrays outputs[0 .. n_outputs). stats (optional)
 * receives this batch's figures. On failure the session is over: close the client. */
HG_API hg_status hg_net_client_infer(hg_net_client *c, const hg_ndarray *const *inputs,
                                     size_t n_inputs, hg_ndarray **outputs,
                                     hg_net_stats *stats) HG_WUR;
/* The session's figures so far. */
HG_API void hg_net_client_stats(const hg_net_client *c, hg_net_stats *st);
/* Observes each activation request the client answers, decrypted, before the client applies
 * anything: for tests and audits of what the client learns. Called once per piece: values
 * holds batch * count doubles, sample-major, for ciphertexts [offset, offset + count) of
 * request number `request` (1, 2, ...), whose whole form is act. Optional; called from the
 * client's thread. */
typedef void (*hg_net_observe_fn)(void *user, uint64_t request, const hg_he_activation *act,
                                  size_t offset, const double *values, size_t batch, size_t count);
HG_API void hg_net_client_set_observer(hg_net_client *c, hg_net_observe_fn fn, void *user);
/* Sends Bye (if the session is still good), closes and frees. NULL is a no-op. */
HG_API void hg_net_client_close(hg_net_client *c);

/* ---- key directories
 * ------------------------------------------------------------------------------- */

/* A client's parameters and keys, as `hegraph keygen` writes them to a directory:
 *   params.bin      hg_ckks_params_write
 *   secret.key      hg_ckks_sk_write; created with O_EXCL and mode 0600
 *   public.key      hg_ckks_pk_write
 *   relin.key       hg_ckks_rlk_write
 *   galois.key      hg_ckks_gk_write (conjugation), when made with conjugation */
typedef struct hg_net_keys {
    hg_ckks_ctx *ctx; /* its parameters: hg_ckks_ctx_params */
    hg_ckks_sk *sk;
    hg_ckks_pk *pk;
    hg_ckks_rlk *rlk;
    hg_ckks_gk *gk; /* NULL unless conjugation was asked for */
} hg_net_keys;

/* A context for p (copied) and fresh keys: secret, public, relinearization and, if conjugation,
 * the conjugation key. */
HG_API hg_status hg_net_keys_generate(const hg_ckks_params *p, bool conjugation,
                                      hg_net_keys *out) HG_WUR;
/* Writes the files into dir (created with mode 0700 if missing). HG_ERR_IO when a file exists
 * already (keys are never overwritten) or cannot be written. */
HG_API hg_status hg_net_keys_save(const hg_net_keys *k, const char *dir) HG_WUR;
/* Reads a directory. HG_ERR_IO when a file is missing or the secret key is readable or
 * writable by group or others (the message says to chmod 600 it); HG_ERR_PARAMS for insecure
 * parameters unless allow_insecure; HG_ERR_FORMAT for a file that is malformed or made with
 * other parameters. Files are bounded (HG_ERR_LIMIT above 4 GiB). */
HG_API hg_status hg_net_keys_load(const char *dir, bool allow_insecure, hg_net_keys *out) HG_WUR;
/* Frees (the secret key is wiped) and zeroes. */
HG_API void hg_net_keys_clear(hg_net_keys *k);

#ifdef __cplusplus
}
#endif
#endif
