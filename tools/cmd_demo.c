/*
 * hegraph demo: CKKS end to end in one process, with real 128-bit parameters. A client encodes
 * and encrypts a vector of 4096 complex values; a server, holding only public keys, computes
 * 0.5 x^2 + rot(x, 1) - 3 with a product, relinearization, rescaling, a scalar product and a
 * rotation; the client decrypts. Each step prints its level, scale and time, and the result is
 * compared with the same computation in the clear.
 */
#include "cli.h"

#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRY(expr)                                                                              \
    do {                                                                                       \
        hg_status s_ = (expr);                                                                 \
        if (s_ != HG_OK) {                                                                     \
            rc = cli_fail(s_);                                                                 \
            goto out;                                                                          \
        }                                                                                      \
    } while (0)

static void step(const char *what, const hg_ckks_ct *ct, double t0) {
    printf("  %-34s level %d  scale 2^%-6.2f %3d components  %8.2f ms\n", what,
           hg_ckks_ct_level(ct), log2(hg_ckks_ct_scale(ct)), hg_ckks_ct_size(ct),
           (cli_now_ms() - t0));
}

int cmd_demo(int argc, char **argv) {
    if (argc > 1) {
        if (!strcmp(argv[1], "--help")) {
            printf("usage: hegraph demo\n\nEncrypts a vector with 128-bit CKKS parameters, "
                   "computes 0.5 x^2 + rot(x, 1) - 3 on\nthe ciphertext and checks the decrypted "
                   "result against the same computation in the clear.\n");
            return 0;
        }
        return cli_usage_error("demo takes no arguments (see hegraph demo --help)");
    }
    int rc = 0;
    hg_ckks_params *p = NULL;
    hg_ckks_ctx *ctx = NULL;
    hg_ckks_eval *ev = NULL;
    hg_ckks_sk *sk = NULL;
    hg_ckks_pk *pk = NULL;
    hg_ckks_rlk *rlk = NULL;
    hg_ckks_gk *gk = NULL;
    hg_ckks_pt *pt = NULL;
    hg_ckks_ct *x = NULL, *r = NULL;
    double complex *z = NULL, *got = NULL;

    /* N = 8192, 60 + 40 + 40 + 60 = 200 bits <= 218: 128-bit security. */
    hg_ckks_params_lit lit = {.log_n = 13, .n_primes = 4, .bits = {60, 40, 40, 60},
                              .n_special = 1, .scale = 0x1p40, .security = 128};
    TRY(hg_ckks_params_new(&lit, &p));
    printf("parameters: N = %zu, %zu slots, primes", hg_ckks_params_n(p),
           hg_ckks_params_slots(p));
    for (int i = 0; i < lit.n_primes; i++)
        printf(" %d", lit.bits[i]);
    printf(" bits (last one special), modulus %d bits, %d-bit security\n",
           hg_ckks_params_log_modulus(p), hg_ckks_params_security(p));

    double t0 = cli_now_ms();
    TRY(hg_ckks_ctx_new(p, &ctx));
    TRY(hg_ckks_eval_new(ctx, &ev));
    TRY(hg_ckks_sk_new(ctx, &sk));
    TRY(hg_ckks_pk_new(ctx, sk, &pk));
    TRY(hg_ckks_rlk_new(ctx, sk, &rlk));
    int one = 1;
    TRY(hg_ckks_gk_new(ctx, sk, &one, 1, false, &gk));
    printf("client: context and keys (secret, public, relinearization, rotation) in %.1f ms, "
           "kernels: %s\n",
           cli_now_ms() - t0, hg_ckks_ctx_simd(ctx));

    const size_t slots = hg_ckks_params_slots(p);
    z = malloc(slots * sizeof *z);
    got = malloc(slots * sizeof *got);
    if (!z || !got) {
        fprintf(stderr, "hegraph: out of memory\n");
        rc = 1;
        goto out;
    }
    for (size_t i = 0; i < slots; i++)
        z[i] = sin(0.01 * (double)i) + 0.5 * cos(0.003 * (double)i) * I;
    TRY(hg_ckks_pt_new(ctx, &pt));
    TRY(hg_ckks_ct_new(ctx, &x));
    TRY(hg_ckks_ct_new(ctx, &r));
    int top = hg_ckks_ctx_max_level(ctx);

    printf("client:\n");
    t0 = cli_now_ms();
    TRY(hg_ckks_encode(ev, z, slots, top, lit.scale, pt));
    TRY(hg_ckks_encrypt(ev, pk, pt, x));
    step("encode and encrypt x", x, t0);
    size_t bytes = hg_ckks_ct_size_bytes(x);
    printf("  ciphertext: %zu bytes\n", bytes);

    printf("server (public keys only):\n");
    t0 = cli_now_ms();
    TRY(hg_ckks_rotate(ev, gk, x, 1, r));
    step("r = rot(x, 1)", r, t0);
    t0 = cli_now_ms();
    /* r is multiplied by 1 at scale 2^40 so that, rescaled, its scale is the square's; the
     * 0.5 below is encoded at scale q_l, so that its rescale leaves the scale unchanged. */
    TRY(hg_ckks_mul_scalar(ev, r, 1.0, lit.scale, r));
    TRY(hg_ckks_rescale(ev, r, r));
    step("r = rescale(r * 1)", r, t0);
    t0 = cli_now_ms();
    TRY(hg_ckks_square(ev, x, x));
    step("x = x * x", x, t0);
    t0 = cli_now_ms();
    TRY(hg_ckks_relinearize(ev, rlk, x, x));
    step("x = relinearize(x)", x, t0);
    t0 = cli_now_ms();
    TRY(hg_ckks_rescale(ev, x, x));
    step("x = rescale(x)", x, t0);
    t0 = cli_now_ms();
    TRY(hg_ckks_mul_scalar(ev, x, 0.5, (double)hg_ckks_params_prime(p, top - 1), x));
    TRY(hg_ckks_rescale(ev, x, x));
    step("x = rescale(0.5 x), scale kept", x, t0);
    t0 = cli_now_ms();
    TRY(hg_ckks_drop_level(ev, r, hg_ckks_ct_level(x), r));
    TRY(hg_ckks_add(ev, x, r, x));
    TRY(hg_ckks_add_scalar(ev, x, -3.0, x));
    step("x = x + r - 3", x, t0);

    printf("client:\n");
    t0 = cli_now_ms();
    TRY(hg_ckks_decrypt(ev, sk, x, pt));
    TRY(hg_ckks_decode(ev, pt, got, slots));
    printf("  %-34s %54.2f ms\n", "decrypt and decode", cli_now_ms() - t0);

    double worst = 0;
    for (size_t i = 0; i < slots; i++) {
        double complex want = 0.5 * z[i] * z[i] + z[(i + 1) % slots] - 3.0;
        double d = cabs(got[i] - want);
        if (d > worst)
            worst = d;
    }
    printf("result: slot 0 = %.6f%+.6fi (expected %.6f%+.6fi)\n", creal(got[0]), cimag(got[0]),
           creal(0.5 * z[0] * z[0] + z[1] - 3.0), cimag(0.5 * z[0] * z[0] + z[1] - 3.0));
    printf("largest error over %zu slots: %.3g (%.1f bits of precision)\n", slots, worst,
           -log2(worst));
    if (!(worst < 1e-4)) {
        fprintf(stderr, "hegraph: demo: the decrypted result is off by %.3g\n", worst);
        rc = 1;
    }
out:
    free(z);
    free(got);
    hg_ckks_ct_free(x);
    hg_ckks_ct_free(r);
    hg_ckks_pt_free(pt);
    hg_ckks_gk_free(gk);
    hg_ckks_rlk_free(rlk);
    hg_ckks_pk_free(pk);
    hg_ckks_sk_free(sk);
    hg_ckks_eval_free(ev);
    hg_ckks_ctx_free(ctx);
    hg_ckks_params_free(p);
    return rc;
}
