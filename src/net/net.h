/*
 * net: internal definitions of the client-aided protocol: sockets, framing, and a connection
 * with a reader thread.
 *
 * A frame is "HGN" + version (4 bytes), the body length (8 bytes, little-endian), then the body,
 * one protobuf-c hgnet.Frame (hegraph.proto). The length is checked against the limit before
 * anything is allocated. Sockets are non-blocking and every wait goes through poll() with the
 * connection's timeout, so that a peer that stops sending or reading ends the session with
 * HG_ERR_TIMEOUT instead of a hang.
 */
#ifndef HG_NET_INTERNAL_H
#define HG_NET_INTERNAL_H

#include "hegraph/hg_net.h"
#include "net/hegraph.pb-c.h"
#include "util/util.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_MAGIC        "HGN"
#define NET_HEADER_BYTES 12
/* Frames queued by a reader thread before it stops reading (backpressure on the peer). */
#define NET_QUEUE 4
/* Longest error message carried in an Error frame. */
#define NET_MAX_MESSAGE 512

/* ---- sockets ------------------------------------------------------------------------------- */

/* Parses "HOST:PORT" ("[v6]:PORT" too) and resolves numerically (and "localhost"). */
hg_status net_listen(const char *address, int backlog, int *fd, int *port) HG_WUR;
hg_status net_connect(const char *address, int timeout_ms, int *fd) HG_WUR;
/* Makes a socket non-blocking, with TCP_NODELAY where it applies. */
hg_status net_socket_setup(int fd) HG_WUR;

/* ---- framing ----------------------------------------------------------------------------- */

/* Writes the 12-byte header for a body of len bytes. */
void net_frame_header(uint8_t out[NET_HEADER_BYTES], uint64_t len);
/* Checks a header: HG_ERR_PROTOCOL for a bad magic or version, HG_ERR_LIMIT for a length above
 * max (or zero: HG_ERR_PROTOCOL). */
hg_status net_frame_check(const uint8_t h[NET_HEADER_BYTES], uint64_t max, uint64_t *len) HG_WUR;

/* Called with the number of bytes each time some arrive (the reader's progress). */
typedef void (*net_progress_fn)(void *user, size_t n);

/* Reads one frame from a non-blocking socket: the header (an orderly close before its first
 * byte is HG_ERR_IO "closed"; *clean is then true), the checked length, then the body into a
 * new buffer (free with free()). Waits for each chunk at most timeout_ms once the frame has
 * started (HG_ERR_TIMEOUT); before the first byte it waits as long as idle_ms (-1: forever,
 * or until `stop` is set, checked every 100 ms). A close mid-frame is HG_ERR_PROTOCOL
 * "truncated". */
hg_status net_frame_read(int fd, uint64_t max, int timeout_ms, int idle_ms,
                         const volatile int *stop, net_progress_fn progress, void *user,
                         uint8_t **body, uint64_t *len, bool *clean) HG_WUR;
/* Writes all n bytes, waiting at most timeout_ms for each bit of progress. */
hg_status net_write_all(int fd, const void *p, size_t n, int timeout_ms) HG_WUR;

/* Packs and writes one frame (header then body, no intermediate copy of the body). */
hg_status net_frame_write(int fd, const Hgnet__Frame *f, uint64_t max, int timeout_ms,
                          uint64_t *bytes) HG_WUR;
/* Decodes a body: HG_ERR_PROTOCOL when it is not a Frame with one message set. */
hg_status net_frame_decode(const uint8_t *body, uint64_t len, Hgnet__Frame **out) HG_WUR;
void net_frame_free(Hgnet__Frame *f);
/* Name of a frame's message ("Hello", ...), for errors. */
const char *net_frame_name(const Hgnet__Frame *f);

/* ---- connections ----------------------------------------------------------------------------- */

/* A frame hook runs on the reader thread for each frame before it is queued. It returns
 * HG_OK and sets *consumed when it took the frame (the hook then frees it, or keeps it), or a
 * failure that ends the connection. */
typedef hg_status (*net_hook_fn)(void *user, Hgnet__Frame *f, bool *consumed);

typedef struct net_conn {
    int fd;
    int timeout_ms;
    uint64_t max_frame;
    pthread_t reader;
    bool reader_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    Hgnet__Frame *queue[NET_QUEUE];
    size_t q_head, q_n;
    bool r_done; /* the reader has stopped: r_status says why */
    hg_status r_status;
    char r_msg[NET_MAX_MESSAGE];
    double last_rx; /* monotonic time of the last byte received */
    bool in_frame;  /* the reader is inside a frame */
    volatile int stop;
    net_hook_fn hook;
    void *hook_user;
    bool broken; /* a write failed: nothing more may be sent */
    hg_net_stats st;
} net_conn;

