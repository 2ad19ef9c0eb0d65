/*
 * What a client receives from a server, at the he layer: cipher tensors (hg_he_tensor_read) and
 * activation requests (hg_he_activation_read), then the client's answer to a decoded request
 * (hg_he_client_activate), which validates the request against the tensor it comes with.
 * The first input byte picks the mode:
 *   0: a cipher tensor (with or without a bound on its ciphertexts), decrypted when it reads;
 *   1: a request, answered on a small tensor of its input shape encrypted here;
 *   2: a request (hg_he_activation_size() bytes) followed by the tensor it comes with.
 */
#include "fuzz_common.h"

#include <math.h>
#include <string.h>

static const hg_ckks_ctx *ctx;
static hg_ckks_sk *sk;
static hg_he_client *client[2]; /* real and complex packing */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    ctx = fuzz_ctx();
    fuzz_check(hg_ckks_sk_new(ctx, &sk), "secret key");
    fuzz_check(hg_he_client_new(ctx, sk, false, 1, &client[0]), "client");
    fuzz_check(hg_he_client_new(ctx, sk, true, 1, &client[1]), "client");
    return 0;
}

static void answer(const hg_he_activation *act, const hg_he_tensor *in) {
    hg_he_tensor *out = NULL;
    if (hg_he_client_activate(client[hg_he_tensor_complex(in)], act, in, &out) == HG_OK)
        hg_he_tensor_free(out);
}

/* Requests on at most this many ciphertexts get a tensor made here. */
#define MAX_MADE 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const uint8_t *in = data + 1;
    const size_t len = size - 1;
    hg_he_tensor *t = NULL;
    hg_he_activation act;
    switch (data[0] % 3) {
    case 0: {
        size_t max_count = data[0] & 0x80 ? 16 : 0;
        if (hg_he_tensor_read(ctx, in, len, max_count, &t) != HG_OK)
            break;
        hg_ndarray *x = NULL;
        if (hg_he_client_decrypt(client[hg_he_tensor_complex(t)], t, &x) == HG_OK)
            hg_ndarray_free(x);
        break;
    }
    case 1: {
        if (hg_he_activation_read(in, len, &act) != HG_OK)
            break;
        const hg_shape *s = &act.in_shape;
        size_t count = 1;
        for (int d = 1; d < s->rank && count <= MAX_MADE; d++)
            count *= (size_t)s->dims[d];
        const bool complex_packing = data[0] & 0x80;
        const size_t cap = hg_ckks_params_n(hg_ckks_ctx_params(ctx)) / (complex_packing ? 1 : 2);
        if (count > MAX_MADE || (size_t)s->dims[0] > cap)
            break;
        hg_ndarray *x = NULL;
        if (hg_ndarray_new(s->rank, s->dims, &x) != HG_OK)
            break;
        for (size_t i = 0; i < x->size; i++)
            x->data[i] = sin((double)i);
        if (hg_he_client_encrypt(client[complex_packing], x, &t) == HG_OK)
            answer(&act, t);
        hg_ndarray_free(x);
        break;
    }
    default: {
        const size_t n = hg_he_activation_size();
        if (len < n || hg_he_activation_read(in, n, &act) != HG_OK)
            break;
        if (hg_he_tensor_read(ctx, in + n, len - n, 0, &t) == HG_OK)
            answer(&act, t);
        break;
    }
    }
    hg_he_tensor_free(t);
    return 0;
}
