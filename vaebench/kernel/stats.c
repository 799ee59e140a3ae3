/* The objective's statistics (vaebench/objective.py, the batch means of vaebench/losses.py), each with its
 * value and its gradient side by side, and the shapes f of a term w * f(s) with their slopes.
 *
 * An objective is a sum of terms w * f(s) of these statistics, with f(s) = s, |s - c|, max(s, c) or
 * ln max(s, c), and w, c per model and step. Everything in the gradient follows: dL/ds = w * f'(s) (the
 * "slope" below), then each statistic's own gradient, scaled by its slope, into the gradient of what it
 * reads (the reconstruction x̂, the latent z, or μ and log σ² directly).
 *
 * Adding a statistic: its value and gradient functions here, side by side; its line in VB_STATS
 * (kernel.h); in fused_step (fused.c) one call of each, value[ST_X] = x_value(...) and
 * x_grad(..., slope[ST_X], ...) into the gradient of what it reads (a statistic left out there is NaN, so
 * its terms diverge loudly). In Python: its name in objective.STATS (the layout test fails until the two
 * lists agree) and its PyTorch formula in vaebench/losses.py (the reference the tests differentiate).
 */
#include <math.h>

#include "kernel.h"
#include "simd.h"

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* ---- term shapes: f(s) and f'(s) ---- */
static inline float term_value(int64_t fn, float s, float c)
{
    if (fn == FN_ABS)
        return fabsf(s - c);
    if (fn == FN_FLOOR)
        return s != s || s > c ? s : c; /* torch.maximum: NaN propagates */
    if (fn == FN_LOG)
        return logf(s != s || s > c ? s : c);
    return s;
}

static inline float term_slope(int64_t fn, float s, float c)
{
    if (fn == FN_ABS) /* autograd's abs: sign(s - c), 0 at the kink */
        return s > c ? 1.f : (s < c ? -1.f : 0.f);
    if (fn == FN_FLOOR) /* autograd's maximum splits a tie: half the gradient to each side */
        return s > c ? 1.f : (s == c ? 0.5f : 0.f);
    if (fn == FN_LOG) /* d ln max(s, c)/ds: 1/s above the floor, none below, as FN_FLOOR at the tie */
        return s > c ? 1.f / s : (s == c ? 0.5f / c : 0.f);
    return 1.f;
}

/* ---- recon = Σ_{b,j} (x̂ - x)² / (2 B σ²): c_rec = 1 / (B σ²) ---- */
ALWAYS_INLINE float recon_value(int64_t nx, const float *rec, const float *x, float c_rec)
{
    float sse = 0.f;
    {
        vf s = {0};
        int64_t i = 0;
        for (; i + VL <= nx; i += VL) {
            vf diff = ld(rec + i) - ld(x + i);
            s += diff * diff;
        }
        sse = sum_vec(s);
        for (; i < nx; i++) {
            float diff = rec[i] - x[i];
            sse += diff * diff;
        }
    }
    return sse * (0.5f * c_rec);
}

/* dL/dx̂ = slope · (x̂ - x) c_rec into grec [nx]. */
ALWAYS_INLINE void recon_grad(int64_t nx, const float *rec, const float *x, float c_rec, float slope,
                              float *grec)
{
    const float cg = slope * c_rec;
    int64_t i = 0;
    for (; i + VL <= nx; i += VL)
        st(grec + i, (ld(rec + i) - ld(x + i)) * cg);
    for (; i < nx; i++)
        grec[i] = (rec[i] - x[i]) * cg;
}

/* ---- kl_k = Σ_b ½(μ² + σ² - 1 - log σ²) / B per latent dimension k, kl = Σ_k kl_k ----
 * Its value is computed with the sample it needs: sp = σε, z = μ + σε, var = σ² ([B, d] each, nd = B d,
 * from the encoder's μ and log σ² lv and the noise ε). kl_k [d]: per dimension (the kl_dim statistic). */
