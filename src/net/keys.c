/*
 * Key directories: a client's parameters and keys in files. The secret key file is created
 * with O_EXCL and mode 0600 (never overwritten, never readable by others), its buffer is wiped,
 * and a secret key file that group or others can read or write is refused when loading.
 */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_KEY_FILE ((uint64_t)1 << 32)

static const char F_PARAMS[] = "params.bin", F_SK[] = "secret.key", F_PK[] = "public.key",
                  F_RLK[] = "relin.key", F_GK[] = "galois.key";

void hg_net_keys_clear(hg_net_keys *k) {
    hg_ckks_gk_free(k->gk);
    hg_ckks_rlk_free(k->rlk);
    hg_ckks_pk_free(k->pk);
    hg_ckks_sk_free(k->sk);
    hg_ckks_ctx_free(k->ctx);
    memset(k, 0, sizeof *k);
}

hg_status hg_net_keys_generate(const hg_ckks_params *p, bool conjugation, hg_net_keys *out) {
    memset(out, 0, sizeof *out);
    hg_status s = hg_ckks_ctx_new(p, &out->ctx);
    if (s == HG_OK)
        s = hg_ckks_sk_new(out->ctx, &out->sk);
    if (s == HG_OK)
        s = hg_ckks_pk_new(out->ctx, out->sk, &out->pk);
    /* Without a special prime there is no key switching, so no such keys. */
    const bool keyswitch = hg_ckks_params_n_special(p) > 0;
    if (s == HG_OK && keyswitch)
        s = hg_ckks_rlk_new(out->ctx, out->sk, &out->rlk);
    if (s == HG_OK && keyswitch && conjugation)
        s = hg_ckks_gk_new(out->ctx, out->sk, NULL, 0, true, &out->gk);
    if (s != HG_OK)
        hg_net_keys_clear(out);
    return s;
}

static hg_status path_join(const char *dir, const char *name, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        return hg_fail(HG_ERR_INVALID_ARG, "key directory path '%s' is too long", dir);
    return HG_OK;
}

/* Writes a new file (O_EXCL) with the given mode. */
static hg_status write_file(const char *dir, const char *name, const void *buf, size_t len,
                            mode_t mode) {
    char path[4096];
    HG_TRY(path_join(dir, name, path, sizeof path));
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return hg_fail(HG_ERR_IO, "cannot create '%s': %s%s", path, strerror(errno),
                       errno == EEXIST ? " (keys are never overwritten)" : "");
    const uint8_t *p = buf;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(path);
            return hg_fail(HG_ERR_IO, "cannot write '%s': %s", path, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(path);
        return hg_fail(HG_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    }
    return HG_OK;
}

/* Serializes with a _size/_write pair and writes the file; secret buffers are wiped. */
#define SAVE(kind, obj, name, mode, secret)                                                        \
    do {                                                                                           \
        size_t cap_ = hg_ckks_##kind##_size_bytes(obj), w_;                                        \
        uint8_t *b_ = malloc(cap_);                                                                \
        if (!b_)                                                                                   \
            return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);                           \
        hg_status s_ = hg_ckks_##kind##_write(obj, b_, cap_, &w_);                                 \
        if (s_ == HG_OK)                                                                           \
            s_ = write_file(dir, name, b_, w_, mode);                                              \
        if (secret)                                                                                \
            hg_wipe(b_, cap_);                                                                     \
        free(b_);                                                                                  \
        HG_TRY(s_);                                                                                \
    } while (0)

hg_status hg_net_keys_save(const hg_net_keys *k, const char *dir) {
    if (!k->ctx || !k->sk || !k->pk)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: no context, secret or public key", __func__);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return hg_fail(HG_ERR_IO, "cannot create the key directory '%s': %s", dir, strerror(errno));
    const hg_ckks_params *p = hg_ckks_ctx_params(k->ctx);
    {
        size_t cap = hg_ckks_params_size(p), w;
        uint8_t *b = malloc(cap);
        if (!b)
            return hg_fail(HG_ERR_NOMEM, "%s: out of memory", __func__);
        hg_status s = hg_ckks_params_write(p, b, cap, &w);
        if (s == HG_OK)
            s = write_file(dir, F_PARAMS, b, w, 0644);
        free(b);
        HG_TRY(s);
    }
    SAVE(sk, k->sk, F_SK, 0600, true);
    SAVE(pk, k->pk, F_PK, 0644, false);
    if (k->rlk)
        SAVE(rlk, k->rlk, F_RLK, 0644, false);
    if (k->gk)
        SAVE(gk, k->gk, F_GK, 0644, false);
    return HG_OK;
}

