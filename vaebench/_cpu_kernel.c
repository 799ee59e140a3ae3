/* vaebench's CPU kernel: the seed MLPs' forward and backward, and Adam, for M models, one model at a time.
 *
 * Why: a step of the seed VAE is a few dozen tiny matrix products (30-wide layers, a batch of 128). As
 * PyTorch operators over [M, ...] tensors every product streams all M models' activations through memory
 * and pays a dispatch; here one model's whole MLP (weights ~10 KB, activations ~16 KB per layer) stays in
 * L1/L2 while it is computed. Loaded by vaebench/cpu_kernel.py with ctypes (no Python headers, no torch
 * headers). vb_fused_step computes a whole training step, the objective included (stated as terms of
 * the standard statistics, vaebench/objective.py); vb_forward, vb_backward, vb_adam and vb_exp expose its
 * pieces to the tests.
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

/* floats per vector: one register. 16-wide vectors on AVX2 made GCC spill and scalarise the shuffles
 * (15-30x slower on a Zen 3), so narrower targets use 8 lanes. */
#if defined(__AVX512F__)
#define VL 16
#define LANES {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
#else
#define VL 8
#define LANES {0, 1, 2, 3, 4, 5, 6, 7}
#endif
typedef float vf __attribute__((vector_size(4 * VL)));
typedef int32_t vi __attribute__((vector_size(4 * VL)));

#if defined(__AVX512F__)
#define TR 8 /* tile: TR rows x TC vectors of accumulators (16 of 32 vector registers) */
#define TC 2
#else
#define TR 4 /* 8 of 16 AVX2 registers */
#define TC 2
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

/* Products with a narrow output (N = 1, 2 or 4 columns: the mean and log-variance, the reconstruction,
 * dL/dz) computed as dot products, vectors over the inputs: as tiles above, vectors over N outputs padded
 * to VL would spend most lanes on padding. out[r][o] = (bias ? bias[o] : 0) + sum_k A[r*as + k]*Wt[o*ws + k]
 * over k < KV*VL (A's and Wt's pad lanes hold zeros); out [R, N] contiguous. VL/N rows at a time give VL
 * dot products, summed across lanes together by a shuffle tree (30 shuffles for 16 sums). */
#if VL == 16
static inline vf sum_lanes(const vf v[VL])
{
    const vi lo8 = {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23};
    const vi hi8 = {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31};
    const vi lo4 = {0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27};
    const vi hi4 = {4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31};
    const vi lo2 = {0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29};
    const vi hi2 = {2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31};
    const vi ev = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
    const vi od = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
    vf a[8], b[4], c[2];
    for (int i = 0; i < 8; i++) /* lanes 0-7: 8 partial sums of v[2i], 8-15: of v[2i+1] */
        a[i] = __builtin_shuffle(v[2 * i], v[2 * i + 1], lo8) + __builtin_shuffle(v[2 * i], v[2 * i + 1], hi8);
    for (int i = 0; i < 4; i++) /* 4 partial sums of each of v[4i .. 4i+3] */
        b[i] = __builtin_shuffle(a[2 * i], a[2 * i + 1], lo4) + __builtin_shuffle(a[2 * i], a[2 * i + 1], hi4);
    for (int i = 0; i < 2; i++) /* 2 of each of v[8i .. 8i+7] */
        c[i] = __builtin_shuffle(b[2 * i], b[2 * i + 1], lo2) + __builtin_shuffle(b[2 * i], b[2 * i + 1], hi2);
    return __builtin_shuffle(c[0], c[1], ev) + __builtin_shuffle(c[0], c[1], od); /* lane i: sum of v[i] */
}
#else
static inline vf sum_lanes(const vf v[VL])
{
    const vi lo4 = {0, 1, 2, 3, 8, 9, 10, 11}, hi4 = {4, 5, 6, 7, 12, 13, 14, 15};
    const vi lo2 = {0, 1, 4, 5, 8, 9, 12, 13}, hi2 = {2, 3, 6, 7, 10, 11, 14, 15};
    const vi ev = {0, 2, 4, 6, 8, 10, 12, 14}, od = {1, 3, 5, 7, 9, 11, 13, 15};
    vf a[4], b[2];
    for (int i = 0; i < 4; i++) /* lanes 0-3: 4 partial sums of v[2i], 4-7: of v[2i+1] */
        a[i] = __builtin_shuffle(v[2 * i], v[2 * i + 1], lo4) + __builtin_shuffle(v[2 * i], v[2 * i + 1], hi4);
    for (int i = 0; i < 2; i++) /* 2 partial sums of each of v[4i .. 4i+3] */
        b[i] = __builtin_shuffle(a[2 * i], a[2 * i + 1], lo2) + __builtin_shuffle(a[2 * i], a[2 * i + 1], hi2);
    return __builtin_shuffle(b[0], b[1], ev) + __builtin_shuffle(b[0], b[1], od); /* lane i: sum of v[i] */
}
#endif

