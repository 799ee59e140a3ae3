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

/* Copy rows [R, n] (stride ss) into [R, npad] (stride npad), zero-filling the pad lanes; or back. */
static void pad_rows(long R, long n, const float *src, long ss, float *dst, long npad)
{
    for (long r = 0; r < R; r++) {
        memcpy(dst + r * npad, src + r * ss, n * sizeof(float));
        memset(dst + r * npad + n, 0, (npad - n) * sizeof(float));
    }
}

static void unpad_rows(long R, long n, const float *src, long ss, float *dst, long ds)
{
    for (long r = 0; r < R; r++)
        memcpy(dst + r * ds, src + r * ss, n * sizeof(float));
}

/* The last layer's output columns in S blocks of dd: column c of row b lives at
 * out[(c / dd) * ss + b * dd + c % dd], so that each block (the mean, the log-variance) is one contiguous
 * [B, dd] array for PyTorch. */
static void scatter_cols(long B, long n, const float *src, long sp, float *out, long dd, long ss)
{
    for (long c0 = 0; c0 < n; c0 += dd)
        for (long b = 0; b < B; b++)
            memcpy(out + (c0 / dd) * ss + b * dd, src + b * sp + c0, dd * sizeof(float));
}

static void gather_cols(long B, long n, const float *g, long dd, long ss, float *dst, long dp)
{
    for (long b = 0; b < B; b++) {
        for (long c0 = 0; c0 < n; c0 += dd)
            memcpy(dst + b * dp + c0, g + (c0 / dd) * ss + b * dd, dd * sizeof(float));
        memset(dst + b * dp + n, 0, (dp - n) * sizeof(float));
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
    float *wbuf = scr, *tbuf = scr + mat, *gbuf[2] = {scr + 2 * mat + wmax, scr + 2 * mat + wmax + act};
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
        long hs = strides[l], op = padv(ly.n_out), ip = padv(ly.n_in), ws;
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
        } else {
            const float *w = padded_weight(ly, p, wbuf, &ws);
            if (op == ly.n_out) {
                gemm(EP_ADD, ly.n_in, B, op, h, 1, hs, g, gs, NULL, grad + ly.w_at, op, w, ws, two_l2);
            } else {
                gemm(EP_ADD, ly.n_in, B, op, h, 1, hs, g, gs, NULL, tmp, op, w, ws, two_l2);
                unpad_rows(ly.n_in, ly.n_out, tmp, op, grad + ly.w_at, ly.n_out);
            }
        }
        /* db[o] = sum_b g[b][o] */
        for (long c = 0; c < op; c += VL) {
            vf s = {0};
            for (long b = 0; b < B; b++)
                s += ld(g + b * gs + c);
            st(tmp + c, s);
        }
        memcpy(grad + ly.b_at, tmp, ly.n_out * sizeof(float));
        if (l == 0 && !gin)
            break;
        /* dh[b][i] = sum_o g[b][o] W[i][o], through ReLU's derivative for hidden inputs */
        for (long o = 0; o < ly.n_out; o++) {
            for (long i = 0; i < ly.n_in; i++)
                tbuf[o * ip + i] = p[ly.w_at + i * ly.n_out + o];
            for (long i = ly.n_in; i < ip; i++)
                tbuf[o * ip + i] = 0.f;
        }
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

/* One Adam step (Kingma & Ba 2015), in the order of PyTorch's fused CPU kernel, for every model still
 * alive, after the bookkeeping of the step: l2_out[m] = l2[m]·Σ w² over the first n_weights parameters
 * (before the update), total[m] += l2_out[m]; a model whose total or any gradient is not finite is marked
 * dead (alive[m] = 0, died_at[m] = step) and left as it is. t is the 1-based step count. */
void vb_adam(long M, long P, long n_weights, float *flat, const float *grad, float *exp1, float *exp2,
             const float *lr, const float *l2, float *total, float *l2_out, uint8_t *alive,
             int64_t *died_at, long t, double beta1, double beta2, double eps)
{
    const double bc1 = 1.0 - pow(beta1, (double)t), bc2 = 1.0 - pow(beta2, (double)t);
    const float b1 = (float)beta1, b2 = (float)beta2, e = (float)eps, bc2_sqrt = (float)sqrt(bc2);
    for (long m = 0; m < M; m++) {
        float *p = flat + m * P, *m1 = exp1 + m * P, *m2 = exp2 + m * P;
        const float *g = grad + m * P;
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
        l2_out[m] = l2[m] * s;
        total[m] += l2_out[m];
        if (!alive[m])
            continue;
        for (i = 0; i + VL <= P; i += VL)
            fin += ld(g + i) * 0.f; /* exact: finite*0 = 0, inf*0 and NaN*0 are NaN */
        float f = 0.f;
        for (int j = 0; j < VL; j++)
            f += fin[j];
        for (; i < P; i++)
            f += g[i] * 0.f;
        if (!isfinite(total[m]) || !isfinite(f)) {
            alive[m] = 0;
            died_at[m] = t - 1;
            continue;
        }
        const float step_size = (float)(lr[m] / bc1);
        for (i = 0; i < P; i++) {
            float gi = g[i];
            m1[i] += (1.f - b1) * (gi - m1[i]);
            m2[i] = b2 * m2[i] + (1.f - b2) * gi * gi;
            p[i] -= step_size * m1[i] / (sqrtf(m2[i]) / bc2_sqrt + e);
        }
    }
}
