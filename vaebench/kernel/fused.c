/* The whole training step, model by model (vb_fused_steps): forward of the encoder, the sample, forward of
 * the decoder, the statistics, the objective's terms and their slopes, each statistic's gradient, backward
 * of both MLPs and Adam. One model's activations never leave L1/L2. Reads and writes what Step says.
 */
#include <math.h>
#include <string.h>

#include "kernel.h"
#include "simd.h"

int64_t vb_fused_scratch_floats(const Net *enc, const Net *dec, int64_t B, int64_t P)
{
    int64_t e = vb_scratch_floats(enc, B), d = vb_scratch_floats(dec, B), dz = dec->layer[0].n_in, nd = B * dz;
    int64_t nx = B * dec->layer[dec->n_layers - 1].n_out;
    return (e > d ? e : d) + vb_acts_floats(enc, B) + vb_acts_floats(dec, B) + 9 * nd + 2 * nx + P
           + 3 * dz * padv(B);
}

/* The objective of one model: total = Σ_i w_i f_i(s_i) over its terms, and the slope dL/ds of each
 * statistic into slope[stat], in term order; the KL's, per latent dimension, into g_kl [d] (the kl
 * statistic's slope on every dimension, kl_dim's on its own), where kl_k [d] holds kl_dim's values. */
static inline __attribute__((always_inline)) float step_terms(const Terms *tm, int64_t m, int64_t d,
                                                              const float *value, const float *kl_k,
                                                              float *slope, float *g_kl)
{
    float total = 0.f;
    for (int64_t i = 0; i < tm->n_terms; i++) {
        const float wi = tm->weight[i * tm->ts + m], ci = tm->at[i * tm->ts + m];
        const int64_t f = tm->shape[i], stat = tm->stat[i];
        if (stat == ST_KL_DIM) {
            float v = 0.f;
            for (int64_t k = 0; k < d; k++) {
                v += term_value(f, kl_k[k], ci);
                g_kl[k] += wi * term_slope(f, kl_k[k], ci);
            }
            total += wi * v;
            continue;
        }
        const float s = value[stat];
        const float g = wi * term_slope(f, s, ci);
        total += wi * term_value(f, s, ci);
        if (stat == ST_KL)
            for (int64_t k = 0; k < d; k++)
                g_kl[k] += g;
        else
            slope[stat] += g;
    }
    return total;
}

/* One step t of every model (see Step); x, noise, prior and the terms' w, at already at this step; the
 * logged values where `values` (else mmd and total may leave out the prior's own MMD term: mmd_value_grad).
 * Writes out[k*M + m] for k in enum Out, and alive/died_at as adam_one does. */