static inline __attribute__((always_inline)) void narrow_n(const long N, long R, long KV, const float *A, long as,
                                                            const float *Wt, long ws, const float *bias, float *out)
{
    const long RG = VL / N;
    vf bv = {0};
    if (bias)
        for (int i = 0; i < VL; i++)
            bv[i] = bias[i % N];
    long r = 0;
    for (; r + RG <= R; r += RG) {
        vf acc[VL];
        for (int i = 0; i < VL; i++) { /* row r + i / N, output i % N: the lane order of out's rows */
            const float *a = A + (r + i / N) * as, *w = Wt + (i % N) * ws;
            vf s = ld(a) * ld(w);
            for (long kv = 1; kv < KV; kv++)
                s += ld(a + kv * VL) * ld(w + kv * VL);
            acc[i] = s;
        }
        st(out + r * N, sum_lanes(acc) + bv);
    }
    for (; r < R; r++) /* the last R mod VL/N rows, one dot product at a time */
        for (long o = 0; o < N; o++) {
            vf s = {0};
            for (long kv = 0; kv < KV; kv++)
                s += ld(A + r * as + kv * VL) * ld(Wt + o * ws + kv * VL);
            vf one[VL] = {s};
            out[r * N + o] = sum_lanes(one)[0] + (bias ? bias[o] : 0.f);
        }
}

static int narrow_ok(long N) { return N == 1 || N == 2 || N == 4; }

