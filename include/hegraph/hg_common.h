/*
 * hegraph: common definitions shared by every layer.
 *
 * Every fallible function returns an hg_status. The detail of the last failure on the calling
 * thread is read with hg_last_error(); it names what went wrong (the function, the values).
 * The library never prints.
 */
#ifndef HEGRAPH_HG_COMMON_H
#define HEGRAPH_HG_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(HG_BUILDING_SHARED)
#define HG_API __attribute__((visibility("default")))
#else
#define HG_API
#endif

#define HG_WUR __attribute__((warn_unused_result))

typedef enum hg_status {
    HG_OK = 0,
    HG_ERR_INVALID_ARG, /* a caller broke a documented precondition */
    HG_ERR_NOMEM,       /* allocation failed or a size computed from input overflowed */
    HG_ERR_PARAMS,      /* parameters are inconsistent or below the requested security */
    HG_ERR_LEVEL,       /* operands at different levels, or no level left */
    HG_ERR_SCALE,       /* operands at different scales, or a value too large for the scale */
    HG_ERR_MISSING_KEY, /* an operation needs a key that was not generated */
    HG_ERR_FORMAT,      /* a serialized object, a model or a data file is malformed */
    HG_ERR_UNSUPPORTED, /* a model uses an op, attribute or type that is not supported */
    HG_ERR_IO,          /* a file or socket operation failed */
    HG_ERR_PROTOCOL,    /* a peer broke the wire protocol */
    HG_ERR_LIMIT,       /* an input exceeds a configured resource limit */
    HG_ERR_TIMEOUT,     /* a peer did not answer in time */
    HG_ERR_INTERNAL,    /* an internal invariant failed: a bug */
} hg_status;

/* Short stable name of a status ("HG_ERR_LEVEL"); never NULL. */
HG_API const char *hg_status_name(hg_status s);

/* Detail of the last failure on this thread, or "" if none was recorded. The string stays valid
 * until the next failing call on this thread. */
HG_API const char *hg_last_error(void);

/* Clears the detail of the last failure on this thread. */
HG_API void hg_clear_error(void);

/* Progress of a long operation: `done` of `total` units of the named stage. The library calls it
 * from the thread that runs the operation; the CLI draws a progress bar from it. */
typedef void (*hg_progress_fn)(void *user, const char *stage, uint64_t done, uint64_t total);

/* Library version string, e.g. "0.1.0". */
HG_API const char *hg_version(void);

#ifdef __cplusplus
}
#endif
#endif
