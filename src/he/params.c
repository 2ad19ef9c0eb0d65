/*
 * Parameters for the encrypted backend: nGraph-HE2's JSON parameter files (read with cJSON),
 * and the automatic choice from a graph's depth.
 */
#include "he.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static hg_status field_int(const cJSON *f, const char *name, long lo, long hi, long *out) {
    if (!cJSON_IsNumber(f) || f->valuedouble != floor(f->valuedouble))
        return hg_fail(HG_ERR_FORMAT, "parameters: \"%s\" must be an integer", name);
    if (f->valuedouble < (double)lo || f->valuedouble > (double)hi)
        return hg_fail(HG_ERR_PARAMS, "parameters: \"%s\" = %.0f is outside [%ld, %ld]", name,
                       f->valuedouble, lo, hi);
    *out = (long)f->valuedouble;
    return HG_OK;
}

hg_status hg_he_params_parse_json(const char *text, size_t len, hg_he_params *out) {
    memset(out, 0, sizeof *out);
    if (len > (1u << 20))
        return hg_fail(HG_ERR_LIMIT, "parameters: a %zu-byte file is too large", len);
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root)
        return hg_fail(HG_ERR_FORMAT, "parameters: malformed JSON near byte %ld",
                       (long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - text : 0));
    hg_status s = HG_OK;
    bool have_n = false, have_mod = false, have_scale = false;
    long special = 1;
    hg_ckks_params_lit *lit = &out->lit;
    lit->security = 128;
    if (!cJSON_IsObject(root))
        s = hg_fail(HG_ERR_FORMAT, "parameters: the file must hold a JSON object");
    for (const cJSON *f = root->child; f && s == HG_OK; f = f->next) {
        const char *k = f->string ? f->string : "";
        long v = 0;
        if (!strcmp(k, "scheme_name")) {
            if (!cJSON_IsString(f) ||
                (strcmp(f->valuestring, "HE_SEAL") && strcmp(f->valuestring, "CKKS")))
                s = hg_fail(HG_ERR_PARAMS,
                            "parameters: \"scheme_name\" must be \"HE_SEAL\" or \"CKKS\"");
        } else if (!strcmp(k, "poly_modulus_degree")) {
            s = field_int(f, k, 1024, 65536, &v);
            if (s == HG_OK && (v & (v - 1)))
                s = hg_fail(HG_ERR_PARAMS, "parameters: poly_modulus_degree %ld is not a power "
                            "of two", v);
            if (s == HG_OK)
                lit->log_n = __builtin_ctzl((unsigned long)v);
            have_n = true;
        } else if (!strcmp(k, "security_level")) {
            s = field_int(f, k, 0, 256, &v);
            if (s == HG_OK && v != 128 && v != 192 && v != 256)
                s = hg_fail(HG_ERR_PARAMS, "parameters: security_level %ld is not 128, 192 or "
                            "256 (an insecure set cannot be loaded from a file)", v);
            lit->security = (int)v;
        } else if (!strcmp(k, "coeff_modulus")) {
            int n = cJSON_IsArray(f) ? cJSON_GetArraySize(f) : -1;
            if (n < 2 || n > HG_CKKS_MAX_PRIMES)
                s = hg_fail(HG_ERR_FORMAT,
                            "parameters: \"coeff_modulus\" must be an array of 2 to %d bit sizes",
                            HG_CKKS_MAX_PRIMES);
            int i = 0;
            for (const cJSON *e = f->child; e && s == HG_OK; e = e->next, i++) {
                s = field_int(e, "coeff_modulus", 20, 60, &v);
                lit->bits[i] = (int)v;
            }
            lit->n_primes = n;
            have_mod = true;
        } else if (!strcmp(k, "special_primes")) {
            s = field_int(f, k, 0, HG_CKKS_MAX_SPECIAL, &special);
        } else if (!strcmp(k, "scale")) {
            if (!cJSON_IsNumber(f) || !(f->valuedouble >= 1) || !isfinite(f->valuedouble))
                s = hg_fail(HG_ERR_FORMAT, "parameters: \"scale\" must be a number >= 1");
            lit->scale = f->valuedouble;
            have_scale = true;
        } else if (!strcmp(k, "complex_packing")) {
            if (!cJSON_IsBool(f))
                s = hg_fail(HG_ERR_FORMAT, "parameters: \"complex_packing\" must be true or "
                            "false");
            out->complex_packing = cJSON_IsTrue(f);
        } else {
            s = hg_fail(HG_ERR_FORMAT, "parameters: unknown field \"%s\"", k);
        }
    }
    if (s == HG_OK && (!have_n || !have_mod))
        s = hg_fail(HG_ERR_FORMAT,
                    "parameters: \"poly_modulus_degree\" and \"coeff_modulus\" are required");
    if (s == HG_OK && special >= lit->n_primes)
        s = hg_fail(HG_ERR_PARAMS, "parameters: %ld special primes leave no data prime", special);
    if (s == HG_OK && !have_scale) {
        /* nGraph-HE2's default: the size of the second prime (a middle prime of the chain). */
        lit->scale = ldexp(1.0, lit->bits[lit->n_primes > 2 ? 1 : 0]);
    }
    lit->n_special = (int)special;
    cJSON_Delete(root);
    return s;
}

