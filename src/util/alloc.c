/* Checked, aligned allocation and wiping of secrets. */
#include "util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

void *hg_alloc_array(size_t n, size_t size) {
    size_t bytes;
    if (!hg_mul_size(n, size, &bytes) || bytes > SIZE_MAX - HG_ALIGN) {
        hg_fail(HG_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    /* aligned_alloc wants a multiple of the alignment; zero-sized requests get one line. */
    size_t rounded = (bytes + HG_ALIGN - 1) / HG_ALIGN * HG_ALIGN;
    if (rounded == 0)
        rounded = HG_ALIGN;
    void *p = aligned_alloc(HG_ALIGN, rounded);
    if (!p) {
        hg_fail(HG_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    memset(p, 0, rounded);
    return p;
}

void hg_free(void *p) {
    free(p);
}

static hg_wipe_hook_fn wipe_hook;
static void *wipe_hook_user;

void hg_wipe_set_hook(hg_wipe_hook_fn fn, void *user) {
    wipe_hook = fn;
    wipe_hook_user = user;
}

void hg_wipe(void *p, size_t n) {
    if (p && n) {
        sodium_memzero(p, n);
        if (wipe_hook)
            wipe_hook(wipe_hook_user, p, n);
    }
}

void hg_free_secret(void *p, size_t n) {
    if (!p)
        return;
    hg_wipe(p, n);
    free(p);
}

void *hg_alloc_large(size_t bytes) {
    /* No zeroing: the kernel hands out zeroed pages anyway, and callers overwrite. Transparent
     * huge pages were measured here: they made first use of fresh memory about four times
     * slower (compaction on fault) and runs no faster, so they are not requested. */
    if (bytes > SIZE_MAX - HG_ALIGN) {
        hg_fail(HG_ERR_NOMEM, "allocation of %zu bytes overflows", bytes);
        return NULL;
    }
    size_t rounded = (bytes + HG_ALIGN - 1) / HG_ALIGN * HG_ALIGN;
    void *p = aligned_alloc(HG_ALIGN, rounded ? rounded : HG_ALIGN);
    if (!p)
        hg_fail(HG_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
    return p;
}
