/* vaebench's CPU kernel: the seed MLPs' forward and backward, and Adam, for M models, one model at a time.
 *
 * Why: a step of the seed VAE is a few dozen tiny matrix products (30-wide layers, a batch of 128). As
 * PyTorch operators over [M, ...] tensors every product streams all M models' activations through memory
 * and pays a dispatch; here one model's whole MLP (weights ~10 KB, activations ~16 KB per layer) stays in
 * L1/L2 while it is computed. Loaded by vaebench/cpu_kernel.py with ctypes (no Python headers, no torch
 * headers); the variant's loss stays in PyTorch.
 *
 * Layouts. Parameters: one row of P floats per model, as vaebench.model.Layout says (weight of a layer
 * [n_in, n_out] row-major at w_at, bias [n_out] at b_at). Activations are batch-major, [B, features],
 * inside the kernel with rows padded to a multiple of VL floats (pad lanes hold zeros), so every vector
 * runs over output features. Every model's numbers are computed by the same code on its own data in the
 * same order, so they do not depend on M or on which models are beside it. No -ffast-math: NaN and inf
 * propagate as in PyTorch (ReLU keeps NaN, ReLU's backward tests "input <= 0" as threshold_backward).
 *
 * spec = [n_layers, then per layer n_in, n_out, w_at, b_at].
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#define VL 16 /* floats per vector: one AVX-512 register, two AVX2 ones */
typedef float vf __attribute__((vector_size(4 * VL)));
typedef int32_t vi __attribute__((vector_size(4 * VL)));

#if defined(__AVX512F__)
#define TR 8 /* tile: TR rows x TC vectors of accumulators (16 of 32 vector registers) */
#define TC 2
#else
#define TR 4
#define TC 1
#endif

