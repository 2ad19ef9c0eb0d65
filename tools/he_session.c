#include "he_session.h"

#include "cli.h"
#include "util/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

hg_status cli_he_params(const hg_graph *g, const char *path, bool complex_packing,
                        hg_he_params *out) {
    if (!path)
        return hg_he_params_auto(g, 24, 6, complex_packing, out);
    FILE *f = fopen(path, "rb");
    if (!f)
        return hg_fail(HG_ERR_IO, "cannot open parameter file '%s'", path);
    char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    bool too_big = n == sizeof buf && fgetc(f) != EOF;
    fclose(f);
    if (too_big)
        return hg_fail(HG_ERR_LIMIT, "parameter file '%s' is larger than 64 KiB", path);
    return hg_he_params_parse_json(buf, n, out);
}

size_t cli_default_max_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return (size_t)16 << 30;
    return (size_t)((double)pages * (double)page * 0.9);
}

hg_status cli_he_open(cli_he *h, const hg_graph *g, const hg_he_params *hp,
                      const hg_he_opts *opts, size_t batch, size_t max_memory) {
    memset(h, 0, sizeof *h);
    h->hp = *hp;
    h->opts = *opts;
    h->opts.complex_packing = hp->complex_packing;
    double t0 = cli_now_ms();
    hg_status s = hg_ckks_params_new(&hp->lit, &h->params);
    if (s == HG_OK)
        s = hg_ckks_ctx_new(h->params, &h->ctx);
    if (s == HG_OK) {
        size_t cap = hg_ckks_params_n(h->params) / (hp->complex_packing ? 1 : 2);
        if (batch == 0)
            batch = cap;
        if (max_memory == 0)
            max_memory = cli_default_max_memory();
        /* Smaller tiles until the prediction fits (down to 64 MiB tiles). */
        size_t tile = h->opts.tile_bytes ? h->opts.tile_bytes : (size_t)2 << 30;
        for (;;) {
            h->opts.tile_bytes = tile;
            s = hg_he_model_new(g, h->ctx, &h->opts, batch, &h->model);
            if (s != HG_OK || hg_he_model_peak_bytes(h->model) <= max_memory ||
                tile <= ((size_t)64 << 20))
                break;
            hg_he_model_free(h->model);
            h->model = NULL;
            tile /= 2;
        }
        if (s == HG_OK && hg_he_model_peak_bytes(h->model) > max_memory)
            s = hg_fail(HG_ERR_LIMIT,
                        "the server would need about %.1f GB (predicted peak), above the limit "
                        "of %.1f GB (--max-memory); try smaller parameters or batches",
                        (double)hg_he_model_peak_bytes(h->model) / 1e9,
                        (double)max_memory / 1e9);
    }
    if (s == HG_OK)
        s = hg_ckks_sk_new(h->ctx, &h->sk);
    if (s == HG_OK && h->opts.masking)
        s = hg_ckks_pk_new(h->ctx, h->sk, &h->pk);
    if (s == HG_OK && hg_he_model_needs_relin(h->model))
        s = hg_ckks_rlk_new(h->ctx, h->sk, &h->rlk);
    uint64_t elts[4];
    if (s == HG_OK && hg_he_model_galois_elts(h->model, elts, 4) > 0)
        s = hg_ckks_gk_new(h->ctx, h->sk, NULL, 0, true, &h->gk);
    if (s == HG_OK)
        s = hg_he_client_new(h->ctx, h->sk, hp->complex_packing, opts->threads, &h->client);
    h->keygen_seconds = (cli_now_ms() - t0) / 1e3;
    if (s != HG_OK)
        cli_he_close(h);
    return s;
}

void cli_he_close(cli_he *h) {
    hg_he_model_free(h->model);
    hg_he_client_free(h->client);
    hg_ckks_gk_free(h->gk);
    hg_ckks_rlk_free(h->rlk);
    hg_ckks_pk_free(h->pk);
    hg_ckks_sk_free(h->sk);
    hg_ckks_ctx_free(h->ctx);
    hg_ckks_params_free(h->params);
    memset(h, 0, sizeof *h);
}

void cli_he_print_params(FILE *f, const hg_he_params *hp, const hg_ckks_params *p) {
    fprintf(f, "N = %d, primes {", 1 << hp->lit.log_n);
    for (int i = 0; i < hp->lit.n_primes; i++)
        fprintf(f, "%s%d", i ? ", " : "", hp->lit.bits[i]);
    fprintf(f, "} (%d special), scale 2^%.0f, %s packing", hp->lit.n_special, log2(hp->lit.scale),
            hp->complex_packing ? "complex" : "real");
    if (p)
        fprintf(f, ", modulus %d bits, %d-bit security", hg_ckks_params_log_modulus(p),
                hg_ckks_params_security(p));
    fputc('\n', f);
}

size_t cli_peak_rss(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (size_t)ru.ru_maxrss * 1024;
}
