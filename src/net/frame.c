/*
 * Sockets and framing. Every socket is non-blocking, and every wait is a poll() with a bound,
 * so that no peer can hold a thread forever: a peer that stops in the middle of a frame, or
 * stops reading what we write, is a timeout.
 */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- addresses and sockets -------------------------------------------------------------- */

/* Splits "HOST:PORT" or "[HOST]:PORT" into host and port strings. */
static hg_status split_address(const char *address, char *host, size_t host_cap, char *port,
                               size_t port_cap) {
    if (!address || !*address)
        return hg_fail(HG_ERR_INVALID_ARG, "no address given (HOST:PORT)");
    const char *colon = strrchr(address, ':');
    if (!colon || colon == address || !colon[1])
        return hg_fail(HG_ERR_INVALID_ARG, "address '%s' is not HOST:PORT", address);
    const char *h = address;
    size_t hl = (size_t)(colon - address);
    if (h[0] == '[') {
        if (hl < 2 || h[hl - 1] != ']')
            return hg_fail(HG_ERR_INVALID_ARG, "address '%s': unbalanced brackets", address);
        h++;
        hl -= 2;
    }
    if (hl == 0 || hl >= host_cap || strlen(colon + 1) >= port_cap)
        return hg_fail(HG_ERR_INVALID_ARG, "address '%s' is too long or has no host", address);
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return hg_fail(HG_ERR_INVALID_ARG, "address '%s': the port is not a number", address);
    if (atol(colon + 1) > 65535)
        return hg_fail(HG_ERR_INVALID_ARG, "address '%s': port above 65535", address);
    memcpy(host, h, hl);
    host[hl] = 0;
    strcpy(port, colon + 1);
    return HG_OK;
}

static hg_status resolve(const char *address, bool passive, struct addrinfo **res) {
    char host[256], port[16];
    HG_TRY(split_address(address, host, sizeof host, port, sizeof port));
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)};
    int rc = getaddrinfo(host, port, &hints, res);
    if (rc != 0)
        return hg_fail(HG_ERR_IO, "cannot resolve '%s': %s", address, gai_strerror(rc));
    return HG_OK;
}

hg_status net_socket_setup(int fd) {
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return hg_fail(HG_ERR_IO, "cannot make a socket non-blocking: %s", strerror(errno));
    int one = 1;
    /* Small frames (answers to requests, Bye) should leave at once. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return HG_OK;
}

hg_status net_listen(const char *address, int backlog, int *fd_out, int *port_out) {
    struct addrinfo *res;
    HG_TRY(resolve(address, true, &res));
    int fd = -1, err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0)
            break;
        err = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return hg_fail(HG_ERR_IO, "cannot listen on %s: %s", address, strerror(err));
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int port = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                        : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    hg_status s = net_socket_setup(fd);
    if (s != HG_OK) {
        close(fd);
        return s;
    }
    *fd_out = fd;
    *port_out = port;
    return HG_OK;
}

hg_status net_connect(const char *address, int timeout_ms, int *fd_out) {
    struct addrinfo *res;
    HG_TRY(resolve(address, false, &res));
    int fd = -1, err = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (net_socket_setup(fd) == HG_OK) {
            int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
            if (rc == 0)
                break;
            if (errno == EINPROGRESS) {
                struct pollfd p = {.fd = fd, .events = POLLOUT};
                int pr;
                do
                    pr = poll(&p, 1, timeout_ms);
                while (pr < 0 && errno == EINTR);
                int so = ETIMEDOUT;
                socklen_t sl = sizeof so;
                if (pr > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) == 0 && so == 0)
                    break;
                err = pr == 0 ? ETIMEDOUT : so;
            } else
                err = errno;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return hg_fail(err == ETIMEDOUT ? HG_ERR_TIMEOUT : HG_ERR_IO, "cannot connect to %s: %s",
                       address, strerror(err));
    *fd_out = fd;
    return HG_OK;
}

/* ---- raw reads and writes ------------------------------------------------------------------ */

/* Waits for fd to become ready for ev: HG_ERR_TIMEOUT after wait_ms (-1: no bound, but the
 * stop flag is looked at every 100 ms). */
static hg_status wait_ready(int fd, short ev, int wait_ms, const volatile int *stop,
                            const char *what) {
    double t_end = wait_ms >= 0 ? hg_now() + wait_ms / 1e3 : 0;
    for (;;) {
        if (stop && *stop)
            return hg_fail(HG_ERR_IO, "%s: the connection is being closed", what);
        int slice = 100;
        if (wait_ms >= 0) {
            double left = t_end - hg_now();
            if (left <= 0)
                return hg_fail(HG_ERR_TIMEOUT, "%s: nothing for %d ms", what, wait_ms);
            if (left * 1e3 < slice)
                slice = (int)(left * 1e3) + 1;
        }
        struct pollfd p = {.fd = fd, .events = ev};
        int rc = poll(&p, 1, slice);
        if (rc < 0 && errno != EINTR)
            return hg_fail(HG_ERR_IO, "%s: poll: %s", what, strerror(errno));
        if (rc > 0)
            return HG_OK; /* ready, or an error/hang-up that the next call reports */
    }
}

/* Receives up to n bytes: *got = 0 at an orderly close. */
static hg_status recv_some(int fd, uint8_t *p, size_t n, size_t *got, int wait_ms,
                           const volatile int *stop, const char *what) {
    for (;;) {
        ssize_t r = recv(fd, p, n, 0);
        if (r >= 0) {
            *got = (size_t)r;
            return HG_OK;
        }
        if (errno == EINTR)
            continue;
        if (errno == ECONNRESET)
            return hg_fail(HG_ERR_IO, "%s: the connection was closed by the peer (reset)", what);
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return hg_fail(HG_ERR_IO, "%s: the connection failed: %s", what, strerror(errno));
        HG_TRY(wait_ready(fd, POLLIN, wait_ms, stop, what));
    }
}

hg_status net_write_all(int fd, const void *buf, size_t n, int timeout_ms) {
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
            return hg_fail(HG_ERR_IO, "sending: the connection was closed by the peer (%s)",
                           strerror(errno));
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return hg_fail(HG_ERR_IO, "sending: the connection failed: %s", strerror(errno));
        hg_status s = wait_ready(fd, POLLOUT, timeout_ms, NULL, "sending");
        if (s == HG_ERR_TIMEOUT)
            return hg_fail(HG_ERR_TIMEOUT, "the peer has read nothing for %d ms", timeout_ms);
        HG_TRY(s);
    }
    return HG_OK;
}