ALWAYS_INLINE float sample_and_kl(int64_t B, int64_t d, const float *mu, const float *lv, const float *em,
                                  float *sp, float *zs, float *var, float *kl_k)
{
    const int64_t nd = B * d;
    float kl = 0.f;
    exp_scaled(nd, lv, 0.5f, sp);
    exp_scaled(nd, lv, 1.f, var);
    int64_t i = 0;
    if (VL % d == 0) { /* lane j of a vector holds latent dimension j mod d */
        vf s = {0};
        for (; i + VL <= nd; i += VL) {
            vf sd = ld(sp + i) * ld(em + i), u = ld(mu + i), l = ld(lv + i);
            st(sp + i, sd);
            st(zs + i, u + sd);
            s += u * u + ld(var + i) - 1.f - l;
        }
        for (int j = 0; j < VL; j++)
            kl_k[j % d] += s[j];
    }
    for (; i < nd; i++) {
        sp[i] *= em[i];
        zs[i] = mu[i] + sp[i];
        kl_k[i % d] += mu[i] * mu[i] + var[i] - 1.f - lv[i];
    }
    for (int64_t k = 0; k < d; k++) {
        kl_k[k] *= 0.5f / (float)B;
        kl += kl_k[k];
    }
    return kl;
}

/* The KL's gradient with the sample's chain rule, from the slopes g_kl [d] (per dimension: kl's slope
 * plus kl_dim's) and gz = dL/dz: dL/dμ = g_kl μ/B + gz, dL/dlog σ² = g_kl (σ² - 1)/(2B) + gz·σε/2,
 * into genc [2, B, d] (μ's, then log σ²'s). */
ALWAYS_INLINE void kl_grad(int64_t B, int64_t d, const float *g_kl, const float *mu, const float *var,
                           const float *sp, const float *gz, float *genc)
{
    const int64_t nd = B * d;
    float ck[MAX_LATENT];
    for (int64_t k = 0; k < d; k++)
        ck[k] = g_kl[k] / (float)B;
    int64_t i = 0;
    if (VL % d == 0) { /* lane j holds latent dimension j mod d, as in the KL above */
        vf cv;
        for (int j = 0; j < VL; j++)
            cv[j] = ck[j % d];
        for (; i + VL <= nd; i += VL) {
            vf g = ld(gz + i);
            st(genc + i, cv * ld(mu + i) + g);
            st(genc + nd + i, 0.5f * cv * (ld(var + i) - 1.f) + 0.5f * g * ld(sp + i));
        }
    }
    for (; i < nd; i++) {
        genc[i] = ck[i % d] * mu[i] + gz[i];
        genc[nd + i] = 0.5f * ck[i % d] * (var[i] - 1.f) + 0.5f * gz[i] * sp[i];
    }
}

/* ---- mmd = MMD²(z, prior), RBF or IMQ kernel: value and dMMD²/dz together (mmd_value_grad) ---- */
/* k(r²) and its slope dk/d(r²): IMQ k = C / (C + r²) (c = C = 2d), RBF k = exp(c r²) (c = -1/(2d)). */
static inline vf kern(int imq, vf r2, float c, vf *slope)
{
    if (imq) {
        vf k = c / (c + r2);
        *slope = -(k * k) / c;
        return k;
    }
    vf k = exp_nonpositive_vec(r2 * c);
    *slope = k * c;
    return k;
}

/* One row of a kernel matrix: sum over j (j > i where tri) of k(a_i, b_j), b as SoA [D][Bp]; where gi,
 * adds the row's gradient with respect to a_i, sum_j 2 k'(r²)(a_i - b_j), into gi [D], and where gt,
 * its opposite for each b_j into gt (SoA [D][Bp]). Inlined with D constant for D = 1, 2 (the latents
 * of the seed's study): the differences then stay in registers. Lanes outside the pairs are masked,
 * so only the first and last blocks of a row pay for it. */
static inline __attribute__((always_inline)) float kernel_row_d(const int64_t D, int imq, float c, int64_t B,
                                                                 int64_t Bp, const float *ai, const float *bt,
                                                                 int64_t i, int tri, float *gi, float *gt)
{
    const vi lane = LANES;
    const vf zero = {0};
    vf acc = zero, ga[MAX_LATENT], df[MAX_LATENT];
    for (int64_t k = 0; gi && k < D; k++)
        ga[k] = zero;
    const int64_t first = tri ? (i + 1) / VL * VL : 0;
    for (int64_t j = first; j < B; j += VL) {
        vf r2 = zero, slope;
        for (int64_t k = 0; k < D; k++) {
            df[k] = ai[k] - ld(bt + k * Bp + j);
            r2 += df[k] * df[k];
        }
        vf kv = kern(imq, r2, c, &slope);
        if (j == first || j + VL > B) {
            vi idx = lane + (int32_t)j, ok = idx < (int32_t)B;
            if (tri)
                ok &= idx > (int32_t)i;
            kv = select(ok, kv, zero);
            slope = select(ok, slope, zero);
        }
        acc += kv;
        if (!gi)
            continue;
        slope *= 2.f;
        for (int64_t k = 0; k < D; k++) {
            vf g = slope * df[k];
            ga[k] += g;
            if (gt)
                st(gt + k * Bp + j, ld(gt + k * Bp + j) - g);
        }
    }
    for (int64_t k = 0; gi && k < D; k++)
        gi[k] += sum_vec(ga[k]);
    return sum_vec(acc);
}

