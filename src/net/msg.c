/*
 * Helpers shared by the server and the client for the messages' contents: shapes, Error
 * messages from the peer, tensors sent and received in pieces.
 */
#include "net.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hg_status net_peer_error(const Hgnet__Error *e, const char *peer) {
    char text[NET_MAX_MESSAGE];
    size_t n = 0;
    /* Printable ASCII only: the text ends up in logs and on terminals. */
    for (const char *p = e->message; p && *p && n + 1 < sizeof text; p++)
        text[n++] = *p >= 0x20 && *p < 0x7f ? *p : '?';
    text[n] = 0;
    hg_status code = e->code >= (uint32_t)HG_ERR_INVALID_ARG && e->code <= (uint32_t)HG_ERR_INTERNAL
                         ? (hg_status)e->code
                         : HG_ERR_PROTOCOL;
    return hg_fail(code, "the %s ended the session: %s: %s", peer, hg_status_name(code), text);
}

hg_status net_shape_read(const Hgnet__Shape *m, int64_t batch, hg_shape *out) {
    memset(out, 0, sizeof *out);
    int lead = batch > 0 ? 1 : 0;
    if (!m || m->n_dims + (size_t)lead < 1 || m->n_dims + (size_t)lead > HG_MAX_RANK)
        return hg_fail(HG_ERR_PROTOCOL, "a shape of rank %zu", m ? m->n_dims + (size_t)lead : 0);
    out->rank = (int)m->n_dims + lead;
    if (lead)
        out->dims[0] = batch;
    int64_t total = 1;
    for (size_t d = 0; d < m->n_dims; d++) {
        int64_t v = m->dims[d];
        if (v < 1 || v > HG_MAX_ELEMENTS || total > HG_MAX_ELEMENTS / v)
            return hg_fail(HG_ERR_PROTOCOL, "a shape with dimension %zu of %lld", d, (long long)v);
        total *= v;
        out->dims[d + (size_t)lead] = v;
    }
    return HG_OK;
}

void net_shape_view(const hg_shape *s, int from, Hgnet__Shape *m) {
    hgnet__shape__init(m);
    m->n_dims = s->rank > from ? (size_t)(s->rank - from) : 0;
    m->dims = m->n_dims ? (int64_t *)&s->dims[from] : NULL;
}

size_t net_shape_count(const hg_shape *s, int from) {
    size_t n = 1;
    for (int d = from; d < s->rank; d++)
        n *= (size_t)s->dims[d];
    return n;
}

void net_assembly_init(net_assembly *a, const hg_shape *shape) {
    memset(a, 0, sizeof *a);
    a->shape = *shape;
    a->count = net_shape_count(shape, 1);
}

void net_assembly_clear(net_assembly *a) {
    hg_he_tensor_free(a->t);
    memset(a, 0, sizeof *a);
}

hg_status net_assembly_add(net_assembly *a, const hg_ckks_ctx *ctx, const Hgnet__Piece *p,
                           const char *what) {
    if (!p)
        return hg_fail(HG_ERR_PROTOCOL, "%s: no piece", what);
    if (p->index != a->next || p->count == 0 || p->count > a->count ||
        (a->next > 0 && p->count != a->n_pieces) || p->offset != a->received)
        return hg_fail(HG_ERR_PROTOCOL,
                       "%s: piece %u of %u at ciphertext %llu, expected piece %u "
                       "at %zu",
                       what, p->index, p->count, (unsigned long long)p->offset, a->next,
                       a->received);
    hg_he_tensor *part = NULL;
    hg_status s =
        hg_he_tensor_read(ctx, p->tensor.data, p->tensor.len, a->count - a->received, &part);
    if (s != HG_OK) {
        char why[NET_MAX_MESSAGE];
        snprintf(why, sizeof why, "%s", hg_last_error());
        return hg_fail(s, "%s, piece %u: %s", what, p->index, why);
    }
    hg_shape ps;
    hg_he_tensor_shape(part, &ps);
    if (ps.rank != 2 || ps.dims[0] != a->shape.dims[0]) {
        hg_he_tensor_free(part);
        return hg_fail(HG_ERR_PROTOCOL,
                       "%s, piece %u: shape of rank %d with batch %lld, expected "
                       "(%lld, n)",
                       what, p->index, ps.rank, (long long)ps.dims[0], (long long)a->shape.dims[0]);
    }
    if (!a->t) {
        /* The whole tensor is allocated with its first piece: when its shape comes from the
         * peer, its size is bounded first. */
        const uint64_t ct_bytes = (uint64_t)hg_he_tensor_components(part) *
                                  (uint64_t)(hg_he_tensor_level(part) + 1) *
                                  hg_ckks_params_n(hg_ckks_ctx_params(ctx)) * sizeof(uint64_t);
        if (a->max_bytes && a->count > a->max_bytes / ct_bytes)
            s = hg_fail(HG_ERR_LIMIT,
                        "%s: %zu ciphertexts of %llu KiB, above the limit of %llu MiB for a "
                        "tensor",
                        what, a->count, (unsigned long long)(ct_bytes >> 10),
                        (unsigned long long)(a->max_bytes >> 20));
        else
            s = hg_he_tensor_new_empty(ctx, &a->shape, hg_he_tensor_level(part),
                                       hg_he_tensor_components(part), hg_he_tensor_scale(part),
                                       hg_he_tensor_complex(part), &a->t);
    }
    if (s == HG_OK) {
        s = hg_he_tensor_paste(a->t, a->received, part);
        if (s != HG_OK)
            s = hg_fail(HG_ERR_PROTOCOL,
                        "%s, piece %u: its level, scale or packing differs from "
                        "the first piece's",
                        what, p->index);
    }
    size_t n = hg_he_tensor_count(part);
    hg_he_tensor_free(part);
    HG_TRY(s);
    a->n_pieces = p->count;
    a->received += n;
    a->next++;
    if ((a->next == a->n_pieces) != (a->received == a->count))
        return hg_fail(HG_ERR_PROTOCOL, "%s: %u pieces hold %zu ciphertexts, %zu expected", what,
                       a->next, a->received, a->count);
    return HG_OK;
}