/* ---- frames -------------------------------------------------------------------------------- */

void net_frame_header(uint8_t out[NET_HEADER_BYTES], uint64_t len) {
    memcpy(out, NET_MAGIC, 3);
    out[3] = HG_NET_VERSION;
    for (int i = 0; i < 8; i++)
        out[4 + i] = (uint8_t)(len >> (8 * i));
}

hg_status net_frame_check(const uint8_t h[NET_HEADER_BYTES], uint64_t max, uint64_t *len) {
    if (memcmp(h, NET_MAGIC, 3) != 0)
        return hg_fail(HG_ERR_PROTOCOL, "frame: bad magic %02x %02x %02x (not a hegraph peer?)",
                       h[0], h[1], h[2]);
    if (h[3] != HG_NET_VERSION)
        return hg_fail(HG_ERR_PROTOCOL, "frame: protocol version %u, this side speaks %u", h[3],
                       HG_NET_VERSION);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)h[4 + i] << (8 * i);
    if (v == 0)
        return hg_fail(HG_ERR_PROTOCOL, "frame: empty body");
    if (v > max)
        return hg_fail(HG_ERR_LIMIT, "frame: %llu bytes announced, the limit is %llu",
                       (unsigned long long)v, (unsigned long long)max);
    *len = v;
    return HG_OK;
}

hg_status net_frame_read(int fd, uint64_t max, int timeout_ms, int idle_ms,
                         const volatile int *stop, net_progress_fn progress, void *user,
                         uint8_t **body_out, uint64_t *len_out, bool *clean) {
    *body_out = NULL;
    *clean = false;
    uint8_t h[NET_HEADER_BYTES];
    size_t have = 0;
    while (have < NET_HEADER_BYTES) {
        size_t got = 0;
        hg_status s = recv_some(fd, h + have, NET_HEADER_BYTES - have, &got,
                                have ? timeout_ms : idle_ms, stop, "receiving a frame header");
        if (s == HG_ERR_TIMEOUT && have)
            return hg_fail(HG_ERR_TIMEOUT,
                           "the peer stalled in a frame header (%zu of %d bytes "
                           "in %d ms)",
                           have, NET_HEADER_BYTES, timeout_ms);
        HG_TRY(s);
        if (got == 0) {
            if (have == 0) {
                *clean = true;
                return hg_fail(HG_ERR_IO, "the peer closed the connection");
            }
            return hg_fail(HG_ERR_PROTOCOL, "truncated frame header: %zu of %d bytes", have,
                           NET_HEADER_BYTES);
        }
        if (progress)
            progress(user, got);
        have += got;
    }
    uint64_t len;
    HG_TRY(net_frame_check(h, max, &len));
    if (len > SIZE_MAX)
        return hg_fail(HG_ERR_LIMIT, "frame: %llu bytes do not fit in memory",
                       (unsigned long long)len);
    uint8_t *body = malloc((size_t)len);
    if (!body)
        return hg_fail(HG_ERR_NOMEM, "frame: cannot allocate %llu bytes", (unsigned long long)len);
    uint64_t at = 0;
    while (at < len) {
        size_t got = 0, want = len - at > (1u << 20) ? (1u << 20) : (size_t)(len - at);
        hg_status s = recv_some(fd, body + at, want, &got, timeout_ms, stop, "receiving a frame");
        if (s == HG_ERR_TIMEOUT)
            s = hg_fail(HG_ERR_TIMEOUT,
                        "the peer stalled in a frame (%llu of %llu bytes, nothing "
                        "for %d ms)",
                        (unsigned long long)at, (unsigned long long)len, timeout_ms);
        else if (s == HG_OK && got == 0)
            s = hg_fail(HG_ERR_PROTOCOL,
                        "truncated frame: the connection closed after %llu of "
                        "%llu bytes",
                        (unsigned long long)at, (unsigned long long)len);
        if (s != HG_OK) {
            free(body);
            return s;
        }
        if (progress)
            progress(user, got);
        at += got;
    }
    *body_out = body;
    *len_out = len;
    return HG_OK;
}