static float kernel_row(int64_t d, int imq, float c, int64_t B, int64_t Bp, const float *ai, const float *bt,
                        int64_t i, int tri, float *gi, float *gt)
{
    if (d == 1)
        return kernel_row_d(1, imq, c, B, Bp, ai, bt, i, tri, gi, gt);
    if (d == 2)
        return kernel_row_d(2, imq, c, B, Bp, ai, bt, i, tri, gi, gt);
    return kernel_row_d(d, imq, c, B, Bp, ai, bt, i, tri, gi, gt);
}

static void to_soa(int64_t B, int64_t d, int64_t Bp, const float *a, float *at)
{
    for (int64_t k = 0; k < d; k++) {
        for (int64_t b = 0; b < B; b++)
            at[k * Bp + b] = a[b * d + k];
        for (int64_t b = B; b < Bp; b++)
            at[k * Bp + b] = 0.f;
    }
}

/* MMD² between z and p ([B, d] each, B >= 2): the unbiased U-statistic of vaebench.losses.mmd
 * (Gretton et al. 2012, eq. 3), pairs i < j counted once and doubled; writes dMMD²/dz [B, d] into g.
 * The prior's own term, a quarter of the work, does not depend on the parameters: it is left out unless
 * with_prior (its value is then missing from the result; it never changes the gradient, and it is finite
 * whatever the model does, so the divergence test on the total is the same). buf: 3·d·padv(B) floats. */
static float mmd_value_grad(int imq, int64_t B, int64_t d, const float *z, const float *p, float *g, float *buf,
                      int with_prior)
{
    const int64_t Bp = padv(B);
    float *zt = buf, *pt = zt + d * Bp, *gt = pt + d * Bp;
    const float c = imq ? 2.f * (float)d : -0.5f / (float)d;
    const float a = 2.f / ((float)B * (float)(B - 1)), bb = 2.f / ((float)B * (float)B);
    to_soa(B, d, Bp, z, zt);
    to_soa(B, d, Bp, p, pt);
    for (int64_t i = 0; i < d * Bp; i++)
        gt[i] = 0.f;
    float szz = 0.f, spp = 0.f, szp = 0.f;
    for (int64_t i = 0; i < B; i++) {
        float gzz[MAX_LATENT] = {0}, gzp[MAX_LATENT] = {0};
        szz += kernel_row(d, imq, c, B, Bp, z + i * d, zt, i, 1, gzz, gt);
        if (with_prior)
            spp += kernel_row(d, imq, c, B, Bp, p + i * d, pt, i, 1, NULL, NULL);
        szp += kernel_row(d, imq, c, B, Bp, z + i * d, pt, i, 0, gzp, NULL);
        for (int64_t k = 0; k < d; k++)
            g[i * d + k] = a * gzz[k] - bb * gzp[k];
    }
    for (int64_t i = 0; i < B; i++)
        for (int64_t k = 0; k < d; k++)
            g[i * d + k] += a * gt[k * Bp + i];
    return a * (szz + spp) - bb * szp;
}

/* dL/dz += slope · dMMD²/dz (gm, from mmd_value_grad) over nd = B d floats. */
ALWAYS_INLINE void mmd_grad(int64_t nd, float slope, const float *gm, float *gz)
{
    for (int64_t i = 0; i < nd; i++)
        gz[i] += slope * gm[i];
}

/* exp_scaled as an entry point, for the tests that check exp_vec against torch.exp. */
void vb_exp(int64_t n, const float *in, float scale, float *out) { exp_scaled(n, in, scale, out); }