/* Takes the socket (closed by net_conn_clear) and starts the reader thread. */
hg_status net_conn_init(net_conn *c, int fd, int timeout_ms, uint64_t max_frame, net_hook_fn hook,
                        void *hook_user) HG_WUR;
/* Stops the reader, closes the socket, frees queued frames. */
void net_conn_clear(net_conn *c);
/* Pops the next frame, waiting while the peer makes progress: HG_ERR_TIMEOUT after
 * timeout_ms without a byte received, or the reader's failure. */
hg_status net_conn_recv(net_conn *c, Hgnet__Frame **out) HG_WUR;
/* Waits until done(user) is true (checked under the connection's lock, after each frame the
 * hook consumes), with the same timeout and failure rules as net_conn_recv. */
hg_status net_conn_wait(net_conn *c, bool (*done)(void *user), void *user) HG_WUR;
/* Wakes waiters (after the hook changed what done() looks at). Call with the lock held. */
void net_conn_signal(net_conn *c);
hg_status net_conn_send(net_conn *c, const Hgnet__Frame *f) HG_WUR;
/* Best effort: an Error frame with status s and message msg. */
void net_conn_send_error(net_conn *c, hg_status s, const char *msg);
/* Shuts the socket down so that both directions stop at once (a failed session). */
void net_conn_abort(net_conn *c);

/* ---- messages ----------------------------------------------------------------------------------
 */

/* An Error frame from the peer as a failure: the peer's code when it is a valid hg_status
 * (HG_ERR_PROTOCOL otherwise) and its message, made printable. */
hg_status net_peer_error(const Hgnet__Error *e, const char *peer) HG_WUR;
/* A shape message into an hg_shape with a leading batch axis of `batch` (0: the message holds
 * the batch axis itself). HG_ERR_PROTOCOL for a rank or dimension out of range. */
hg_status net_shape_read(const Hgnet__Shape *m, int64_t batch, hg_shape *out) HG_WUR;
/* Points m at dims (no copy) for the axes [from, rank). */
void net_shape_view(const hg_shape *s, int from, Hgnet__Shape *m);
size_t net_shape_count(const hg_shape *s, int from);

/* The pieces of one tensor being received, in order. */
typedef struct net_assembly {
    hg_he_tensor *t; /* NULL until the first piece */
    hg_shape shape;  /* batch first */
    size_t count;    /* ciphertexts expected */
    size_t received;
    uint32_t next, n_pieces;
    /* Bound on the tensor's memory when its shape comes from the peer (HG_ERR_LIMIT above,
     * checked before the tensor is allocated with the first piece); 0: none. */
    uint64_t max_bytes;
} net_assembly;

/* Starts an assembly of a tensor of `shape`. */
void net_assembly_init(net_assembly *a, const hg_shape *shape);
/* Reads one piece into the tensor: index, count, offset and batch must continue the
 * assembly; the tensor is created from the first piece's level, scale and packing. */
hg_status net_assembly_add(net_assembly *a, const hg_ckks_ctx *ctx, const Hgnet__Piece *p,
                           const char *what) HG_WUR;
static inline bool net_assembly_complete(const net_assembly *a) {
    return a->t && a->received == a->count;
}
void net_assembly_clear(net_assembly *a);

/* Ciphertexts per piece for a tensor: at most piece_cts, about NET_PIECE_BYTES, and small
 * enough that a piece of ciphertexts of ct_bytes fits in max_frame with room for the message;
 * a multiple of `group` (at least one group). */
size_t net_piece_cts(uint32_t piece_cts, uint64_t max_frame, size_t ct_bytes, size_t group);

/* Target size of a piece, and most pieces serialized at once. */
#define NET_PIECE_BYTES ((size_t)8 << 20)
#define NET_PIECE_GROUP 8

/* Serializes ciphertexts [from, from + n) of t into a new buffer (free with free()). */
hg_status net_tensor_piece(const hg_he_tensor *t, size_t from, size_t n, uint8_t **buf,
                           size_t *len) HG_WUR;

/* Pieces k0 .. k0 + m - 1 of t (per ciphertexts each, the last one shorter), serialized in
 * parallel into new buffers bufs[0..m) (free each with free()); on failure none is left. */
hg_status net_tensor_pieces(const hg_he_tensor *t, size_t per, size_t k0, size_t m, uint8_t **bufs,
                            size_t *lens) HG_WUR;
/* How many pieces to serialize at once: the threads, at most NET_PIECE_GROUP. */
size_t net_piece_group(void);

#endif
