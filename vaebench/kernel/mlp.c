/* The MLP of M models, one model at a time: forward, backward, and the products they are made of.
 *
 * Why: a step of the seed VAE is a few dozen tiny matrix products (30-wide layers, a batch of 128). As
 * PyTorch operators over [M, ...] tensors every product streams all M models' activations through memory
 * and pays a dispatch; here one model's whole MLP (weights ~10 KB, activations ~16 KB per layer) stays in
 * L1/L2 while it is computed. Activations are batch-major, [B, features], with rows padded to a multiple
 * of VL floats (pad lanes hold zeros), so every vector runs over output features. Every model's numbers
 * are computed by the same code on its own data in the same order, so they do not depend on M or on
 * which models are beside it. No -ffast-math: NaN and inf propagate as in PyTorch (ReLU keeps NaN, ReLU's
 * backward tests "input <= 0" as threshold_backward).
 */
#include "kernel.h"
#include "simd.h"

enum { EP_PLAIN, EP_RELU, EP_MASK, EP_ADD };

/* One tile of out[r][c], r in [r0, r0 + RB), c in [c0, c0 + CV*VL):
 *   acc = (init ? init[c] : 0) + sum_k A[r*ar + k*ak] * Bm[k*bs + c]
 * then EP_PLAIN: acc; EP_RELU: acc < 0 ? 0 : acc; EP_MASK: aux[r][c] <= 0 ? 0 : acc;
 * EP_ADD: acc + coef * aux[r][c]. One function per (RB, CV), so the accumulators are fixed-size arrays
 * that the compiler keeps in registers. */
#define TILE_ARGS int ep, int64_t r0, int64_t c0, int64_t K, const float *A, int64_t ar, int64_t ak, \
    const float *Bm, \
    int64_t bs, const float *init, float *out, int64_t os, const float *aux, int64_t auxs, float coef
