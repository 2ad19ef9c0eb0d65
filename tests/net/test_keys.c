/*
 * Key directories: a round trip, the secret key's mode (0600 when written, refused when group
 * or others may read it), no overwriting, missing and corrupted files, insecure parameters.
 */
#include "test_common.h"

#include "hegraph/hg_net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static void path(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", dir, name);
}

static void remove_all(void) {
    const char *names[] = {"params.bin", "secret.key", "public.key", "relin.key", "galois.key"};
    char p[512];
    for (size_t i = 0; i < 5; i++) {
        path(p, sizeof p, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

static void test_round_trip(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/hg_keys_test_%d", (int)getpid());
    remove_all();
    hg_ckks_params_lit lit = HG_PARAMS_TEST_INSECURE_N1024_DEPTH1();
    hg_ckks_params *p;
    hg_assert_ok(hg_ckks_params_new(&lit, &p));
    hg_net_keys k, back;
    hg_assert_ok(hg_net_keys_generate(p, true, &k));
    hg_assert_ok(hg_net_keys_save(&k, dir));
    char sk[512];
    path(sk, sizeof sk, "secret.key");
    struct stat st;
    assert_int_equal(stat(sk, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0077, 0);
    /* Never overwritten. */
    hg_assert_fails(hg_net_keys_save(&k, dir), HG_ERR_IO, "never overwritten");
    /* Insecure parameters need the explicit flag. */
    hg_assert_fails(hg_net_keys_load(dir, false, &back), HG_ERR_PARAMS, "insecure");
    hg_assert_ok(hg_net_keys_load(dir, true, &back));
    assert_non_null(back.rlk);
    assert_non_null(back.gk);
    /* The loaded keys decrypt what the saved ones encrypt. */
    hg_he_client *a, *b;
    hg_assert_ok(hg_he_client_new(k.ctx, k.sk, false, 1, &a));
    hg_assert_ok(hg_he_client_new(back.ctx, back.sk, false, 1, &b));
    int64_t dims[2] = {2, 3};
    hg_ndarray *x, *y;
    hg_assert_ok(hg_ndarray_new(2, dims, &x));
    for (size_t i = 0; i < x->size; i++)
        x->data[i] = (double)i - 2.5;
    hg_he_tensor *t, *t2;
    hg_assert_ok(hg_he_client_encrypt(a, x, &t));
    size_t len = hg_he_tensor_size_bytes(t), w;
    uint8_t *buf = malloc(len);
    hg_assert_ok(hg_he_tensor_write(t, buf, len, &w));
    hg_assert_ok(hg_he_tensor_read(back.ctx, buf, w, 0, &t2));
    free(buf);
    hg_assert_ok(hg_he_client_decrypt(b, t2, &y));
    hg_he_tensor_free(t2);
    for (size_t i = 0; i < x->size; i++)
        hg_assert_close(y->data[i], x->data[i], 1e-5);
    hg_ndarray_free(x);
    hg_ndarray_free(y);
    hg_he_tensor_free(t);
    hg_he_client_free(a);
    hg_he_client_free(b);
    hg_net_keys_clear(&back);
    /* A secret key others may read is refused. */
    assert_int_equal(chmod(sk, 0640), 0);
    hg_assert_fails(hg_net_keys_load(dir, true, &back), HG_ERR_IO, "chmod 600");
    assert_null(back.ctx);
    assert_int_equal(chmod(sk, 0600), 0);
    /* A corrupted public key, then a missing one. */
    char pk[512];
    path(pk, sizeof pk, "public.key");
    FILE *f = fopen(pk, "r+b");
    assert_non_null(f);
    fseek(f, 0, SEEK_SET);
    fputc('X', f);
    fclose(f);
    hg_assert_fails(hg_net_keys_load(dir, true, &back), HG_ERR_FORMAT, "public.key");
    unlink(pk);
    hg_assert_fails(hg_net_keys_load(dir, true, &back), HG_ERR_IO, "public.key");
    hg_net_keys_clear(&k);
    hg_ckks_params_free(p);
    remove_all();
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_round_trip)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
