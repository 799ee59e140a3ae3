/* Everything that depends on the vector width, in one place: VL floats per vector (one register), the
 * matrix tiles' shape, the shuffle masks, and the vector helpers built on them (loads, stores, lane sums,
 * exp). Each .c file of the kernel uses these and never tests VL itself. */
#ifndef VB_SIMD_H
#define VB_SIMD_H
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
static inline int64_t padv(int64_t n) { return (n + VL - 1) / VL * VL; }

/* Row tiles of gemm (mlp.c), tallest first: a 30-row product has no single-row tiles (load-bound). */
#if TR > 4
#define GEMM_ROW_TILES(X) X(TR) X(4) X(2) X(1)
#else
#define GEMM_ROW_TILES(X) X(TR) X(2) X(1)
#endif

/* Interleave the lanes of two rows (the first and second halves of the result: lanes 0, VL, 1, VL+1, ...):
 * log2(VL) rounds of it transpose a VL x VL block in registers (transpose, mlp.c). */
#if VL == 16
#define INTERLEAVE_LO {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23}
#define INTERLEAVE_HI {8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31}
#else
#define INTERLEAVE_LO {0, 8, 1, 9, 2, 10, 3, 11}
#define INTERLEAVE_HI {4, 12, 5, 13, 6, 14, 7, 15}
#endif

/* VL dot products summed across lanes together by a shuffle tree (30 shuffles for 16 sums): lane i of
 * the result is the sum of v[i]'s lanes. */
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

/* The sum of one vector's lanes, in lane order. */
static inline float sum_vec(vf v)
{
    float s = 0.f;
    for (int j = 0; j < VL; j++)
        s += v[j];
    return s;
}

/* Lane by lane: a where mask, else b. */
static inline vf select(vi mask, vf a, vf b) { return (vf)(((vi)a & mask) | ((vi)b & ~mask)); }

/* exp(x) lane by lane (exp_vec): Cephes' expf (range reduction by ln 2 in two parts, a degree-7 polynomial,
 * then 2^n through the exponent bits), within 2 ulp of the correctly rounded result for
 * |x| <= 87.3 (tested against torch.exp). exp(x > 88.72) = inf, exp(x < -87.33) = 0 (the engine flushes
 * denormals anyway), exp(NaN) = NaN, as PyTorch's.
 *
 * exp_reduced, the core both exps share, for x clamped to [-87.34, 88.72]: n = round-to-nearest-even(x /
 * ln 2) by the 1.5·2^23 trick (|x / ln 2| < 2^22), and the polynomial p = exp(x - n ln 2), so exp(x) = p · 2^n. */
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

static inline vf exp_vec(vf x)
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
static void exp_scaled(int64_t n, const float *in, float scale, float *out)
{
    int64_t i = 0;
    for (; i + VL <= n; i += VL)
        st(out + i, exp_vec(scale * ld(in + i)));
    if (i < n) {
        float buf[VL] = {0};
        for (int64_t j = i; j < n; j++)
            buf[j - i] = scale * in[j];
        vf y = exp_vec(ld(buf));
        for (int64_t j = i; j < n; j++)
            out[j] = y[j - i];
    }
}

/* exp(x) for x <= 0, as exp_vec without its overflow and NaN lanes (a kernel's argument -r²/(2d) is never
 * positive; a NaN latent makes the reconstruction, and so the total, NaN anyway): below -87.3 it gives
 * exp(-87.3), about 1e-38, where exp_vec gives 0. */
static inline vf exp_nonpositive_vec(vf x)
{
    const vf zero = {0}, lo = zero - 87.3365447505531f;
    x = select(x < lo, lo, x);
    vf n, p = exp_reduced(x, &n);
    return p * (vf)((__builtin_convertvector(n, vi) + 127) << 23); /* n >= -126: 2^n is normal */
}

#endif