#define DEFINE_TILE(RB, CV)                                                                        \
    static void tile_##RB##_##CV(TILE_ARGS)                                                        \
    {                                                                                              \
        vf acc[RB][CV];                                                                            \
        for (int j = 0; j < RB; j++)                                                               \
            for (int v = 0; v < CV; v++)                                                           \
                acc[j][v] = init ? ld(init + c0 + v * VL) : (vf){0};                               \
        const float *a = A + r0 * ar, *b = Bm + c0;                                                \
        for (int64_t k = 0; k < K; k++) {                                                             \
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
                int64_t r = r0 + j, c = c0 + v * VL;                                                  \
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
        int64_t c = 0;                                                                                \
        for (; c + CV_MAX * VL <= C; c += CV_MAX * VL)                                             \
            TILE(RB, CV_MAX)(ep, r, c, K, A, ar, ak, Bm, bs, init, out, os, aux, auxs, coef);       \
        for (; c < C; c += VL)                                                                     \
            TILE(RB, 1)(ep, r, c, K, A, ar, ak, Bm, bs, init, out, os, aux, auxs, coef);            \
    }

static void gemm(int ep, int64_t R, int64_t K, int64_t C, const float *A, int64_t ar, int64_t ak, const float *Bm,
                 int64_t bs, const float *init, float *out, int64_t os, const float *aux, int64_t auxs, float coef)
{
    int64_t r = 0;
    /* rows in tiles of TR, then 4, 2, 1: a 30-row product has no single-row tiles (load-bound) */
    GEMM_ROWS(TR, TC)
#define GEMM_ROW_TILE(RB) GEMM_ROWS(RB, TC)
    GEMM_ROW_TILES(GEMM_ROW_TILE)
#undef GEMM_ROW_TILE
}

/* Products with a narrow output (N = 1, 2 or 4 columns: the mean and log-variance, the reconstruction,
 * dL/dz) computed as dot products, vectors over the inputs: as tiles above, vectors over N outputs padded
 * to VL would spend most lanes on padding. out[r][o] = (bias ? bias[o] : 0) + sum_k A[r*as + k]*Wt[o*ws + k]
 * over k < KV*VL (A's and Wt's pad lanes hold zeros); out [R, N] contiguous. VL/N rows at a time give VL
 * dot products, summed across lanes together by a shuffle tree (30 shuffles for 16 sums). */

static inline __attribute__((always_inline)) void narrow_n(const int64_t N, int64_t R, int64_t KV, const float *A,
                                                            int64_t as, const float *Wt, int64_t ws,
                                                            const float *bias, float *out)
{
    const int64_t RG = VL / N;
    vf bv = {0};
    if (bias)
        for (int i = 0; i < VL; i++)
            bv[i] = bias[i % N];
    int64_t r = 0;
    for (; r + RG <= R; r += RG) {
        vf acc[VL];
        for (int i = 0; i < VL; i++) { /* row r + i / N, output i % N: the lane order of out's rows */
            const float *a = A + (r + i / N) * as, *w = Wt + (i % N) * ws;
            vf s = ld(a) * ld(w);
            for (int64_t kv = 1; kv < KV; kv++)
                s += ld(a + kv * VL) * ld(w + kv * VL);
            acc[i] = s;
        }
        st(out + r * N, sum_lanes(acc) + bv);
    }
    for (; r < R; r++) /* the last R mod VL/N rows, one dot product at a time */
        for (int64_t o = 0; o < N; o++) {
            vf s = {0};
            for (int64_t kv = 0; kv < KV; kv++)
                s += ld(A + r * as + kv * VL) * ld(Wt + o * ws + kv * VL);
            vf one[VL] = {s};
            out[r * N + o] = sum_lanes(one)[0] + (bias ? bias[o] : 0.f);
        }
}

static int narrow_ok(int64_t N) { return N == 1 || N == 2 || N == 4; }

static void narrow(int64_t N, int64_t R, int64_t KV, const float *A, int64_t as, const float *Wt, int64_t ws,
                   const float *bias, float *out)
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
static void pad_rows(int64_t R, int64_t n, const float *src, int64_t ss, float *dst, int64_t npad)
{
    for (int64_t r = 0; r < R; r++) {
        for (int64_t c = 0; c < n; c++)
            dst[r * npad + c] = src[r * ss + c];
        for (int64_t c = n; c < npad; c++)
            dst[r * npad + c] = 0.f;
    }
}

static void unpad_rows(int64_t R, int64_t n, const float *src, int64_t ss, float *dst, int64_t ds)
{
    for (int64_t r = 0; r < R; r++)
        for (int64_t c = 0; c < n; c++)
            dst[r * ds + c] = src[r * ss + c];
}

/* The last layer's output columns in S blocks of dd: column c of row b lives at
 * out[(c / dd) * ss + b * dd + c % dd], so that each block (the mean, the log-variance) is one contiguous
 * [B, dd] array for PyTorch. n is a multiple of dd (the split of KernelMLP). */
static void scatter_cols(int64_t B, int64_t n, const float *src, int64_t sp, float *out, int64_t dd, int64_t ss)
{
    for (int64_t c0 = 0; c0 < n; c0 += dd)
        unpad_rows(B, dd, src + c0, sp, out + (c0 / dd) * ss, dd);
}

static void gather_cols(int64_t B, int64_t n, const float *g, int64_t dd, int64_t ss, float *dst, int64_t dp)
{
    /* block by block, row by row: no division per element (it was a tenth of the backward) */
    for (int64_t i = 0; i < B * dp; i += VL) /* dp is a multiple of VL */
        st(dst + i, (vf){0});
    for (int64_t c0 = 0; c0 < n; c0 += dd)
        for (int64_t b = 0; b < B; b++)
            for (int64_t c = 0; c < dd && c0 + c < n; c++)
                dst[b * dp + c0 + c] = g[(c0 / dd) * ss + b * dd + c];
}

/* dst [C, dp] = src [R, C]^T with lanes R..dp-1 of each row zero (dp a multiple of VL, >= R): 16x16
 * blocks transposed in registers where whole, scalar at the edges (a 30x30 weight: 4x fewer moves). */
static void transpose(int64_t R, int64_t C, const float *src, float *dst, int64_t dp)
{
    const vi lo = INTERLEAVE_LO, hi = INTERLEAVE_HI;
    for (int64_t i = 0; i < C * dp; i += VL)
        st(dst + i, (vf){0});
    int64_t r0 = 0;
    for (; r0 + VL <= R; r0 += VL) {
        int64_t c0 = 0;
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
            for (int64_t j = 0; j < VL; j++)
                dst[c0 * dp + r0 + j] = src[(r0 + j) * C + c0];
    }
    for (; r0 < R; r0++)
        for (int64_t c = 0; c < C; c++)
            dst[c * dp + r0] = src[r0 * C + c];
}

/* Sizes, in floats, the caller allocates: scratch for one call, activations per model. */
static int64_t max_width(const Net *net)
{
    int64_t w = 0;
    for (int64_t l = 0; l < net->n_layers; l++) {
        Layer ly = net->layer[l];
        w = padv(ly.n_in) > w ? padv(ly.n_in) : w;
        w = padv(ly.n_out) > w ? padv(ly.n_out) : w;
    }
    return w;
}

static int64_t max_matrix(const Net *net)
{
    int64_t m = 0;
    for (int64_t l = 0; l < net->n_layers; l++) {
        Layer ly = net->layer[l];
        int64_t a = ly.n_in * padv(ly.n_out), b = ly.n_out * padv(ly.n_in);
        m = a > m ? a : m;
        m = b > m ? b : m;
    }
    return m;
}

int64_t vb_scratch_floats(const Net *net, int64_t B)
{
    int64_t act = B * max_width(net), mat = max_matrix(net);
    return 2 * mat + max_width(net) + 3 * (act > mat ? act : mat);
}

int64_t vb_acts_floats(const Net *net, int64_t B)
{
    int64_t n = 0;
    for (int64_t l = 0; l + 1 < net->n_layers; l++)
        n += B * padv(net->layer[l].n_out);
    return n;
}

/* The weight [n_in, padv(n_out)] and bias [padv(n_out)] of a layer with vector-wide rows: the parameters
 * themselves where n_out is a multiple of VL, else zero-padded copies in scratch. */
static const float *padded_weight(Layer ly, const float *p, float *buf, int64_t *stride)
{
    int64_t op = padv(ly.n_out);
    *stride = op;
    if (op == ly.n_out)
        return p + ly.w_at;
    pad_rows(ly.n_in, ly.n_out, p + ly.w_at, ly.n_out, buf, op);
    return buf;
}

static const float *padded_bias(Layer ly, const float *p, float *buf)
{
    int64_t op = padv(ly.n_out);
    if (op == ly.n_out)
        return p + ly.b_at;
    pad_rows(1, ly.n_out, p + ly.b_at, ly.n_out, buf, op);
    return buf;
}

static void forward_one(const Net *net, const float *p, const float *x, float *out, int64_t dd, int64_t ss,
                        float *acts, float *scr, int64_t B)
{
    int64_t n = net->n_layers, mat = max_matrix(net);
    float *wbuf = scr, *bbuf = scr + 2 * mat, *tmp = bbuf + max_width(net);
    const float *h = x;
    int64_t hs = net->layer[0].n_in;
    for (int64_t l = 0; l < n; l++) {
        Layer ly = net->layer[l];
        int64_t ws, op = padv(ly.n_out), ip = padv(ly.n_in);
        if (l + 1 == n && l > 0 && narrow_ok(ly.n_out)) { /* h's rows are padded: dot products */
            for (int64_t o = 0; o < ly.n_out; o++) /* W^T [n_out, ip], zero-padded */
                for (int64_t i = 0; i < ip; i++)
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

/* Forward of M models (see Mlp): the output of model m goes to out + m*os, in blocks of c->dd columns
 * c->ss floats apart (see scatter_cols; dd = n_out: one [B, n_out] array). */
void vb_forward(const Mlp *c, float *out, int64_t os)
{
    for (int64_t m = 0; m < c->M; m++)
        forward_one(c->net, c->flat + m * c->P, c->x + m * c->xs, out + m * os, c->dd, c->ss,
                    c->acts + m * c->as, c->scratch, c->B);
}

static void backward_one(const Net *net, const float *p, const float *x, const float *acts,
                         const float *gout, int64_t dd, int64_t ss, float *grad, float two_l2, float *gin,
                         float *scr, int64_t B)
{
    int64_t n = net->n_layers, mat = max_matrix(net), wmax = max_width(net);
    int64_t act = B * wmax > mat ? B * wmax : mat;
    float *tbuf = scr + mat, *gbuf[2] = {scr + 2 * mat + wmax, scr + 2 * mat + wmax + act};
    float *tmp = gbuf[1] + act;
    /* where each layer's input lives: x, then the hidden activations in order */
    const float *inputs[MAX_LAYERS];
    int64_t strides[MAX_LAYERS];
    inputs[0] = x;
    strides[0] = net->layer[0].n_in;
    for (int64_t l = 1; l < n && l < MAX_LAYERS; l++) {
        int64_t op = padv(net->layer[l - 1].n_out);
        inputs[l] = (l == 1 ? acts : inputs[l - 1] + B * strides[l - 1]);
        strides[l] = op;
    }
    Layer last = net->layer[n - 1];
    int64_t gs = padv(last.n_out);
    const float *g = gout;
    if (gs != last.n_out || dd != last.n_out) {
        gather_cols(B, last.n_out, gout, dd, ss, gbuf[0], gs);
        g = gbuf[0];
    }
    int which = 1;
    for (int64_t l = n - 1; l >= 0; l--) {
        Layer ly = net->layer[l];
        const float *h = inputs[l];
        int64_t hs = strides[l], op = padv(ly.n_out), ip = padv(ly.n_in);
        /* dW[i][o] = sum_b h[b][i] g[b][o] + 2 lambda W[i][o]; a narrow layer (the last ones: 2 or 4
         * outputs) as dW^T[o][i], vectors over i, so no vector lanes are spent on padding (hidden
         * inputs only: their rows are padded to whole vectors, x's are not) */
        if (l > 0 && ly.n_out * ip < ly.n_in * op) {
            gemm(EP_PLAIN, ly.n_out, B, ip, g, 1, gs, h, hs, NULL, tmp, ip, NULL, 0, 0.f);
            for (int64_t i = 0; i < ly.n_in; i++)
                for (int64_t o = 0; o < ly.n_out; o++) {
                    int64_t at = ly.w_at + i * ly.n_out + o;
                    grad[at] = tmp[o * ip + i] + two_l2 * p[at];
                }
        } else if (op == ly.n_out) {
            gemm(EP_ADD, ly.n_in, B, op, h, 1, hs, g, gs, NULL, grad + ly.w_at, op, p + ly.w_at, op, two_l2);
        } else {
            gemm(EP_PLAIN, ly.n_in, B, op, h, 1, hs, g, gs, NULL, tmp, op, NULL, 0, 0.f);
            for (int64_t i = 0; i < ly.n_in; i++)
                for (int64_t o = 0; o < ly.n_out; o++) {
                    int64_t at = ly.w_at + i * ly.n_out + o;
                    grad[at] = tmp[i * op + o] + two_l2 * p[at];
                }
        }
        /* db[o] = sum_b g[b][o], in four independent partial sums (one chain would wait on each add) */
        for (int64_t c = 0; c < op; c += VL) {
            vf s[4] = {{0}, {0}, {0}, {0}};
            int64_t b = 0;
            for (; b + 4 <= B; b += 4)
                for (int j = 0; j < 4; j++)
                    s[j] += ld(g + (b + j) * gs + c);
            for (; b < B; b++)
                s[0] += ld(g + b * gs + c);
            st(tmp + c, (s[0] + s[1]) + (s[2] + s[3]));
        }
        for (int64_t o = 0; o < ly.n_out; o++)
            grad[ly.b_at + o] = tmp[o];
        if (l == 0 && !gin)
            break;
        /* dh[b][i] = sum_o g[b][o] W[i][o], through ReLU's derivative for hidden inputs */
        if (l == 0 && narrow_ok(ly.n_in)) { /* dL/dz: W's rows are the dot products' weights */
            for (int64_t i = 0; i < ly.n_in; i++)
                for (int64_t o = 0; o < op; o++)
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

/* Backward of M models (see Mlp) from gout = dL/d(output), laid out as vb_forward's output (model m at
 * gout + m*gs): writes every weight and bias gradient into grad [M, P] (the weights' with the L2 term
 * 2*lambda*W added, lambda = l2[m]) and, if gin is not NULL, dL/d(input) [M, B, n_in] (at gin + m*gis).
 * c->x and c->acts as given to vb_forward. */
void vb_backward(const Mlp *c, const float *gout, int64_t gs, float *grad, const float *l2, float *gin,
                 int64_t gis)
{
    for (int64_t m = 0; m < c->M; m++)
        backward_one(c->net, c->flat + m * c->P, c->x + m * c->xs, c->acts + m * c->as, gout + m * gs, c->dd,
                     c->ss, grad + m * c->P, 2.f * l2[m], gin ? gin + m * gis : NULL, c->scratch, c->B);
}