hg_status hg_he_params_to_json(const hg_he_params *p, char *buf, size_t cap) {
    const hg_ckks_params_lit *l = &p->lit;
    char mod[HG_CKKS_MAX_PRIMES * 5 + 4] = "";
    size_t at = 0;
    for (int i = 0; i < l->n_primes; i++)
        at += (size_t)snprintf(mod + at, sizeof mod - at, "%s%d", i ? ", " : "", l->bits[i]);
    int w = snprintf(buf, cap,
                     "{\n  \"scheme_name\": \"HE_SEAL\",\n  \"poly_modulus_degree\": %d,\n"
                     "  \"security_level\": %d,\n  \"coeff_modulus\": [%s],\n"
                     "  \"special_primes\": %d,\n  \"scale\": %.17g,\n"
                     "  \"complex_packing\": %s\n}\n",
                     1 << l->log_n, l->security ? l->security : 128, mod, l->n_special, l->scale,
                     p->complex_packing ? "true" : "false");
    if (w < 0 || (size_t)w >= cap)
        return hg_fail(HG_ERR_INVALID_ARG, "%s: buffer of %zu bytes is too small", __func__, cap);
    return HG_OK;
}

/* Whether the graph compiles under parameters lit: HG_OK, or the planner's error. */
static hg_status try_params(const hg_graph *g, const hg_he_params *hp) {
    hg_ckks_params *p = NULL;
    hg_ckks_ctx *ctx = NULL;
    hg_he_model *m = NULL;
    hg_status s = hg_ckks_params_new(&hp->lit, &p);
    if (s == HG_OK)
        s = hg_ckks_ctx_new(p, &ctx);
    hg_he_opts o;
    hg_he_opts_default(&o);
    o.complex_packing = hp->complex_packing;
    if (s == HG_OK)
        s = hg_he_model_new(g, ctx, &o, 1, &m);
    hg_he_model_free(m);
    hg_ckks_ctx_free(ctx);
    hg_ckks_params_free(p);
    return s;
}

/* The chain of a set: q_0 of scale + headroom bits, `mid` primes of the scale's size and, when
 * `special`, one special prime at least as large as q_0 and 10 bits above the scale (key
 * switching then adds little noise). Returns the total number of bits. */
static int fill_chain(hg_he_params *hp, int log_n, int mid, int scale_bits, int headroom_bits,
                      bool special) {
    const int q0 = scale_bits + headroom_bits;
    const int sp = q0 > scale_bits + 10 ? q0 : scale_bits + 10 > 60 ? 60 : scale_bits + 10;
    hp->lit.log_n = log_n;
    hp->lit.n_primes = mid + 1 + (special ? 1 : 0);
    hp->lit.n_special = special ? 1 : 0;
    hp->lit.bits[0] = q0;
    for (int i = 1; i <= mid; i++)
        hp->lit.bits[i] = scale_bits;
    if (special)
        hp->lit.bits[mid + 1] = sp;
    hp->lit.scale = ldexp(1.0, scale_bits);
    hp->lit.security = 128;
    return q0 + (special ? sp : 0) + mid * scale_bits;
}

/* Spends the modulus left at the chosen ring degree on precision: the scale grows, with the
 * same number of primes (so about the same cost), while the chain stays within the security
 * bound, the scale within HE_AUTO_MAX_SCALE_BITS and q_0 within HE_AUTO_MAX_Q0_BITS (the
 * linear engine's fast paths, he.h). Each bit of scale is a bit of precision, which masked
 * activations need most: a factor of 2^-4 multiplies the noise of its rescale by 16.
 * Leaves *hp as it is when no larger scale compiles. */