static void fused_step(const Step *st, const Terms *tm, const float *x, const float *noise, const float *prior,
                       int64_t t, int64_t values)
{
    const Net *enc = st->enc, *dec = st->dec;
    const int64_t B = st->B, M = st->models.M, P = st->models.P, n_weights = st->models.n_weights;
    const int64_t xs = st->x.model, ns = st->noise.model, ps = st->prior.model, n_terms = tm->n_terms;
    const int64_t *stat = tm->stat, *fn = tm->shape;
    float *flat = st->models.flat, *exp1 = st->models.exp1, *exp2 = st->models.exp2, *out = st->out;
    const float *lr = st->models.lr, *l2 = st->models.l2, *recon_var = st->recon_var;
    uint8_t *alive = st->models.alive;
    int64_t *died_at = st->models.died_at;
    float *scratch = st->scratch;

    const int64_t d = dec->layer[0].n_in, nd = B * d, n_x = dec->layer[dec->n_layers - 1].n_out, nx = B * n_x;
    const int64_t e = vb_scratch_floats(enc, B), dsc = vb_scratch_floats(dec, B);
    float *eacts = scratch + (e > dsc ? e : dsc), *dacts = eacts + vb_acts_floats(enc, B);
    float *mu = dacts + vb_acts_floats(dec, B), *lv = mu + nd, *sp = lv + nd, *zs = sp + nd, *var = zs + nd;
    float *gz = var + nd, *genc = gz + nd, *gm = genc + 2 * nd, *rec = gm + nd, *grec = rec + nx;
    float *gr = grec + nx, *mbuf = gr + P;
    const int stochastic = noise != NULL;
    int mmd_kind = -1, mmd_value = (int)values; /* the slope of a nonlinear MMD term needs its value */
    for (int64_t i = 0; i < n_terms; i++)
        if (stat[i] == ST_MMD_RBF || stat[i] == ST_MMD_IMQ) {
            mmd_kind = (int)stat[i];
            mmd_value |= fn[i] != FN_LINEAR;
        }
    adam_t a = adam_setup(&st->adam, t);
    memset(gr, 0, P * sizeof *gr); /* entries past the layout stay 0; backward_one writes all others */
    for (int64_t m = 0; m < M; m++) {
        float *p = flat + m * P, kl_k[MAX_LATENT] = {0}, g_kl[MAX_LATENT] = {0}, slope[N_STAT] = {0};
        float value[N_STAT]; /* a statistic this step does not compute is NaN: its terms diverge, loudly */
        for (int i = 0; i < N_STAT; i++)
            value[i] = NAN;
        const float *xm = x + m * xs, *z = stochastic ? zs : mu;
        forward_one(enc, p, xm, mu, d, nd, eacts, scratch, B); /* μ then log σ², [B, d] each */
        const float kl = stochastic ? sample_and_kl(B, d, mu, lv, noise + m * ns, sp, zs, var, kl_k) : 0.f;
        forward_one(dec, p, z, rec, n_x, 0, dacts, scratch, B);
        const float c_rec = 1.f / ((float)B * recon_var[m]);
        const float recon = recon_value(nx, rec, xm, c_rec);
        const float mmd = mmd_kind < 0 ? 0.f
                          : mmd_value_grad(mmd_kind == ST_MMD_IMQ, B, d, z, prior + m * ps, gm, mbuf,
                                           mmd_value);
        value[ST_RECON] = recon;
        value[ST_KL] = kl;
        if (mmd_kind >= 0)
            value[mmd_kind] = mmd;
        const float total = step_terms(tm, m, d, value, kl_k, slope, g_kl);
        out[OUT_RECON * M + m] = recon;
        out[OUT_KL * M + m] = kl;
        out[OUT_MMD * M + m] = mmd;
        out[OUT_TOTAL * M + m] = total;
        recon_grad(nx, rec, xm, c_rec, slope[ST_RECON], grec);
        backward_one(dec, p, z, dacts, grec, n_x, 0, gr, 2.f * l2[m], gz, scratch, B);
        if (mmd_kind >= 0)
            mmd_grad(nd, slope[mmd_kind], gm, gz);
        if (stochastic)
            kl_grad(B, d, g_kl, mu, var, sp, gz, genc);
        else
            memcpy(genc, gz, nd * sizeof *genc);
        backward_one(enc, p, xm, eacts, genc, d, nd, gr, 2.f * l2[m], NULL, scratch, B);
        adam_one(&a, P, n_weights, p, gr, exp1 + m * P, exp2 + m * P, lr[m], l2[m], out + OUT_TOTAL * M + m,
                 out + OUT_L2 * M + m, alive + m, died_at + m);
    }
}

/* n consecutive steps, s->adam.t, s->adam.t + 1, ..., in one call (the caller releases the GIL once, not
 * n times): the minibatch, noise and prior advance by their step strides, the terms' weights and
 * coefficients by a row of M; the logged values are computed on the last step only (where s->values).
 * The same numbers as n calls of one step. */
void vb_fused_steps(const Step *s, int64_t n)
{
    const int64_t M = s->models.M;
    for (int64_t k = 0; k < n; k++) {
        Terms tm = s->terms;
        tm.weight += k * M;
        tm.at += k * M;
        fused_step(s, &tm, s->x.at + k * s->x.step, s->noise.at ? s->noise.at + k * s->noise.step : NULL,
                   s->prior.at ? s->prior.at + k * s->prior.step : NULL, s->adam.t + k,
                   k == n - 1 ? s->values : 0);
    }
}
