/* hegraph serve: the server side of client-aided inference over TCP. It holds the model and
 * never a secret key; each client brings its own keys. */
#include "cli.h"
#include "he_session.h"

#include <omp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static int usage(FILE *f) {
    fprintf(f, "usage: hegraph serve MODEL.onnx --listen HOST:PORT [--params P.json] [--real]\n"
               "                     [--unmasked] [--batch B] [--max-sessions N] [--timeout S]\n"
               "                     [--once] [--threads T]\n\n"
               "Serves encrypted inference: each client (`hegraph client`) sends its public keys\n"
               "and encrypted inputs, answers the activation requests and receives the encrypted\n"
               "outputs. Parameters come from P.json or are chosen for the model at 128-bit\n"
               "security (complex packing unless --real); clients must hold keys for them\n"
               "(`hegraph keygen`). Activations are masked unless --unmasked (the paper's\n"
               "protocol, for comparison). Up to N clients are served at once (default 4); a\n"
               "client silent for S seconds (default 60) is dropped; --once serves one client\n"
               "and exits. Ctrl-C stops after the running sessions.\n");
    return f == stdout ? 0 : 2;
}

static hg_net_server *running;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static void on_signal(int sig) {
    (void)sig;
    if (running)
        hg_net_server_stop(running); /* an atomic store: safe in a handler */
}

static void log_line(void *user, hg_net_log_level level, uint64_t session, hg_status status,
                     const char *msg) {
    (void)user;
    pthread_mutex_lock(&log_mu);
    if (level == HG_NET_LOG_ERROR)
        fprintf(stderr, "hegraph: %s: session %llu: %s\n", hg_status_name(status),
                (unsigned long long)session, msg);
    else
        fprintf(stderr, "hegraph serve: session %llu: %s\n", (unsigned long long)session, msg);
    pthread_mutex_unlock(&log_mu);
}

int cmd_serve(int argc, char **argv) {
    const char *model = NULL, *listen = NULL, *params_path = NULL;
    long batch_opt = 0, max_sessions = 4, timeout = 60, threads = 0;
    bool real = false, unmasked = false, once = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return usage(stdout);
        if (!strcmp(a, "--real") || !strcmp(a, "--unmasked") || !strcmp(a, "--once")) {
            real |= a[2] == 'r';
            unmasked |= a[2] == 'u';
            once |= a[2] == 'o';
            continue;
        }
        bool takes = !strcmp(a, "--listen") || !strcmp(a, "--params") || !strcmp(a, "--batch") ||
                     !strcmp(a, "--max-sessions") || !strcmp(a, "--timeout") ||
                     !strcmp(a, "--threads");
        if (takes && i + 1 >= argc)
            return cli_usage_error("serve: %s needs a value", a);
        if (!strcmp(a, "--listen"))
            listen = argv[++i];
        else if (!strcmp(a, "--params"))
            params_path = argv[++i];
        else if (!strcmp(a, "--batch")) {
            if (!cli_parse_long(argv[++i], 1, 1 << 16, &batch_opt))
                return cli_usage_error("serve: --batch needs a number in [1, 65536]");
        } else if (!strcmp(a, "--max-sessions")) {
            if (!cli_parse_long(argv[++i], 1, 1024, &max_sessions))
                return cli_usage_error("serve: --max-sessions needs a number in [1, 1024]");
        } else if (!strcmp(a, "--timeout")) {
            if (!cli_parse_long(argv[++i], 1, 86400, &timeout))
                return cli_usage_error("serve: --timeout needs seconds in [1, 86400]");
        } else if (!strcmp(a, "--threads")) {
            if (!cli_parse_long(argv[++i], 1, 1024, &threads))
                return cli_usage_error("serve: --threads needs a number >= 1");
        } else if (a[0] == '-')
            return cli_usage_error("serve: unknown option '%s'", a);
        else if (!model)
            model = a;
        else
            return cli_usage_error("serve: more than one model given");
    }
    if (!model || !listen)
        return usage(stderr);
    if (threads > 0)
        omp_set_num_threads((int)threads);

    hg_status s;
    hg_graph *g = NULL;
    hg_ckks_params *p = NULL;
    hg_ckks_ctx *ctx = NULL;
    hg_he_model *m = NULL;
    hg_net_server *srv = NULL;
    hg_he_params hp;
    if ((s = hg_onnx_load_file(model, &g)) != HG_OK || (s = hg_graph_optimize(g, 1)) != HG_OK ||
        (s = cli_he_params(g, params_path, !real, &hp)) != HG_OK)
        goto fail;
    if (real)
        hp.complex_packing = false;
    if ((s = hg_ckks_params_new(&hp.lit, &p)) != HG_OK || (s = hg_ckks_ctx_new(p, &ctx)) != HG_OK)
        goto fail;
    size_t cap = hg_ckks_params_n(p) / (hp.complex_packing ? 1 : 2);
    size_t batch = batch_opt > 0 ? (size_t)batch_opt : cap;
    hg_he_opts opts;
    hg_he_opts_default(&opts);
    opts.complex_packing = hp.complex_packing;
    opts.masking = !unmasked;
    opts.threads = (int)threads;
    if ((s = hg_graph_infer_shapes(g, (int64_t)batch)) != HG_OK ||
        (s = hg_he_model_new(g, ctx, &opts, batch, &m)) != HG_OK ||
        (s = hg_he_model_reserve(m)) != HG_OK)
        goto fail;
    hg_net_server_opts so;
    hg_net_server_opts_default(&so);
    so.listen = listen;
    so.max_sessions = (int)max_sessions;
    so.max_clients = once ? 1 : 0;
    so.timeout_ms = (int)(timeout * 1000);
    so.log = log_line;
    if ((s = hg_net_server_new(m, &so, &srv)) != HG_OK)
        goto fail;
    hg_he_plan_stats ps;
    hg_he_model_stats(m, &ps);
    printf("model: %s; parameters: ", model);
    cli_he_print_params(stdout, &hp, p);
    printf("batches of up to %zu, %zu client round trips per batch, activations %s\n", batch,
           ps.client_calls, unmasked ? "unmasked" : "masked");
    printf("listening on %s (port %d)\n", listen, hg_net_server_port(srv));
    fflush(stdout);
    running = srv;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    s = hg_net_server_run(srv);
    running = NULL;
    if (s != HG_OK)
        goto fail;
    hg_net_server_free(srv);
    hg_he_model_free(m);
    hg_ckks_ctx_free(ctx);
    hg_ckks_params_free(p);
    hg_graph_free(g);
    return 0;
fail:;
    int rc = cli_fail(s);
    hg_net_server_free(srv);
    hg_he_model_free(m);
    hg_ckks_ctx_free(ctx);
    hg_ckks_params_free(p);
    hg_graph_free(g);
    return rc;
}