static void widen_scale(const hg_graph *g, int limit, int headroom_bits, hg_he_params *hp) {
    const int scale_bits = (int)lround(log2(hp->lit.scale));
    const bool special = hp->lit.n_special > 0;
    const int mid = hp->lit.n_primes - 1 - hp->lit.n_special;
    int top = HE_AUTO_MAX_SCALE_BITS;
    if (top + headroom_bits > HE_AUTO_MAX_Q0_BITS)
        top = HE_AUTO_MAX_Q0_BITS - headroom_bits;
    for (int s = top; s > scale_bits; s--) {
        hg_he_params w = *hp;
        if (fill_chain(&w, hp->lit.log_n, mid, s, headroom_bits, special) > limit)
            continue;
        if (try_params(g, &w) == HG_OK) {
            *hp = w;
            return;
        }
    }
    hg_clear_error();
}

/* Without a special prime, a chain can also be q_0 of HE_AUTO_MAX_Q0_BITS and fewer, larger
 * data primes with the scale at their size: the planner then lowers the weights that write a
 * request to keep its headroom (plan.c, fit_request), so a segment of depth d needs d primes
 * above q_0 and no more. With MobileNetV2 at N = 4096 this is {39, 35, 35} at scale 2^35
 * instead of {31, 25, 25, 25} at 2^25: one limb fewer and ten bits more precision, on the
 * engine's 64-bit lanes (primes above 2^31) rather than its 32-bit ones. Tries 1 to `mid` primes
 * above q_0, each at the largest size the security bound allows; keeps *hp when none compiles
 * with a larger scale than it has. */
static void widen_no_special(const hg_graph *g, int limit, hg_he_params *hp) {
    const int scale_bits = (int)lround(log2(hp->lit.scale));
    const int mid = hp->lit.n_primes - 1;
    for (int k = 1; k <= mid; k++) {
        int s = (limit - HE_AUTO_MAX_Q0_BITS) / k;
        if (s > HE_AUTO_MAX_Q0_BITS)
            s = HE_AUTO_MAX_Q0_BITS;
        if (s <= scale_bits)
            continue;
        hg_he_params w = *hp;
        w.lit.n_primes = k + 1;
        w.lit.bits[0] = HE_AUTO_MAX_Q0_BITS;
        for (int i = 1; i <= k; i++)
            w.lit.bits[i] = s;
        w.lit.scale = ldexp(1.0, s);
        if (try_params(g, &w) == HG_OK) {
            *hp = w;
            return;
        }
    }
    hg_clear_error();
}

hg_status hg_he_params_auto(const hg_graph *g, int scale_bits, int headroom_bits,
                            bool complex_packing, hg_he_params *out) {
    memset(out, 0, sizeof *out);
    if (scale_bits < 20 || scale_bits > 58 || headroom_bits < 1 ||
        scale_bits + headroom_bits > 60)
        return hg_fail(HG_ERR_INVALID_ARG,
                       "%s: scale of %d bits with %d bits of headroom (need 20 <= scale, "
                       "scale + headroom <= 60)",
                       __func__, scale_bits, headroom_bits);
    hg_depth_report rep;
    HG_TRY(hg_graph_depth_report(g, &rep));
    int depth = rep.max_depth;
    hg_depth_report_clear(&rep);
    hg_status last = HG_OK;
    for (int log_n = 11; log_n <= 16; log_n++) {
        int limit = hg_ckks_max_log_modulus(log_n, 128);
        /* Start from the depth report and add primes while the planner asks for more. A chain
         * without a special prime comes first: a model that never switches keys (no
         * relinearization, rotation or conjugation) gets its bits as data primes; one that
         * does is refused by the planner (HG_ERR_PARAMS) and gets a special prime. */
        for (int mid = depth > 0 ? depth - 1 : 0; mid <= depth + 2; mid++) {
            bool too_large = true;
            for (int special = 0; special <= 1; special++) {
                hg_he_params hp = {.complex_packing = complex_packing};
                if (fill_chain(&hp, log_n, mid, scale_bits, headroom_bits, special) > limit)
                    continue;
                too_large = false;
                last = try_params(g, &hp);
                if (last == HG_OK) {
                    *out = hp;
                    widen_scale(g, limit, headroom_bits, out);
                    if (!special)
                        widen_no_special(g, limit, out);
                    return HG_OK;
                }
                if (last != HG_ERR_LEVEL && last != HG_ERR_PARAMS)
                    return last;
            }
            if (too_large)
                break;
        }
    }
    return hg_fail(HG_ERR_PARAMS,
                   "no 128-bit parameter set up to N = 65536 holds this model's depth (%d "
                   "levels between client activations) with a scale of 2^%d%s%s",
                   depth, scale_bits, last != HG_OK ? ": " : "",
                   last != HG_OK ? hg_last_error() : "");
}
