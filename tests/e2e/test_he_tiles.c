/*
 * Tiled regions: a reduced MobileNetV2 (inverted residual blocks with ReLU6) runs encrypted
 * with its blocks in tiles of channels and untiled; both agree with the plain backend, the tiled
 * plan predicts less memory and makes more (smaller) client round trips.
 */
#include "reduced_mobilenet.h"

#include <stdint.h>

static void test_tiles(void **state) {
    (void)state;
    /* insecure test parameters: N = 1024, three 30-bit levels */
    hg_ckks_params_lit lit = {.log_n = 10, .n_primes = 5, .bits = {40, 30, 30, 30, 50},
                              .n_special = 1, .scale = 0x1p30, .insecure = true};
    reduced_fixture f;
    reduced_setup(&f, &lit, 3, 70, 1.0);
    size_t peak[2], calls[2];
    for (int tiled = 0; tiled <= 1; tiled++) {
        hg_he_opts o;
        hg_he_opts_default(&o);
        o.complex_packing = true;
        o.tile_bytes = tiled ? (size_t)1 << 20 : SIZE_MAX / 4;
        hg_he_plan_stats st;
        hg_he_run_stats rs;
        double err = reduced_run(&f, &o, &st, &peak[tiled], &rs);
        calls[tiled] = st.client_calls;
        print_message("# %s: %zu client round trips, predicted peak %.1f MB, run peak %.1f MB, "
                      "max error %.2e of the largest output\n",
                      tiled ? "tiled" : "untiled", st.client_calls, (double)peak[tiled] / 1e6,
                      (double)rs.peak_bytes / 1e6, err);
        assert_true(err < 1e-2);
    }
    assert_true(calls[1] > calls[0]);
    assert_true(peak[1] < peak[0]);
    reduced_teardown(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_tiles)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
