/*
 * Secret hygiene: the memory that held a secret is wiped, whole, before it is freed.
 *
 * How it is checked without reading freed memory: the util layer's test hook
 * (hg_wipe_set_hook) is called by hg_wipe and hg_free_secret with each buffer right after it
 * was wiped and before it is freed. A test notes the addresses and sizes of an object's secret
 * buffers while the object is alive (through the internal structs), frees it, and checks that
 * each buffer went through the hook with its full size and read zero there. What this proves:
 * the free paths wipe every buffer named below, entirely; it does not prove that no copy of a
 * secret exists elsewhere (registers, the stack of a finished call, pages the kernel swapped).
 *
 * Covered: the secret key (coefficients, NTT forms, the struct), plaintexts (which hold
 * decrypted values), evaluator scratch, the client's per-thread scratch and the decrypted
 * values of an activation it answers, and the serialized secret key written to and read from
 * a key directory. Key file permissions are tested in test_keys.c and tests/cli/keys.sh.
 */
#include "test_common.h"

#include "ckks/ckks.h"
#include "hegraph/hg_he.h"
#include "hegraph/hg_net.h"

#include <complex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the record of wiped buffers ------------------------------------------------------------ */

#define MAX_REC 4096

typedef struct wiped {
    const void *p;
    size_t n;
    bool zero; /* every byte read 0 in the hook */
} wiped;

static wiped rec[MAX_REC];
static size_t n_rec;

static void hook(void *user, const void *p, size_t n) {
    (void)user;
    if (n_rec == MAX_REC)
        return;
    const uint8_t *b = p;
    bool zero = true;
    for (size_t i = 0; i < n; i++)
        zero &= b[i] == 0;
    rec[n_rec++] = (wiped){p, n, zero};
}

static void record(void) {
    n_rec = 0;
    hg_wipe_set_hook(hook, NULL);
}

static void stop(void) {
    hg_wipe_set_hook(NULL, NULL);
}

/* Whether the buffer at p went through a wipe of at least n bytes and read zero after it. */
static bool was_wiped(const void *p, size_t n) {
    for (size_t i = 0; i < n_rec; i++)
        if (rec[i].p == p && rec[i].n >= n && rec[i].zero)
            return true;
    return false;
}

/* Number of wipes of exactly n bytes that read zero. */
static size_t wipes_of(size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n_rec; i++)
        k += rec[i].n == n && rec[i].zero;
    return k;
}

static bool nonzero(const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return true;
    return false;
}

/* ---- fixtures ----------------------------------------------------------------------------------
 */

static hg_ckks_params *P;
static hg_ckks_ctx *C;

static int setup(void **state) {
    (void)state;
    hg_ckks_params_lit lit = HG_PARAMS_TEST_INSECURE_N1024_DEPTH1();
    return hg_ckks_params_new(&lit, &P) || hg_ckks_ctx_new(P, &C) ? -1 : 0;
}

static int teardown(void **state) {
    (void)state;
    stop();
    hg_ckks_ctx_free(C);
    hg_ckks_params_free(P);
    return 0;
}

/* ---- tests
 * --------------------------------------------------------------------------------------- */

static void test_secret_key(void **state) {
    (void)state;
    hg_ckks_sk *sk;
    hg_assert_ok(hg_ckks_sk_new(C, &sk));
    const size_t n = C->n, all = (size_t)(C->L + C->K) * n * 8, data = (size_t)C->L * n * 8;
    const void *coeffs = sk->coeffs, *s = sk->s, *s2 = sk->s2, *self = sk;
    assert_true(nonzero(coeffs, n) && nonzero(s, all) && nonzero(s2, data));
    record();
    hg_ckks_sk_free(sk);
    stop();
    assert_true(was_wiped(coeffs, n));
    assert_true(was_wiped(s, all));
    assert_true(was_wiped(s2, data));
    assert_true(was_wiped(self, sizeof(struct hg_ckks_sk)));
}