/* A protobuf-c output buffer that writes to the socket through a staging buffer, so that the
 * body is never copied whole: small fields gather, large bytes fields go straight out. */
typedef struct sock_buffer {
    ProtobufCBuffer base;
    int fd, timeout_ms;
    hg_status s;
    size_t n;
    uint8_t stage[1 << 16];
} sock_buffer;

static void sock_flush(sock_buffer *b) {
    if (b->s == HG_OK && b->n)
        b->s = net_write_all(b->fd, b->stage, b->n, b->timeout_ms);
    b->n = 0;
}

static void sock_append(ProtobufCBuffer *base, size_t len, const uint8_t *data) {
    sock_buffer *b = (sock_buffer *)base;
    if (b->s != HG_OK || len == 0) /* an empty bytes field comes with data NULL */
        return;
    if (len > sizeof b->stage / 2) {
        sock_flush(b);
        if (b->s == HG_OK)
            b->s = net_write_all(b->fd, data, len, b->timeout_ms);
        return;
    }
    if (b->n + len > sizeof b->stage)
        sock_flush(b);
    memcpy(b->stage + b->n, data, len);
    b->n += len;
}

hg_status net_frame_write(int fd, const Hgnet__Frame *f, uint64_t max, int timeout_ms,
                          uint64_t *bytes) {
    size_t len = protobuf_c_message_get_packed_size(&f->base);
    if (len > max)
        return hg_fail(HG_ERR_LIMIT, "frame: a %s of %zu bytes is above the limit of %llu",
                       net_frame_name(f), len, (unsigned long long)max);
    sock_buffer *b = malloc(sizeof *b);
    if (!b)
        return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
    b->base.append = sock_append;
    b->fd = fd;
    b->timeout_ms = timeout_ms;
    b->s = HG_OK;
    b->n = NET_HEADER_BYTES;
    net_frame_header(b->stage, len);
    size_t packed = protobuf_c_message_pack_to_buffer(&f->base, &b->base);
    sock_flush(b);
    hg_status s = b->s;
    free(b);
    HG_TRY(s);
    if (packed != len)
        return hg_fail(HG_ERR_INTERNAL, "frame: packed %zu bytes, %zu announced", packed, len);
    *bytes = NET_HEADER_BYTES + len;
    return HG_OK;
}

hg_status net_frame_decode(const uint8_t *body, uint64_t len, Hgnet__Frame **out) {
    *out = hgnet__frame__unpack(NULL, (size_t)len, body);
    if (!*out)
        return hg_fail(HG_ERR_PROTOCOL, "frame: a malformed message of %llu bytes",
                       (unsigned long long)len);
    if ((*out)->msg_case == HGNET__FRAME__MSG__NOT_SET) {
        net_frame_free(*out);
        *out = NULL;
        return hg_fail(HG_ERR_PROTOCOL, "frame: no message in the frame");
    }
    return HG_OK;
}

void net_frame_free(Hgnet__Frame *f) {
    if (f)
        hgnet__frame__free_unpacked(f, NULL);
}

const char *net_frame_name(const Hgnet__Frame *f) {
    switch (f->msg_case) {
    case HGNET__FRAME__MSG_HELLO:
        return "Hello";
    case HGNET__FRAME__MSG_KEYS_AND_INPUT:
        return "KeysAndInput";
    case HGNET__FRAME__MSG_REQUEST:
        return "ActivationRequest";
    case HGNET__FRAME__MSG_ANSWER:
        return "ActivationAnswer";
    case HGNET__FRAME__MSG_OUTPUT:
        return "Output";
    case HGNET__FRAME__MSG_ERROR:
        return "Error";
    case HGNET__FRAME__MSG_BYE:
        return "Bye";
    default:
        return "an unknown message";
    }
}
