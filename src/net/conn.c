/*
 * A connection: a reader thread receives frames while the owner computes or writes, so that
 * both directions of the socket move at once. The reader queues at most NET_QUEUE frames and
 * then stops reading (the peer's writes then wait: backpressure, bounded memory); a hook may
 * consume frames on the reader thread instead (the server pastes answer pieces there, so that
 * it never stops draining the client while it sends).
 *
 * Timeouts: the reader waits without bound between frames (the peer may be computing) but at
 * most timeout_ms inside a frame; the owner, when it waits for a frame or for the hook's work,
 * gives up after timeout_ms without a single byte received between frames.
 */
#include "net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void on_progress(void *user, size_t n) {
    net_conn *c = user;
    pthread_mutex_lock(&c->mu);
    c->last_rx = hg_now();
    c->in_frame = true;
    c->st.bytes_received += n;
    pthread_mutex_unlock(&c->mu);
}

static void reader_fail(net_conn *c, hg_status s) {
    pthread_mutex_lock(&c->mu);
    if (!c->r_done) {
        c->r_done = true;
        c->r_status = s;
        snprintf(c->r_msg, sizeof c->r_msg, "%s", hg_last_error());
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void *reader_main(void *arg) {
    net_conn *c = arg;
    for (;;) {
        uint8_t *body;
        uint64_t len;
        bool clean;
        hg_status s = net_frame_read(c->fd, c->max_frame, c->timeout_ms, -1, &c->stop, on_progress,
                                     c, &body, &len, &clean);
        Hgnet__Frame *f = NULL;
        if (s == HG_OK) {
            s = net_frame_decode(body, len, &f);
            free(body);
        }
        pthread_mutex_lock(&c->mu);
        c->in_frame = false;
        if (s == HG_OK)
            c->st.frames_received++;
        pthread_mutex_unlock(&c->mu);
        if (s == HG_OK && c->hook) {
            bool consumed = false;
            s = c->hook(c->hook_user, f, &consumed);
            if (consumed)
                f = NULL;
        }
        if (s != HG_OK) {
            net_frame_free(f);
            reader_fail(c, s);
            return NULL;
        }
        if (!f) {
            pthread_mutex_lock(&c->mu);
            pthread_cond_broadcast(&c->cv);
            pthread_mutex_unlock(&c->mu);
            continue;
        }
        pthread_mutex_lock(&c->mu);
        while (c->q_n == NET_QUEUE && !c->stop)
            pthread_cond_wait(&c->cv, &c->mu);
        if (c->stop) {
            pthread_mutex_unlock(&c->mu);
            net_frame_free(f);
            return NULL;
        }
        c->queue[(c->q_head + c->q_n) % NET_QUEUE] = f;
        c->q_n++;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
}

hg_status net_conn_init(net_conn *c, int fd, int timeout_ms, uint64_t max_frame, net_hook_fn hook,
                        void *hook_user) {
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : HG_NET_DEFAULT_SERVER_TIMEOUT_MS;
    c->max_frame = max_frame ? max_frame : HG_NET_DEFAULT_MAX_FRAME;
    c->hook = hook;
    c->hook_user = hook_user;
    c->last_rx = hg_now();
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    hg_status s = net_socket_setup(fd);
    if (s == HG_OK && pthread_create(&c->reader, NULL, reader_main, c) != 0)
        s = hg_fail(HG_ERR_INTERNAL, "cannot start a reader thread");
    if (s != HG_OK) {
        close(fd);
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        c->fd = -1;
        return s;
    }
    c->reader_started = true;
    return HG_OK;
}

void net_conn_abort(net_conn *c) {
    c->broken = true;
    if (c->fd >= 0)
        shutdown(c->fd, SHUT_RDWR);
}

void net_conn_clear(net_conn *c) {
    if (c->fd < 0 && !c->reader_started)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (c->fd >= 0)
        shutdown(c->fd, SHUT_RDWR);
    if (c->reader_started)
        pthread_join(c->reader, NULL);
    c->reader_started = false;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    for (size_t i = 0; i < c->q_n; i++)
        net_frame_free(c->queue[(c->q_head + i) % NET_QUEUE]);
    c->q_n = 0;
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}

/* Waits on the condition until the deadline: timeout_ms after the later of the wait's start
 * and the last byte received. Call with the lock held; HG_ERR_TIMEOUT when it passed. */
static hg_status timed_wait(net_conn *c, double start) {
    double last = c->last_rx > start ? c->last_rx : start;
    double deadline = last + c->timeout_ms / 1e3, now = hg_now();
    /* Inside a frame the reader keeps time itself, and names the stall better. */
    if (now >= deadline && !c->in_frame)
        return hg_fail(HG_ERR_TIMEOUT, "the peer sent nothing for %d ms", c->timeout_ms);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double wait = deadline - now;
    if (wait > 0.25)
        wait = 0.25; /* wake up to look at the clock and the flags again */
    long ns = ts.tv_nsec + (long)(wait * 1e9);
    ts.tv_sec += ns / 1000000000L;
    ts.tv_nsec = ns % 1000000000L;
    pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    return HG_OK;
}

static hg_status reader_status(net_conn *c) {
    return hg_fail(c->r_status, "%s", c->r_msg);
}

hg_status net_conn_recv(net_conn *c, Hgnet__Frame **out) {
    *out = NULL;
    double start = hg_now();
    hg_status s = HG_OK;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        if (c->q_n > 0) {
            *out = c->queue[c->q_head];
            c->q_head = (c->q_head + 1) % NET_QUEUE;
            c->q_n--;
            pthread_cond_broadcast(&c->cv);
            break;
        }
        if (c->r_done) {
            s = reader_status(c);
            break;
        }
        if ((s = timed_wait(c, start)) != HG_OK)
            break;
    }
    pthread_mutex_unlock(&c->mu);
    return s;
}

hg_status net_conn_wait(net_conn *c, bool (*done)(void *user), void *user) {
    double start = hg_now();
    hg_status s = HG_OK;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        if (done(user))
            break;
        if (c->r_done) {
            s = reader_status(c);
            break;
        }
        if (c->q_n > 0) {
            s = hg_fail(HG_ERR_PROTOCOL, "the peer sent %s in the middle of an exchange",
                        net_frame_name(c->queue[c->q_head]));
            break;
        }
        if ((s = timed_wait(c, start)) != HG_OK)
            break;
    }
    pthread_mutex_unlock(&c->mu);
    return s;
}

void net_conn_signal(net_conn *c) {
    pthread_cond_broadcast(&c->cv);
}

hg_status net_conn_send(net_conn *c, const Hgnet__Frame *f) {
    if (c->broken)
        return hg_fail(HG_ERR_IO, "the connection is closed");
    uint64_t bytes = 0;
    hg_status s = net_frame_write(c->fd, f, c->max_frame, c->timeout_ms, &bytes);
    if (s != HG_OK && s != HG_ERR_LIMIT) {
        c->broken = true;
        return s;
    }
    HG_TRY(s);
    pthread_mutex_lock(&c->mu);
    c->st.bytes_sent += bytes;
    c->st.frames_sent++;
    pthread_mutex_unlock(&c->mu);
    return HG_OK;
}

void net_conn_send_error(net_conn *c, hg_status s, const char *msg) {
    if (c->broken || c->fd < 0)
        return;
    char text[NET_MAX_MESSAGE];
    snprintf(text, sizeof text, "%s", msg ? msg : "");
    Hgnet__Error e = HGNET__ERROR__INIT;
    e.code = (uint32_t)s;
    e.message = text;
    Hgnet__Frame f = HGNET__FRAME__INIT;
    f.msg_case = HGNET__FRAME__MSG_ERROR;
    f.error = &e;
    /* A short bound: the session is failing, a peer that does not read gets nothing. */
    uint64_t bytes;
    int save = c->timeout_ms < 2000 ? c->timeout_ms : 2000;
    if (net_frame_write(c->fd, &f, c->max_frame, save, &bytes) != HG_OK)
        c->broken = true;
}