static void test_plaintext_and_scratch(void **state) {
    (void)state;
    hg_ckks_sk *sk;
    hg_ckks_eval *ev;
    hg_ckks_pt *pt;
    hg_ckks_ct *ct;
    hg_assert_ok(hg_ckks_sk_new(C, &sk));
    hg_assert_ok(hg_ckks_eval_new(C, &ev));
    hg_assert_ok(hg_ckks_pt_new(C, &pt));
    hg_assert_ok(hg_ckks_ct_new(C, &ct));
    double x[4] = {1, -2, 3, 0.5}, y[4];
    hg_assert_ok(hg_ckks_encode_real(ev, x, 4, hg_ckks_ctx_max_level(C), 0x1p30, pt));
    hg_assert_ok(hg_ckks_encrypt_sym(ev, sk, pt, ct));
    hg_assert_ok(hg_ckks_decrypt(ev, sk, ct, pt));
    hg_assert_ok(hg_ckks_decode_real(ev, pt, y, 4));
    hg_assert_close(y[1], -2, 1e-3);
    /* The plaintext holds the decrypted values. */
    const void *data = pt->data;
    const size_t bytes = pt->cap * sizeof(uint64_t);
    assert_true(nonzero(data, bytes));
    const size_t words = (size_t)(C->L + C->K) * C->n * 8;
    const void *scratch[6] = {ev->t0, ev->t1, ev->t2, ev->t3, ev->t4, ev->t5};
    const void *big = ev->big, *fft = ev->fft, *coef = ev->coef;
    record();
    hg_ckks_pt_free(pt);
    hg_ckks_eval_free(ev);
    stop();
    assert_true(was_wiped(data, bytes));
    for (int i = 0; i < 6; i++)
        assert_true(was_wiped(scratch[i], words));
    assert_true(was_wiped(big, 4 * (size_t)C->L * C->n * 8));
    assert_true(was_wiped(fft, C->n / 2 * sizeof(double complex)));
    assert_true(was_wiped(coef, C->n * sizeof(double)));
    hg_ckks_ct_free(ct);
    hg_ckks_sk_free(sk);
}

static void test_client(void **state) {
    (void)state;
    const int threads = 2;
    hg_ckks_sk *sk;
    hg_he_client *c;
    hg_assert_ok(hg_ckks_sk_new(C, &sk));
    hg_assert_ok(hg_he_client_new(C, sk, false, threads, &c));
    /* An activation answered: its decrypted input and its output are wiped once used. */
    const int64_t dims[2] = {2, 3};
    hg_ndarray *x;
    hg_assert_ok(hg_ndarray_new(2, dims, &x));
    for (size_t i = 0; i < x->size; i++)
        x->data[i] = (double)i - 2.5;
    hg_he_tensor *t, *ans;
    hg_assert_ok(hg_he_client_encrypt(c, x, &t));
    hg_he_activation act;
    memset(&act, 0, sizeof act);
    act.op = HG_OP_RELU;
    act.masked = true;
    act.group = 1;
    act.in_shape = act.out_shape = (hg_shape){.rank = 2, .dims = {2, 3}};
    record();
    hg_assert_ok(hg_he_client_activate(c, &act, t, &ans));
    stop();
    assert_true(wipes_of(x->size * sizeof(double)) >= 2); /* decrypted input and result */
    /* Freeing the client wipes each thread's scratch: evaluators, plaintexts, slot values. */
    record();
    hg_he_client_free(c);
    stop();
    const size_t words = (size_t)(C->L + C->K) * C->n * 8;
    assert_true(wipes_of(words) >= 6 * (size_t)threads);
    assert_true(wipes_of(C->slots * sizeof(double complex)) >= (size_t)threads);
    assert_true(wipes_of(C->n * sizeof(double)) >= (size_t)threads);
    for (size_t i = 0; i < n_rec; i++)
        assert_true(rec[i].zero);
    hg_he_tensor_free(ans);
    hg_he_tensor_free(t);
    hg_ndarray_free(x);
    hg_ckks_sk_free(sk);
}

static void test_key_directory(void **state) {
    (void)state;
    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/hg_hygiene_test_%d", (int)getpid());
    hg_net_keys k, back;
    hg_assert_ok(hg_net_keys_generate(P, false, &k));
    const size_t sk_bytes = hg_ckks_sk_size_bytes(k.sk);
    /* The serialized secret key is wiped after it is written... */
    record();
    hg_assert_ok(hg_net_keys_save(&k, dir));
    stop();
    assert_int_equal(wipes_of(sk_bytes), 1);
    /* ...and the file's bytes after they are read. */
    record();
    hg_assert_ok(hg_net_keys_load(dir, true, &back));
    stop();
    assert_int_equal(wipes_of(sk_bytes), 1);
    const void *coeffs = back.sk->coeffs;
    record();
    hg_net_keys_clear(&back);
    stop();
    assert_true(was_wiped(coeffs, C->n));
    hg_net_keys_clear(&k);
    const char *names[] = {"params.bin", "secret.key", "public.key", "relin.key"};
    char p[512];
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_key),
        cmocka_unit_test(test_plaintext_and_scratch),
        cmocka_unit_test(test_client),
        cmocka_unit_test(test_key_directory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