/* Reads a whole file; *missing (optional) tells a missing file from other failures. */
static hg_status read_file(const char *dir, const char *name, bool secret, uint8_t **buf,
                           size_t *len, bool *missing) {
    *buf = NULL;
    if (missing)
        *missing = false;
    char path[4096];
    HG_TRY(path_join(dir, name, path, sizeof path));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (missing && errno == ENOENT) {
            *missing = true;
            return HG_OK;
        }
        return hg_fail(HG_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    }
    struct stat st;
    hg_status s = HG_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        s = hg_fail(HG_ERR_IO, "'%s' is not a regular file", path);
    else if (secret && (st.st_mode & 077))
        s = hg_fail(HG_ERR_IO,
                    "the secret key '%s' is accessible by group or others (mode %03o): "
                    "chmod 600 it",
                    path, (unsigned)(st.st_mode & 0777));
    else if ((uint64_t)st.st_size > MAX_KEY_FILE)
        s = hg_fail(HG_ERR_LIMIT, "'%s' is larger than 4 GiB", path);
    uint8_t *b = NULL;
    size_t n = s == HG_OK ? (size_t)st.st_size : 0, at = 0;
    if (s == HG_OK && !(b = malloc(n ? n : 1)))
        s = hg_fail(HG_ERR_NOMEM, "cannot allocate %zu bytes for '%s'", n, path);
    while (s == HG_OK && at < n) {
        ssize_t r = read(fd, b + at, n - at);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            s = hg_fail(HG_ERR_IO, "cannot read '%s'", path);
        else
            at += (size_t)r;
    }
    close(fd);
    if (s != HG_OK) {
        if (b && secret)
            hg_wipe(b, n);
        free(b);
        return s;
    }
    *buf = b;
    *len = n;
    return HG_OK;
}

hg_status hg_net_keys_load(const char *dir, bool allow_insecure, hg_net_keys *out) {
    memset(out, 0, sizeof *out);
    uint8_t *b = NULL;
    size_t n = 0;
    bool missing = false;
    hg_ckks_params *p = NULL;
    const char *file = F_PARAMS;
    hg_status s = read_file(dir, F_PARAMS, false, &b, &n, NULL);
    if (s == HG_OK)
        s = hg_ckks_params_read(b, n, allow_insecure, &p);
    free(b);
    b = NULL;
    if (s == HG_OK)
        s = hg_ckks_ctx_new(p, &out->ctx);
    hg_ckks_params_free(p);
    if (s == HG_OK && (s = read_file(dir, file = F_SK, true, &b, &n, NULL)) == HG_OK) {
        s = hg_ckks_sk_read(out->ctx, b, n, &out->sk);
        hg_wipe(b, n);
    }
    free(b);
    b = NULL;
    if (s == HG_OK && (s = read_file(dir, file = F_PK, false, &b, &n, NULL)) == HG_OK)
        s = hg_ckks_pk_read(out->ctx, b, n, &out->pk);
    free(b);
    b = NULL;
    if (s == HG_OK && (s = read_file(dir, file = F_RLK, false, &b, &n, &missing)) == HG_OK &&
        !missing)
        s = hg_ckks_rlk_read(out->ctx, b, n, &out->rlk);
    free(b);
    b = NULL;
    if (s == HG_OK && (s = read_file(dir, file = F_GK, false, &b, &n, &missing)) == HG_OK &&
        !missing)
        s = hg_ckks_gk_read(out->ctx, b, n, &out->gk);
    free(b);
    if (s != HG_OK) {
        char why[NET_MAX_MESSAGE];
        snprintf(why, sizeof why, "%s", hg_last_error());
        hg_net_keys_clear(out);
        return hg_fail(s, "key directory '%s', %s: %s", dir, file, why);
    }
    return HG_OK;
}
