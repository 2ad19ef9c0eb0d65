#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cli_fail(hg_status s) {
    const char *detail = hg_last_error();
    fprintf(stderr, "hegraph: %s: %s\n", hg_status_name(s), detail[0] ? detail : "(no detail)");
    return 1;
}

int cli_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("hegraph: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

bool cli_parse_long(const char *s, long lo, long hi, long *out) {
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

void cli_progress(void *user, const char *stage, uint64_t done, uint64_t total) {
    (void)user;
    static int tty = -1;
    if (tty < 0)
        tty = isatty(STDERR_FILENO);
    if (!tty || total == 0)
        return;
    const int width = 30;
    int filled = (int)((double)done / (double)total * width);
    if (filled > width)
        filled = width;
    char bar[64];
    memset(bar, '#', (size_t)filled);
    memset(bar + filled, '.', (size_t)(width - filled));
    bar[width] = '\0';
    fprintf(stderr, "\r%-24.24s [%s] %llu/%llu", stage, bar, (unsigned long long)done,
            (unsigned long long)total);
    if (done >= total)
        fputc('\n', stderr);
    fflush(stderr);
}

double cli_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

bool cli_parse_size_gb(const char *s, size_t *bytes) {
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v > 0) || v > 1e6)
        return false;
    *bytes = (size_t)(v * 1e9);
    return true;
}

int cli_expect(const char *name, const hg_ndarray *o, const char *ref_path, double tol) {
    hg_ndarray *ref;
    hg_status s = hg_onnx_tensor_read_file(ref_path, &ref, NULL, NULL);
    if (s != HG_OK)
        return cli_fail(s);
    bool same = o->rank == ref->rank;
    for (int d = 0; same && d < o->rank; d++)
        same = o->dims[d] == ref->dims[d];
    double worst = 0;
    for (size_t j = 0; same && j < o->size; j++) {
        double e = fabs(o->data[j] - ref->data[j]);
        if (!(e <= worst))
            worst = e; /* NaN propagates as a failure */
    }
    int rc = 0;
    if (!same) {
        fprintf(stderr, "hegraph: output '%s': shape differs from %s\n", name, ref_path);
        rc = 1;
    } else if (!(worst <= tol)) {
        fprintf(stderr, "hegraph: output '%s': max |error| %.3g > %.3g against %s\n", name, worst,
                tol, ref_path);
        rc = 1;
    } else {
        printf("output '%s': %zu values, max |error| %.3g <= %.3g\n", name, o->size, worst, tol);
    }
    hg_ndarray_free(ref);
    return rc;
}
