/* Adam (Kingma & Ba 2015) over M models' rows of parameters, with the L2 bookkeeping and the rule that
 * freezes a diverged model. */
#include <math.h>

#include "kernel.h"
#include "simd.h"

/* Adam with its constants rounded once per step, as PyTorch's fused kernel rounds them. */
typedef struct { float b1, b2, eps, bc2_sqrt; double bc1; int64_t t; float omb1, omb2; } adam_t;

static adam_t adam_setup(const Adam *h, int64_t t)
{
    const double beta1 = h->beta1, beta2 = h->beta2, eps = h->eps;
    return (adam_t){(float)beta1, (float)beta2, (float)eps, (float)sqrt(1.0 - pow(beta2, (double)t)),
                    1.0 - pow(beta1, (double)t), t, (float)(1.0 - beta1), (float)(1.0 - beta2)};
}

/* Bookkeeping and Adam for one model: l2_out = l2·Σ w² over the first n_weights parameters (before the
 * update), total += l2_out; a model whose total or any gradient is not finite is marked dead (alive = 0,
 * died_at = step) and left as it is; else one Adam step (Kingma & Ba 2015) with the roundings of
 * PyTorch's fused CPU kernel: 1 - beta rounded from double and its two fused multiply-adds, written as
 * fmaf, and no product left beside a sum for the compiler to contract (an optimize attribute would, but
 * it resets the function's other options and stops its vectorisation). Bit-identical to
 * torch.optim.Adam(fused=True), tested. */
static void adam_one(const adam_t *a, int64_t P, int64_t n_weights, float *p, const float *g, float *m1,
                     float *m2, float lr, float l2, float *total, float *l2_out, uint8_t *alive, int64_t *died_at)
{
    vf sq = {0}, fin = {0};
    int64_t i = 0;
    for (; i + VL <= n_weights; i += VL) {
        vf w = ld(p + i);
        sq += w * w;
    }
    float s = 0.f;
    for (int j = 0; j < VL; j++)
        s += sq[j];
    for (; i < n_weights; i++)
        s += p[i] * p[i];
    *l2_out = l2 * s;
    *total += *l2_out;
    if (!*alive)
        return;
    for (i = 0; i + VL <= P; i += VL)
        fin += ld(g + i) * 0.f; /* exact: finite*0 = 0, inf*0 and NaN*0 are NaN */
    float f = 0.f;
    for (int j = 0; j < VL; j++)
        f += fin[j];
    for (; i < P; i++)
        f += g[i] * 0.f;
    if (!isfinite(*total) || !isfinite(f)) {
        *alive = 0;
        *died_at = a->t - 1;
        return;
    }
    const float step_size = (float)(lr / a->bc1), b2 = a->b2;
    for (i = 0; i < P; i++) {
        float gi = g[i];
        m1[i] = fmaf(a->omb1, gi - m1[i], m1[i]);
        m2[i] = fmaf(a->omb2 * gi, gi, b2 * m2[i]);
        p[i] -= step_size * m1[i] / (sqrtf(m2[i]) / a->bc2_sqrt + a->eps);
    }
}

/* adam_one for M models (rows of P floats), one step: adam->t is its 1-based count. total [M]: each
 * model's loss, to which its L2 term, also written to l2_out [M], is added. */
void vb_adam(const Models *models, const Adam *adam, const float *grad, float *total, float *l2_out)
{
    const Models *s = models;
    adam_t a = adam_setup(adam, adam->t);
    for (int64_t m = 0; m < s->M; m++)
        adam_one(&a, s->P, s->n_weights, s->flat + m * s->P, grad + m * s->P, s->exp1 + m * s->P,
                 s->exp2 + m * s->P, s->lr[m], s->l2[m], total + m, l2_out + m, s->alive + m, s->died_at + m);
}
