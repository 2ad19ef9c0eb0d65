/* hegraph keygen: a client's parameters and keys in a directory, for `hegraph client`. */
#include "cli.h"
#include "util/util.h"
#include "he_session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int usage(FILE *f) {
    fprintf(f,
            "usage: hegraph keygen (--params P.json | --model MODEL.onnx [--real]) --out KEYDIR\n\n"
            "Generates a secret key, the public key and, when the parameters have a special\n"
            "prime, the relinearization key and (with complex packing) the conjugation key,\n"
            "for the parameters of P.json (nGraph-HE2's format) or for those\n"
            "`hegraph serve MODEL.onnx` chooses when it is given no --params (a model that\n"
            "never switches keys gets a chain without a special prime, hence no such keys).\n"
            "Writes them to KEYDIR (created with mode 0700): params.bin, params.json,\n"
            "secret.key (mode 0600: keep it to yourself), public.key[, relin.key, galois.key].\n"
            "Existing files are never overwritten.\n");
    return f == stdout ? 0 : 2;
}

/* A copy of the parameters in JSON, for people; created like the keys, never overwritten. */
static hg_status write_json(const char *dir, const hg_he_params *hp) {
    char json[4096], path[4096];
    HG_TRY(hg_he_params_to_json(hp, json, sizeof json));
    int n = snprintf(path, sizeof path, "%s/params.json", dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return hg_fail(HG_ERR_INVALID_ARG, "key directory path '%s' is too long", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return hg_fail(HG_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
    size_t len = strlen(json);
    bool ok = write(fd, json, len) == (ssize_t)len && write(fd, "\n", 1) == 1;
    ok &= close(fd) == 0;
    return ok ? HG_OK : hg_fail(HG_ERR_IO, "cannot write '%s'", path);
}

int cmd_keygen(int argc, char **argv) {
    const char *params_path = NULL, *model = NULL, *out = NULL;
    bool real = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return usage(stdout);
        if (!strcmp(a, "--real")) {
            real = true;
            continue;
        }
        bool takes = !strcmp(a, "--params") || !strcmp(a, "--model") || !strcmp(a, "--out");
        if (!takes)
            return cli_usage_error("keygen: unknown argument '%s'", a);
        if (i + 1 >= argc)
            return cli_usage_error("keygen: %s needs a value", a);
        const char **dst = a[2] == 'p' ? &params_path : a[2] == 'm' ? &model : &out;
        *dst = argv[++i];
    }
    if (!out || (!params_path == !model))
        return usage(stderr);

    hg_status s;
    hg_graph *g = NULL;
    hg_ckks_params *p = NULL;
    hg_net_keys k = {0};
    hg_he_params hp;
    if (model) {
        if ((s = hg_onnx_load_file(model, &g)) != HG_OK || (s = hg_graph_optimize(g, 1)) != HG_OK)
            goto fail;
    }
    if ((s = cli_he_params(g, params_path, !real, &hp)) != HG_OK)
        goto fail;
    if (real)
        hp.complex_packing = false;
    if ((s = hg_ckks_params_new(&hp.lit, &p)) != HG_OK)
        goto fail;
    double t0 = cli_now_ms();
    if ((s = hg_net_keys_generate(p, hp.complex_packing, &k)) != HG_OK ||
        (s = hg_net_keys_save(&k, out)) != HG_OK || (s = write_json(out, &hp)) != HG_OK)
        goto fail;
    printf("keys for ");
    cli_he_print_params(stdout, &hp, p);
    printf("written to %s in %.2f s (secret.key: mode 0600, keep it to yourself)\n", out,
           (cli_now_ms() - t0) / 1e3);
    hg_net_keys_clear(&k);
    hg_ckks_params_free(p);
    hg_graph_free(g);
    return 0;
fail:;
    int rc = cli_fail(s);
    hg_net_keys_clear(&k);
    hg_ckks_params_free(p);
    hg_graph_free(g);
    return rc;
}