size_t net_piece_cts(uint32_t piece_cts, uint64_t max_frame, size_t ct_bytes, size_t group) {
    if (group < 1)
        group = 1;
    size_t n = piece_cts ? piece_cts : HG_NET_DEFAULT_PIECE_CTS;
    /* Pieces of a few MiB: the receiver starts on the first one soon, memory stays small. */
    size_t by_bytes = ct_bytes ? NET_PIECE_BYTES / ct_bytes : n;
    if (by_bytes < n)
        n = by_bytes;
    /* Room for the message around the tensor: ids, the request, the tensor header. */
    const uint64_t slack = 64 << 10;
    uint64_t fit = max_frame > slack ? (max_frame - slack) / (ct_bytes + 4) : 0;
    if (fit < n)
        n = (size_t)fit;
    n -= n % group;
    return n < group ? group : n;
}

hg_status net_tensor_piece(const hg_he_tensor *t, size_t from, size_t n, uint8_t **buf,
                           size_t *len) {
    *buf = NULL;
    hg_shape shape;
    hg_he_tensor_shape(t, &shape);
    /* A whole tensor of shape (batch, n) goes as it is; anything else through a slice. */
    hg_he_tensor *part = NULL;
    if (from != 0 || n != hg_he_tensor_count(t) || shape.rank != 2)
        HG_TRY(hg_he_tensor_slice(t, from, n, &part));
    const hg_he_tensor *src = part ? part : t;
    size_t cap = hg_he_tensor_size_bytes(src);
    uint8_t *b = malloc(cap ? cap : 1);
    hg_status s = b ? hg_he_tensor_write(src, b, cap, len)
                    : hg_fail(HG_ERR_NOMEM, "%s: cannot allocate %zu bytes", __func__, cap);
    hg_he_tensor_free(part);
    if (s != HG_OK) {
        free(b);
        return s;
    }
    *buf = b;
    return HG_OK;
}

hg_status net_tensor_pieces(const hg_he_tensor *t, size_t per, size_t k0, size_t m, uint8_t **bufs,
                            size_t *lens) {
    const size_t count = hg_he_tensor_count(t);
    hg_status err = HG_OK;
    char why[NET_MAX_MESSAGE] = "";
    for (size_t i = 0; i < m; i++)
        bufs[i] = NULL;
        /* Serialization is the sender's main cost after the computation itself: the pieces of a
         * group are packed at once, one per thread. */
#pragma omp parallel for schedule(dynamic, 1) if (m > 1)
    for (size_t i = 0; i < m; i++) {
        size_t from = (k0 + i) * per, n = count - from < per ? count - from : per;
        hg_status s = net_tensor_piece(t, from, n, &bufs[i], &lens[i]);
        if (s != HG_OK) {
#pragma omp critical(net_pieces)
            if (err == HG_OK) {
                err = s;
                snprintf(why, sizeof why, "%s", hg_last_error());
            }
        }
    }
    if (err != HG_OK) {
        for (size_t i = 0; i < m; i++) {
            free(bufs[i]);
            bufs[i] = NULL;
        }
        return hg_fail(err, "%s", why);
    }
    return HG_OK;
}

size_t net_piece_group(void) {
    int t = omp_get_max_threads();
    return t < 1 ? 1 : t > NET_PIECE_GROUP ? NET_PIECE_GROUP : (size_t)t;
}