static void narrow(long N, long R, long KV, const float *A, long as, const float *Wt, long ws, const float *bias,
                   float *out)
{
    if (N == 1)
        narrow_n(1, R, KV, A, as, Wt, ws, bias, out);
    else if (N == 2)
        narrow_n(2, R, KV, A, as, Wt, ws, bias, out);
    else
        narrow_n(4, R, KV, A, as, Wt, ws, bias, out);
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
 * [B, dd] array for PyTorch. n is a multiple of dd (the split of KernelMLP). */
static void scatter_cols(long B, long n, const float *src, long sp, float *out, long dd, long ss)
{
    for (long c0 = 0; c0 < n; c0 += dd)
        unpad_rows(B, dd, src + c0, sp, out + (c0 / dd) * ss, dd);
}

static void gather_cols(long B, long n, const float *g, long dd, long ss, float *dst, long dp)
{
    /* block by block, row by row: no division per element (it was a tenth of the backward) */
    for (long i = 0; i < B * dp; i += VL) /* dp is a multiple of VL */
        st(dst + i, (vf){0});
    for (long c0 = 0; c0 < n; c0 += dd)
        for (long b = 0; b < B; b++)
            for (long c = 0; c < dd && c0 + c < n; c++)
                dst[b * dp + c0 + c] = g[(c0 / dd) * ss + b * dd + c];
}

/* dst [C, dp] = src [R, C]^T with lanes R..dp-1 of each row zero (dp a multiple of VL, >= R): 16x16
 * blocks transposed in registers where whole, scalar at the edges (a 30x30 weight: 4x fewer moves). */
static void transpose(long R, long C, const float *src, float *dst, long dp)
{
#if VL == 16
    const vi lo = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
    const vi hi = {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
#else
    const vi lo = {0, 8, 1, 9, 2, 10, 3, 11}, hi = {4, 12, 5, 13, 6, 14, 7, 15};
#endif
    for (long i = 0; i < C * dp; i += VL)
        st(dst + i, (vf){0});
    long r0 = 0;
    for (; r0 + VL <= R; r0 += VL) {
        long c0 = 0;
        for (; c0 + VL <= C; c0 += VL) {
            vf v[VL], w[VL];
            for (int j = 0; j < VL; j++)
                v[j] = ld(src + (r0 + j) * C + c0);
            /* log2(VL) rounds of interleaving rows j and j + VL/2: row c of the result is column c */
            for (int round = 0; (1 << round) < VL; round++) {
                for (int j = 0; j < VL / 2; j++) {
                    w[2 * j] = __builtin_shuffle(v[j], v[j + VL / 2], lo);
                    w[2 * j + 1] = __builtin_shuffle(v[j], v[j + VL / 2], hi);
                }
                memcpy(v, w, sizeof v);
            }
            for (int c = 0; c < VL; c++)
                st(dst + (c0 + c) * dp + r0, v[c]);
        }
        for (; c0 < C; c0++)
            for (long j = 0; j < VL; j++)
                dst[c0 * dp + r0 + j] = src[(r0 + j) * C + c0];
    }
    for (; r0 < R; r0++)
        for (long c = 0; c < C; c++)
            dst[c * dp + r0] = src[r0 * C + c];
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
        long ws, op = padv(ly.n_out), ip = padv(ly.n_in);
        if (l + 1 == n && l > 0 && narrow_ok(ly.n_out)) { /* h's rows are padded: dot products */
            for (long o = 0; o < ly.n_out; o++) /* W^T [n_out, ip], zero-padded */
                for (long i = 0; i < ip; i++)
                    wbuf[o * ip + i] = i < ly.n_in ? p[ly.w_at + i * ly.n_out + o] : 0.f;
            float *dst = dd == ly.n_out ? out : tmp;
            narrow(ly.n_out, B, ip / VL, h, hs, wbuf, ip, p + ly.b_at, dst);
            if (dst == tmp)
                scatter_cols(B, ly.n_out, tmp, ly.n_out, out, dd, ss);
            break;
        }
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
        if (l == 0 && narrow_ok(ly.n_in)) { /* dL/dz: W's rows are the dot products' weights */
            for (long i = 0; i < ly.n_in; i++)
                for (long o = 0; o < op; o++)
                    tbuf[i * op + o] = o < ly.n_out ? p[ly.w_at + i * ly.n_out + o] : 0.f;
            narrow(ly.n_in, B, op / VL, g, gs, tbuf, op, NULL, gin);
            break;
        }
        transpose(ly.n_in, ly.n_out, p + ly.w_at, tbuf, ip);
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

/* exp(x) for 16 floats: Cephes' expf (range reduction by ln 2 in two parts, a degree-7 polynomial,
 * then 2^n through the exponent bits), within 2 ulp of the correctly rounded result for
 * |x| <= 87.3 (tested against torch.exp). exp(x > 88.72) = inf, exp(x < -87.33) = 0 (the engine flushes
 * denormals anyway), exp(NaN) = NaN, as PyTorch's. */
static inline vf select(vi mask, vf a, vf b) { return (vf)(((vi)a & mask) | ((vi)b & ~mask)); }

/* The core both exps share, for x clamped to [-87.34, 88.72]: n = round-to-nearest-even(x / ln 2) by the
 * 1.5·2^23 trick (|x / ln 2| < 2^22), and the polynomial p = exp(x - n ln 2), so exp(x) = p · 2^n. */
static inline __attribute__((always_inline)) vf exp_reduced(vf x, vf *n_out)
{
    const float magic = 12582912.f;
    vf n = (x * 1.44269504088896341f + magic) - magic;
    vf r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    vf p = 1.9875691500e-4f * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    *n_out = n;
    return p * (r * r) + r + 1.0f;
}

static inline vf exp16(vf x)
{
    const vf zero = {0}, lo = zero - 87.3365447505531f, hi = zero + 88.7228391116729996f;
    vf xc = select(x > hi, hi, select(x < lo, lo, x));
    xc = select(x != x, zero, xc); /* NaN lanes: 0 here (no NaN to convert to int), NaN again at the end */
    vf n, p = exp_reduced(xc, &n);
    vi ni = __builtin_convertvector(n, vi), n1 = ni >> 1; /* 2^n as 2^n1 · 2^(n - n1): both normal */
    vf y = p * (vf)((n1 + 127) << 23) * (vf)((ni - n1 + 127) << 23);
    y = select(x > 88.7228391116729996f, zero + __builtin_inff(), y);
    y = select(x < -87.3365447505531f, zero, y);
    return select(x != x, x, y);
}

/* Elementwise over n floats (n any size): out = exp(scale * in). */
static void exp_scaled(long n, const float *in, float scale, float *out)
{
    long i = 0;
    for (; i + VL <= n; i += VL)
        st(out + i, exp16(scale * ld(in + i)));
    if (i < n) {
        float buf[VL] = {0};
        for (long j = i; j < n; j++)
            buf[j - i] = scale * in[j];
        vf y = exp16(ld(buf));
        for (long j = i; j < n; j++)
            out[j] = y[j - i];
    }
}

/* exp_scaled as an entry point, for the tests that check exp16 against torch.exp. */
void vb_exp(long n, const float *in, float scale, float *out) { exp_scaled(n, in, scale, out); }


/* ---- The whole training step: an objective stated as terms of per-model statistics ----------------
 *
 * vaebench/objective.py states every shipped objective as a sum of terms w * f(s) of the statistics below
 * (the batch means of vaebench/losses.py), with f(s) = s, |s - c|, max(s, c) or ln max(s, c), and w, c per
 * model and step. Everything in the gradient follows: dL/ds = w * f'(s), then the statistics' own gradients. The
 * enums follow objective.STATS, objective.SHAPES and objective.OUTPUTS. */
enum { ST_RECON, ST_KL, ST_KL_DIM, ST_MMD_RBF, ST_MMD_IMQ };
enum { FN_LINEAR, FN_ABS, FN_FLOOR, FN_LOG };
enum { OUT_RECON, OUT_KL, OUT_MMD, OUT_TOTAL, OUT_L2, N_OUT };
#define MAX_LATENT 64 /* RunConfig's bound on latent_dim */

static inline float term_value(long fn, float s, float c)
{
    if (fn == FN_ABS)
        return fabsf(s - c);
    if (fn == FN_FLOOR)
        return s != s || s > c ? s : c; /* torch.maximum: NaN propagates */
    if (fn == FN_LOG)
        return logf(s != s || s > c ? s : c);
    return s;
}

static inline float term_slope(long fn, float s, float c)
{
    if (fn == FN_ABS) /* autograd's abs: sign(s - c), 0 at the kink */
        return s > c ? 1.f : (s < c ? -1.f : 0.f);
    if (fn == FN_FLOOR) /* autograd's maximum splits a tie: half the gradient to each side */
        return s > c ? 1.f : (s == c ? 0.5f : 0.f);
    if (fn == FN_LOG) /* d ln max(s, c)/ds: 1/s above the floor, none below, as FN_FLOOR at the tie */
        return s > c ? 1.f / s : (s == c ? 0.5f / c : 0.f);
    return 1.f;
}

static inline float sum16(vf v)
{
    float s = 0.f;
    for (int j = 0; j < VL; j++)
        s += v[j];
    return s;
}

/* exp(x) for x <= 0, as exp16 without its overflow and NaN lanes (a kernel's argument -r²/(2d) is never
 * positive; a NaN latent makes the reconstruction, and so the total, NaN anyway): below -87.3 it gives
 * exp(-87.3), about 1e-38, where exp16 gives 0. */
static inline vf exp_nonpositive16(vf x)
{
    const vf zero = {0}, lo = zero - 87.3365447505531f;
    x = select(x < lo, lo, x);
    vf n, p = exp_reduced(x, &n);
    return p * (vf)((__builtin_convertvector(n, vi) + 127) << 23); /* n >= -126: 2^n is normal */
}

/* k(r²) and its slope dk/d(r²): IMQ k = C / (C + r²) (c = C = 2d), RBF k = exp(c r²) (c = -1/(2d)). */
static inline vf kern(int imq, vf r2, float c, vf *slope)
{
    if (imq) {
        vf k = c / (c + r2);
        *slope = -(k * k) / c;
        return k;
    }
    vf k = exp_nonpositive16(r2 * c);
    *slope = k * c;
    return k;
}

/* One row of a kernel matrix: sum over j (j > i where tri) of k(a_i, b_j), b as SoA [D][Bp]; where gi,
 * adds the row's gradient with respect to a_i, sum_j 2 k'(r²)(a_i - b_j), into gi [D], and where gt,
 * its opposite for each b_j into gt (SoA [D][Bp]). Inlined with D constant for D = 1, 2 (the latents
 * of the seed's study): the differences then stay in registers. Lanes outside the pairs are masked,
 * so only the first and last blocks of a row pay for it. */
static inline __attribute__((always_inline)) float kernel_row_d(const long D, int imq, float c, long B, long Bp,
                                                                 const float *ai, const float *bt, long i,
                                                                 int tri, float *gi, float *gt)
{
    const vi lane = LANES;
    const vf zero = {0};
    vf acc = zero, ga[MAX_LATENT], df[MAX_LATENT];
    for (long k = 0; gi && k < D; k++)
        ga[k] = zero;
    const long first = tri ? (i + 1) / VL * VL : 0;
    for (long j = first; j < B; j += VL) {
        vf r2 = zero, slope;
        for (long k = 0; k < D; k++) {
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
        for (long k = 0; k < D; k++) {
            vf g = slope * df[k];
            ga[k] += g;
            if (gt)
                st(gt + k * Bp + j, ld(gt + k * Bp + j) - g);
        }
    }
    for (long k = 0; gi && k < D; k++)
        gi[k] += sum16(ga[k]);
    return sum16(acc);
}

static float kernel_row(long d, int imq, float c, long B, long Bp, const float *ai, const float *bt, long i,
                        int tri, float *gi, float *gt)
{
    if (d == 1)
        return kernel_row_d(1, imq, c, B, Bp, ai, bt, i, tri, gi, gt);
    if (d == 2)
        return kernel_row_d(2, imq, c, B, Bp, ai, bt, i, tri, gi, gt);
    return kernel_row_d(d, imq, c, B, Bp, ai, bt, i, tri, gi, gt);
}

static void to_soa(long B, long d, long Bp, const float *a, float *at)
{
    for (long k = 0; k < d; k++) {
        for (long b = 0; b < B; b++)
            at[k * Bp + b] = a[b * d + k];
        for (long b = B; b < Bp; b++)
            at[k * Bp + b] = 0.f;
    }
}

/* MMD² between z and p ([B, d] each, B >= 2): the unbiased U-statistic of vaebench.losses.mmd
 * (Gretton et al. 2012, eq. 3), pairs i < j counted once and doubled; writes dMMD²/dz [B, d] into g.
 * The prior's own term, a quarter of the work, does not depend on the parameters: it is left out unless
 * with_prior (its value is then missing from the result; it never changes the gradient, and it is finite
 * whatever the model does, so the divergence test on the total is the same). buf: 3·d·padv(B) floats. */
static float mmd_grad(int imq, long B, long d, const float *z, const float *p, float *g, float *buf,
                      int with_prior)
{
    const long Bp = padv(B);
    float *zt = buf, *pt = zt + d * Bp, *gt = pt + d * Bp;
    const float c = imq ? 2.f * (float)d : -0.5f / (float)d;
    const float a = 2.f / ((float)B * (float)(B - 1)), bb = 2.f / ((float)B * (float)B);
    to_soa(B, d, Bp, z, zt);
    to_soa(B, d, Bp, p, pt);
    for (long i = 0; i < d * Bp; i++)
        gt[i] = 0.f;
    float szz = 0.f, spp = 0.f, szp = 0.f;
    for (long i = 0; i < B; i++) {
        float gzz[MAX_LATENT] = {0}, gzp[MAX_LATENT] = {0};
        szz += kernel_row(d, imq, c, B, Bp, z + i * d, zt, i, 1, gzz, gt);
        if (with_prior)
            spp += kernel_row(d, imq, c, B, Bp, p + i * d, pt, i, 1, NULL, NULL);
        szp += kernel_row(d, imq, c, B, Bp, z + i * d, pt, i, 0, gzp, NULL);
        for (long k = 0; k < d; k++)
            g[i * d + k] = a * gzz[k] - bb * gzp[k];
    }
    for (long i = 0; i < B; i++)
        for (long k = 0; k < d; k++)
            g[i * d + k] += a * gt[k * Bp + i];
    return a * (szz + spp) - bb * szp;
}

long vb_fused_scratch_floats(const long *enc, const long *dec, long B, long P)
{
    long e = vb_scratch_floats(enc, B), d = vb_scratch_floats(dec, B), dz = layer(dec, 0).n_in, nd = B * dz;
    long nx = B * layer(dec, dec[0] - 1).n_out;
    return (e > d ? e : d) + vb_acts_floats(enc, B) + vb_acts_floats(dec, B) + 9 * nd + 2 * nx + P
           + 3 * dz * padv(B);
}

/* A whole training step, model by model: forward of the encoder, z = μ + exp(½ log σ²)·ε (z = μ for a
 * deterministic encoder: noise NULL), forward of the decoder, the statistics
 *   recon = Σ_{b,j} (x - x̂)² / (2 B σ²),   kl_k = Σ_b ½(μ² + σ² - 1 - log σ²) / B,   kl = Σ_k kl_k,
 *   mmd = MMD²(z, prior) (where an MMD term is stated; prior [B, d] at prior + m*ps),
 * the objective Σ_i w_i f_i(s_i) and its gradient, backward of both MLPs and adam_one: one model's
 * activations never leave L1/L2. Terms: stat[i], fn[i] (constants), w and c of model m at
 * w[i*ts + m], c[i*ts + m]. x [B, 2] at x + m*xs, noise [B, d] at noise + m*ns. Writes out[k*M + m] for
 * k in OUT_* (total with the L2 term), and alive/died_at as adam_one does. Where values is 0 (a step whose
 * numbers nobody logs), mmd and total may leave out the prior's own MMD term (see mmd_grad). */
void vb_fused_step(long M, const long *enc, const long *dec, float *flat, long P, long n_weights,
                   const float *x, long xs, const float *noise, long ns, const float *prior, long ps,
                   long n_terms, const int64_t *stat, const int64_t *fn, const float *w, const float *cs,
                   long ts, const float *recon_var, float *exp1, float *exp2, const float *lr,
                   const float *l2, float *out, long values, uint8_t *alive, int64_t *died_at, long t,
                   double beta1, double beta2, double eps_adam, float *scratch, long B)
{
    const long d = layer(dec, 0).n_in, nd = B * d, n_x = layer(dec, dec[0] - 1).n_out, nx = B * n_x;
    const long e = vb_scratch_floats(enc, B), dsc = vb_scratch_floats(dec, B);
    float *eacts = scratch + (e > dsc ? e : dsc), *dacts = eacts + vb_acts_floats(enc, B);
    float *mu = dacts + vb_acts_floats(dec, B), *lv = mu + nd, *sp = lv + nd, *zs = sp + nd, *var = zs + nd;
    float *gz = var + nd, *genc = gz + nd, *gm = genc + 2 * nd, *rec = gm + nd, *grec = rec + nx;
    float *gr = grec + nx, *mbuf = gr + P;
    const int stochastic = noise != NULL;
    int mmd_kind = -1, mmd_value = (int)values; /* the slope of a nonlinear MMD term needs its value */
    for (long i = 0; i < n_terms; i++)
        if (stat[i] == ST_MMD_RBF || stat[i] == ST_MMD_IMQ) {
            mmd_kind = (int)stat[i];
            mmd_value |= fn[i] != FN_LINEAR;
        }
    adam_t a = adam_setup(t, beta1, beta2, eps_adam);
    memset(gr, 0, P * sizeof *gr); /* entries past the layout stay 0; backward_one writes all others */
    for (long m = 0; m < M; m++) {
        float *p = flat + m * P, kl_k[MAX_LATENT] = {0}, g_kl[MAX_LATENT] = {0};
        const float *xm = x + m * xs, *z = stochastic ? zs : mu;
        forward_one(enc, p, xm, mu, d, nd, eacts, scratch, B); /* μ then log σ², [B, d] each */
        float kl = 0.f;
        if (stochastic) {
            const float *em = noise + m * ns;
            exp_scaled(nd, lv, 0.5f, sp);
            exp_scaled(nd, lv, 1.f, var);
            long i = 0;
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
            for (long k = 0; k < d; k++) {
                kl_k[k] *= 0.5f / (float)B;
                kl += kl_k[k];
            }
        }
        forward_one(dec, p, z, rec, n_x, 0, dacts, scratch, B);
        const float c_rec = 1.f / ((float)B * recon_var[m]);
        float sse = 0.f;
        {
            vf s = {0};
            long i = 0;
            for (; i + VL <= nx; i += VL) {
                vf diff = ld(rec + i) - ld(xm + i);
                s += diff * diff;
            }
            sse = sum16(s);
            for (; i < nx; i++) {
                float diff = rec[i] - xm[i];
                sse += diff * diff;
            }
        }
        const float recon = sse * (0.5f * c_rec);
        const float mmd = mmd_kind < 0 ? 0.f
                          : mmd_grad(mmd_kind == ST_MMD_IMQ, B, d, z, prior + m * ps, gm, mbuf, mmd_value);
        float total = 0.f, g_rec = 0.f, g_mmd = 0.f;
        for (long i = 0; i < n_terms; i++) {
            const float wi = w[i * ts + m], ci = cs[i * ts + m];
            const long f = fn[i];
            if (stat[i] == ST_KL_DIM) {
                float v = 0.f;
                for (long k = 0; k < d; k++) {
                    v += term_value(f, kl_k[k], ci);
                    g_kl[k] += wi * term_slope(f, kl_k[k], ci);
                }
                total += wi * v;
                continue;
            }
            const float s = stat[i] == ST_RECON ? recon : stat[i] == ST_KL ? kl : mmd;
            const float g = wi * term_slope(f, s, ci);
            total += wi * term_value(f, s, ci);
            if (stat[i] == ST_RECON)
                g_rec += g;
            else if (stat[i] == ST_KL)
                for (long k = 0; k < d; k++)
                    g_kl[k] += g;
            else
                g_mmd += g;
        }
        out[OUT_RECON * M + m] = recon;
        out[OUT_KL * M + m] = kl;
        out[OUT_MMD * M + m] = mmd;
        out[OUT_TOTAL * M + m] = total;
        {
            const float cg = g_rec * c_rec;
            long i = 0;
            for (; i + VL <= nx; i += VL)
                st(grec + i, (ld(rec + i) - ld(xm + i)) * cg);
            for (; i < nx; i++)
                grec[i] = (rec[i] - xm[i]) * cg;
        }
        backward_one(dec, p, z, dacts, grec, n_x, 0, gr, 2.f * l2[m], gz, scratch, B);
        if (mmd_kind >= 0)
            for (long i = 0; i < nd; i++)
                gz[i] += g_mmd * gm[i];
        if (stochastic) { /* dL/dμ = g_kl μ/B + gz, dL/dlog σ² = g_kl (σ² - 1)/(2B) + gz·σε/2 */
            float ck[MAX_LATENT];
            for (long k = 0; k < d; k++)
                ck[k] = g_kl[k] / (float)B;
            long i = 0;
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
        } else {
            memcpy(genc, gz, nd * sizeof *genc);
        }
        backward_one(enc, p, xm, eacts, genc, d, nd, gr, 2.f * l2[m], NULL, scratch, B);
        adam_one(&a, P, n_weights, p, gr, exp1 + m * P, exp2 + m * P, lr[m], l2[m], out + OUT_TOTAL * M + m,
                 out + OUT_L2 * M + m, alive + m, died_at + m);
    }
}

/* ``n`` consecutive steps of vb_fused_step in one call, t, t + 1, ..., t + n - 1 (the caller releases the
 * GIL once, not n times): the minibatch, noise and prior pointers advance by their step strides
 * (``x_step``, ``noise_step``, ``prior_step``, in bytes), the terms' weights and coefficients by a row of
 * M; the logged ``values`` are computed on the last step only. The same calls as n single steps. */
void vb_fused_steps(long n, long x_step, long noise_step, long prior_step, long M, const long *enc,
                    const long *dec, float *flat, long P, long n_weights, const float *x, long xs,
                    const float *noise, long ns, const float *prior, long ps, long n_terms, const int64_t *stat,
                    const int64_t *fn, const float *w, const float *cs, long ts, const float *recon_var,
                    float *exp1, float *exp2, const float *lr, const float *l2, float *out, long values,
                    uint8_t *alive, int64_t *died_at, long t, double beta1, double beta2, double eps_adam,
                    float *scratch, long B)
{
    for (long s = 0; s < n; s++)
        vb_fused_step(M, enc, dec, flat, P, n_weights, (const float *)((const char *)x + s * x_step), xs,
                      noise ? (const float *)((const char *)noise + s * noise_step) : NULL, ns,
                      prior ? (const float *)((const char *)prior + s * prior_step) : NULL, ps, n_terms, stat,
                      fn, w + s * M, cs + s * M, ts, recon_var, exp1, exp2, lr, l2, out,
                      s == n - 1 ? values : 0, alive, died_at, t + s, beta1, beta2, eps_adam, scratch, B);
}
