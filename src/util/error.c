/* Status names and the thread-local detail of the last failure. */
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char last_error[512];

const char *hg_status_name(hg_status s) {
    switch (s) {
    case HG_OK: return "HG_OK";
    case HG_ERR_INVALID_ARG: return "HG_ERR_INVALID_ARG";
    case HG_ERR_NOMEM: return "HG_ERR_NOMEM";
    case HG_ERR_PARAMS: return "HG_ERR_PARAMS";
    case HG_ERR_LEVEL: return "HG_ERR_LEVEL";
    case HG_ERR_SCALE: return "HG_ERR_SCALE";
    case HG_ERR_MISSING_KEY: return "HG_ERR_MISSING_KEY";
    case HG_ERR_FORMAT: return "HG_ERR_FORMAT";
    case HG_ERR_UNSUPPORTED: return "HG_ERR_UNSUPPORTED";
    case HG_ERR_IO: return "HG_ERR_IO";
    case HG_ERR_PROTOCOL: return "HG_ERR_PROTOCOL";
    case HG_ERR_LIMIT: return "HG_ERR_LIMIT";
    case HG_ERR_TIMEOUT: return "HG_ERR_TIMEOUT";
    case HG_ERR_INTERNAL: return "HG_ERR_INTERNAL";
    }
    return "HG_ERR_UNKNOWN";
}

hg_status hg_fail(hg_status s, const char *fmt, ...) {
    /* Formatted into a copy first: callers may pass hg_last_error() itself as an argument, to
     * wrap a lower layer's message. */
    char buf[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    memcpy(last_error, buf, sizeof buf);
    return s;
}

const char *hg_last_error(void) {
    return last_error;
}

void hg_clear_error(void) {
    last_error[0] = '\0';
}

const char *hg_version(void) {
    return "0.1.0";
}

/* An internal invariant failed. Printing here is the one exception to "the library never
 * prints": the process is about to abort and the message is all that is left of the bug. */
void hg_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "hegraph: internal error: assertion '%s' failed at %s:%d\n", expr, file, line);
    abort();
}