static inline vf ld(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
static inline void st(float *p, vf v) { memcpy(p, &v, sizeof v); }
static inline long padv(long n) { return (n + VL - 1) / VL * VL; }

enum { EP_PLAIN, EP_RELU, EP_MASK, EP_ADD };

/* One tile of out[r][c], r in [r0, r0 + RB), c in [c0, c0 + CV*VL):
 *   acc = (init ? init[c] : 0) + sum_k A[r*ar + k*ak] * Bm[k*bs + c]
 * then EP_PLAIN: acc; EP_RELU: acc < 0 ? 0 : acc; EP_MASK: aux[r][c] <= 0 ? 0 : acc;
 * EP_ADD: acc + coef * aux[r][c]. One function per (RB, CV), so the accumulators are fixed-size arrays
 * that the compiler keeps in registers. */
#define TILE_ARGS int ep, long r0, long c0, long K, const float *A, long ar, long ak, const float *Bm, \
    long bs, const float *init, float *out, long os, const float *aux, long auxs, float coef
#define DEFINE_TILE(RB, CV)                                                                        \
    static void tile_##RB##_##CV(TILE_ARGS)                                                        \
    {                                                                                              \
        vf acc[RB][CV];                                                                            \
        for (int j = 0; j < RB; j++)                                                               \
            for (int v = 0; v < CV; v++)                                                           \
                acc[j][v] = init ? ld(init + c0 + v * VL) : (vf){0};                               \
        const float *a = A + r0 * ar, *b = Bm + c0;                                                \
        for (long k = 0; k < K; k++) {                                                             \
            vf bv[CV];                                                                             \
            for (int v = 0; v < CV; v++)                                                           \
                bv[v] = ld(b + k * bs + v * VL);                                                   \
            for (int j = 0; j < RB; j++) {                                                         \
                float s = a[j * ar + k * ak];                                                      \
                for (int v = 0; v < CV; v++)                                                       \
                    acc[j][v] += s * bv[v];                                                        \
            }                                                                                      \
        }                                                                                          \
        const vf zero = {0};                                                                       \
        for (int j = 0; j < RB; j++)                                                               \
            for (int v = 0; v < CV; v++) {                                                         \
                long r = r0 + j, c = c0 + v * VL;                                                  \
                vf x = acc[j][v];                                                                  \
                if (ep == EP_RELU)                                                                 \
                    x = (vf)((vi)x & ~(vi)(x < zero));                                             \
                else if (ep == EP_MASK)                                                            \
                    x = (vf)((vi)x & ~(vi)(ld(aux + r * auxs + c) <= zero));                       \
                else if (ep == EP_ADD)                                                             \
                    x += coef * ld(aux + r * auxs + c);                                            \
                st(out + r * os + c, x);                                                           \
            }                                                                                      \
    }
DEFINE_TILE(8, 2)
DEFINE_TILE(8, 1)
DEFINE_TILE(4, 2)
DEFINE_TILE(4, 1)
DEFINE_TILE(2, 2)
DEFINE_TILE(2, 1)
DEFINE_TILE(1, 2)
DEFINE_TILE(1, 1)
#define TILE(RB, CV) TILE_(RB, CV)
#define TILE_(RB, CV) tile_##RB##_##CV

/* out [R, C] (C a multiple of VL) = init + A·Bm with A[r][k] = A[r*ar + k*ak], Bm [K, C] (row stride bs),
 * then the epilogue ep (see tile). */
#define GEMM_ROWS(RB, CV_MAX)                                                                      \
    for (; r + RB <= R; r += RB) {                                                                 \
        long c = 0;                                                                                \
        for (; c + CV_MAX * VL <= C; c += CV_MAX * VL)                                             \
            TILE(RB, CV_MAX)(ep, r, c, K, A, ar, ak, Bm, bs, init, out, os, aux, auxs, coef);       \
        for (; c < C; c += VL)                                                                     \
            TILE(RB, 1)(ep, r, c, K, A, ar, ak, Bm, bs, init, out, os, aux, auxs, coef);            \
    }

static void gemm(int ep, long R, long K, long C, const float *A, long ar, long ak, const float *Bm, long bs,
                 const float *init, float *out, long os, const float *aux, long auxs, float coef)
{
    long r = 0;
    /* rows in tiles of TR, then 4, 2, 1: a 30-row product has no single-row tiles (load-bound) */
    GEMM_ROWS(TR, TC)
#if TR > 4
    GEMM_ROWS(4, TC)
#endif
    GEMM_ROWS(2, TC)
    GEMM_ROWS(1, TC)
}

/* Copy rows [R, n] (stride ss) into [R, npad] (stride npad), zero-filling the pad lanes; or back. Plain
 * loops, not memcpy: rows are often 2-4 floats, where a library call costs more than the copy. */
static void pad_rows(long R, long n, const float *src, long ss, float *dst, long npad)
{
    for (long r = 0; r < R; r++) {
        for (long c = 0; c < n; c++)
            dst[r * npad + c] = src[r * ss + c];
        for (long c = n; c < npad; c++)
            dst[r * npad + c] = 0.f;
    }
}

static void unpad_rows(long R, long n, const float *src, long ss, float *dst, long ds)
{
    for (long r = 0; r < R; r++)
        for (long c = 0; c < n; c++)
            dst[r * ds + c] = src[r * ss + c];
}

/* The last layer's output columns in S blocks of dd: column c of row b lives at
 * out[(c / dd) * ss + b * dd + c % dd], so that each block (the mean, the log-variance) is one contiguous
 * [B, dd] array for PyTorch. */
static void scatter_cols(long B, long n, const float *src, long sp, float *out, long dd, long ss)
{
    for (long c0 = 0; c0 < n; c0 += dd)
        unpad_rows(B, dd, src + c0, sp, out + (c0 / dd) * ss, dd);
}

static void gather_cols(long B, long n, const float *g, long dd, long ss, float *dst, long dp)
{
    for (long b = 0; b < B; b++) {
        for (long c = 0; c < n; c++)
            dst[b * dp + c] = g[(c / dd) * ss + b * dd + c % dd];
        for (long c = n; c < dp; c++)
            dst[b * dp + c] = 0.f;
    }
}

typedef struct { long n_in, n_out, w_at, b_at; } layer_t;

static layer_t layer(const long *spec, long l)
{
    const long *s = spec + 1 + 4 * l;
    return (layer_t){s[0], s[1], s[2], s[3]};
}

/* Sizes, in floats, the caller allocates: scratch for one call, activations per model. */
static long max_width(const long *spec)
{
    long w = 0;
    for (long l = 0; l < spec[0]; l++) {
        layer_t ly = layer(spec, l);
        w = padv(ly.n_in) > w ? padv(ly.n_in) : w;
        w = padv(ly.n_out) > w ? padv(ly.n_out) : w;
    }
    return w;
}

static long max_matrix(const long *spec)
{
    long m = 0;
    for (long l = 0; l < spec[0]; l++) {
        layer_t ly = layer(spec, l);
        long a = ly.n_in * padv(ly.n_out), b = ly.n_out * padv(ly.n_in);
        m = a > m ? a : m;
        m = b > m ? b : m;
    }
    return m;
}

long vb_scratch_floats(const long *spec, long B)
{
    long act = B * max_width(spec), mat = max_matrix(spec);
    return 2 * mat + max_width(spec) + 3 * (act > mat ? act : mat);
}

long vb_acts_floats(const long *spec, long B)
{
    long n = 0;
    for (long l = 0; l + 1 < spec[0]; l++)
        n += B * padv(layer(spec, l).n_out);
    return n;
}

/* The weight [n_in, padv(n_out)] and bias [padv(n_out)] of a layer with vector-wide rows: the parameters
 * themselves where n_out is a multiple of VL, else zero-padded copies in scratch. */
static const float *padded_weight(layer_t ly, const float *p, float *buf, long *stride)
{
    long op = padv(ly.n_out);
    *stride = op;
    if (op == ly.n_out)
        return p + ly.w_at;
    pad_rows(ly.n_in, ly.n_out, p + ly.w_at, ly.n_out, buf, op);
    return buf;
}

static const float *padded_bias(layer_t ly, const float *p, float *buf)
{
    long op = padv(ly.n_out);
    if (op == ly.n_out)
        return p + ly.b_at;
    pad_rows(1, ly.n_out, p + ly.b_at, ly.n_out, buf, op);
    return buf;
}

static void forward_one(const long *spec, const float *p, const float *x, float *out, long dd, long ss,
                        float *acts, float *scr, long B)
{
    long n = spec[0], mat = max_matrix(spec);
    float *wbuf = scr, *bbuf = scr + 2 * mat, *tmp = bbuf + max_width(spec);
    const float *h = x;
    long hs = layer(spec, 0).n_in;
    for (long l = 0; l < n; l++) {
        layer_t ly = layer(spec, l);
        long ws, op = padv(ly.n_out);
        const float *w = padded_weight(ly, p, wbuf, &ws), *bias = padded_bias(ly, p, bbuf);
        if (l + 1 < n) {
            gemm(EP_RELU, B, ly.n_in, op, h, hs, 1, w, ws, bias, acts, op, NULL, 0, 0.f);
            h = acts;
            hs = op;
            acts += B * op;
        } else if (op == ly.n_out && dd == ly.n_out) {
            gemm(EP_PLAIN, B, ly.n_in, op, h, hs, 1, w, ws, bias, out, op, NULL, 0, 0.f);
        } else {
            gemm(EP_PLAIN, B, ly.n_in, op, h, hs, 1, w, ws, bias, tmp, op, NULL, 0, 0.f);
            scatter_cols(B, ly.n_out, tmp, op, out, dd, ss);
        }
    }
}

/* Forward of M models: x [M, B, n_in] (model m at x + m*xs); the output of model m goes to out + m*os in
 * blocks of dd columns, ss floats apart (see scatter_cols; dd = n_out: one [B, n_out] array); the hidden
 * activations each model's backward needs go to acts (at acts + m*as). */
void vb_forward(long M, const long *spec, const float *flat, long P, const float *x, long xs, float *out,
                long os, long dd, long ss, float *acts, long as, float *scratch, long B)
{
    for (long m = 0; m < M; m++)
        forward_one(spec, flat + m * P, x + m * xs, out + m * os, dd, ss, acts + m * as, scratch, B);
}

static void backward_one(const long *spec, const float *p, const float *x, const float *acts,
                         const float *gout, long dd, long ss, float *grad, float two_l2, float *gin,
                         float *scr, long B)
{
    long n = spec[0], mat = max_matrix(spec), wmax = max_width(spec);
    long act = B * wmax > mat ? B * wmax : mat;
    float *tbuf = scr + mat, *gbuf[2] = {scr + 2 * mat + wmax, scr + 2 * mat + wmax + act};
    float *tmp = gbuf[1] + act;
    /* where each layer's input lives: x, then the hidden activations in order */
    const float *inputs[64];
    long strides[64];
    inputs[0] = x;
    strides[0] = layer(spec, 0).n_in;
    for (long l = 1; l < n && l < 64; l++) {
        long op = padv(layer(spec, l - 1).n_out);
        inputs[l] = (l == 1 ? acts : inputs[l - 1] + B * strides[l - 1]);
        strides[l] = op;
    }
    layer_t last = layer(spec, n - 1);
    long gs = padv(last.n_out);
    const float *g = gout;
    if (gs != last.n_out || dd != last.n_out) {
        gather_cols(B, last.n_out, gout, dd, ss, gbuf[0], gs);
        g = gbuf[0];
    }
    int which = 1;
    for (long l = n - 1; l >= 0; l--) {
        layer_t ly = layer(spec, l);
        const float *h = inputs[l];
        long hs = strides[l], op = padv(ly.n_out), ip = padv(ly.n_in);
        /* dW[i][o] = sum_b h[b][i] g[b][o] + 2 lambda W[i][o]; a narrow layer (the last ones: 2 or 4
         * outputs) as dW^T[o][i], vectors over i, so no vector lanes are spent on padding (hidden
         * inputs only: their rows are padded to whole vectors, x's are not) */
        if (l > 0 && ly.n_out * ip < ly.n_in * op) {
            gemm(EP_PLAIN, ly.n_out, B, ip, g, 1, gs, h, hs, NULL, tmp, ip, NULL, 0, 0.f);
            for (long i = 0; i < ly.n_in; i++)
                for (long o = 0; o < ly.n_out; o++) {
                    long at = ly.w_at + i * ly.n_out + o;
                    grad[at] = tmp[o * ip + i] + two_l2 * p[at];
                }
        } else if (op == ly.n_out) {
            gemm(EP_ADD, ly.n_in, B, op, h, 1, hs, g, gs, NULL, grad + ly.w_at, op, p + ly.w_at, op, two_l2);
        } else {
            gemm(EP_PLAIN, ly.n_in, B, op, h, 1, hs, g, gs, NULL, tmp, op, NULL, 0, 0.f);
            for (long i = 0; i < ly.n_in; i++)
                for (long o = 0; o < ly.n_out; o++) {
                    long at = ly.w_at + i * ly.n_out + o;
                    grad[at] = tmp[i * op + o] + two_l2 * p[at];
                }
        }
        /* db[o] = sum_b g[b][o], in four independent partial sums (one chain would wait on each add) */
        for (long c = 0; c < op; c += VL) {
            vf s[4] = {{0}, {0}, {0}, {0}};
            long b = 0;
            for (; b + 4 <= B; b += 4)
                for (int j = 0; j < 4; j++)
                    s[j] += ld(g + (b + j) * gs + c);
            for (; b < B; b++)
                s[0] += ld(g + b * gs + c);
            st(tmp + c, (s[0] + s[1]) + (s[2] + s[3]));
        }
        for (long o = 0; o < ly.n_out; o++)
            grad[ly.b_at + o] = tmp[o];
        if (l == 0 && !gin)
            break;
        /* dh[b][i] = sum_o g[b][o] W[i][o], through ReLU's derivative for hidden inputs */
        for (long i = 0; i < ly.n_in; i++)  /* contiguous reads, strided writes */
            for (long o = 0; o < ly.n_out; o++)
                tbuf[o * ip + i] = p[ly.w_at + i * ly.n_out + o];
        for (long o = 0; o < ly.n_out; o++)
            for (long i = ly.n_in; i < ip; i++)
                tbuf[o * ip + i] = 0.f;
        if (l > 0) {
            float *gn = gbuf[which];
            gemm(EP_MASK, B, ly.n_out, ip, g, gs, 1, tbuf, ip, NULL, gn, ip, h, hs, 0.f);
            g = gn;
            gs = ip;
            which = 1 - which;
        } else {
            gemm(EP_PLAIN, B, ly.n_out, ip, g, gs, 1, tbuf, ip, NULL, tmp, ip, NULL, 0, 0.f);
            unpad_rows(B, ly.n_in, tmp, ip, gin, ly.n_in);
        }
    }
}

/* Backward of M models from gout = dL/d(output), laid out as vb_forward's output (model m at gout + m*gs,
 * blocks of dd columns ss apart): writes every weight and
 * bias gradient into grad [M, P] (the weights' with the L2 term 2*lambda*W added, lambda = l2[m]) and,
 * if gin is not NULL, dL/d(input) [M, B, n_in] (at gin + m*gis). x and acts as given to vb_forward. */
void vb_backward(long M, const long *spec, const float *flat, long P, const float *x, long xs,
                 const float *acts, long as, const float *gout, long gs, long dd, long ss, float *grad,
                 const float *l2, float *gin, long gis, float *scratch, long B)
{
    for (long m = 0; m < M; m++)
        backward_one(spec, flat + m * P, x + m * xs, acts + m * as, gout + m * gs, dd, ss, grad + m * P,
                     2.f * l2[m], gin ? gin + m * gis : NULL, scratch, B);
}

typedef struct { float b1, b2, eps, bc2_sqrt; double bc1; long t; float omb1, omb2; } adam_t;

static adam_t adam_setup(long t, double beta1, double beta2, double eps)
{
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
static void adam_one(const adam_t *a, long P, long n_weights, float *p, const float *g, float *m1, float *m2,
                     float lr, float l2, float *total, float *l2_out, uint8_t *alive, int64_t *died_at)
{
    vf sq = {0}, fin = {0};
    long i = 0;
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

/* adam_one for M models (rows of P floats); t is the 1-based step count. */
void vb_adam(long M, long P, long n_weights, float *flat, const float *grad, float *exp1, float *exp2,
             const float *lr, const float *l2, float *total, float *l2_out, uint8_t *alive,
             int64_t *died_at, long t, double beta1, double beta2, double eps)
{
    adam_t a = adam_setup(t, beta1, beta2, eps);
    for (long m = 0; m < M; m++)
        adam_one(&a, P, n_weights, flat + m * P, grad + m * P, exp1 + m * P, exp2 + m * P, lr[m], l2[m],
                 total + m, l2_out + m, alive + m, died_at + m);
}

long vb_step_scratch_floats(const long *enc, const long *dec, long B)
{
    long e = vb_scratch_floats(enc, B), d = vb_scratch_floats(dec, B);
    return (e > d ? e : d) + 3 * B * layer(dec, 0).n_in;
}

/* The backward half of a training step, model by model (its data stay in cache): the decoder's backward
 * from g_recon, the chain rule through z = mu + exp(logvar/2)*eps, the encoder's backward, then adam_one.
 *
 * The loss saw mu, logvar, z and recon as separate leaves; g_mu, g_lv, g_z are its gradients with
 * respect to them ([M, B, d] each, contiguous). spread = exp(logvar/2)*eps is NULL for a deterministic
 * encoder (z is mu; g_lv and g_z are then ignored); g_lv or g_z NULL is a zero gradient. With gz = g_z + dL/dz through the decoder:
 *   dL/dmu = g_mu + gz,   dL/dlogvar = g_lv + gz * spread / 2.
 * x [M, B, 2] at x + m*xs and z [M, B, d] as given to the forward calls; enc_acts/dec_acts their
 * activations; g_recon [M, B, 2] contiguous. */
void vb_step_backward(long M, const long *enc, const long *dec, float *flat, long P, long n_weights,
                      const float *x, long xs, const float *z, const float *enc_acts, long eas,
                      const float *dec_acts, long das, const float *g_recon, const float *g_mu,
                      const float *g_lv, const float *g_z, const float *spread, float *grad, float *exp1,
                      float *exp2, const float *lr, const float *l2, float *total, float *l2_out,
                      uint8_t *alive, int64_t *died_at, long t, double beta1, double beta2, double eps,
                      float *scratch, long B)
{
    const long d = layer(dec, 0).n_in, nd = B * d, n_out = layer(dec, dec[0] - 1).n_out;
    const long e = vb_scratch_floats(enc, B), dsc = vb_scratch_floats(dec, B);
    float *gz = scratch + (e > dsc ? e : dsc), *genc = gz + nd;
    const int stochastic = spread != NULL;
    adam_t a = adam_setup(t, beta1, beta2, eps);
    for (long m = 0; m < M; m++) {
        float *p = flat + m * P, *gr = grad + m * P;
        backward_one(dec, p, z + m * nd, dec_acts + m * das, g_recon + m * B * n_out, n_out, 0, gr,
                     2.f * l2[m], gz, scratch, B);
        const float *gm = g_mu + m * nd;
        if (stochastic) {
            const float *gl = g_lv ? g_lv + m * nd : NULL, *gzl = g_z ? g_z + m * nd : NULL;
            const float *sp = spread + m * nd;
            for (long i = 0; i < nd; i++) {
                float gzi = gzl ? gz[i] + gzl[i] : gz[i];
                genc[i] = gm[i] + gzi;
                genc[nd + i] = (gl ? gl[i] : 0.f) + 0.5f * gzi * sp[i];
            }
        } else {
            for (long i = 0; i < nd; i++)
                genc[i] = gm[i] + gz[i];
        }
        backward_one(enc, p, x + m * xs, enc_acts + m * eas, genc, d, nd, gr, 2.f * l2[m], NULL, scratch, B);
        adam_one(&a, P, n_weights, p, gr, exp1 + m * P, exp2 + m * P, lr[m], l2[m], total + m, l2_out + m,
                 alive + m, died_at + m);
    }
}
