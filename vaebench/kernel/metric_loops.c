/* The metrics suite's O(n^2) loops in float64 (vaebench.metrics._pairwise, vaebench.metrics.structure).
 *
 * Built into the same library as the training kernel (metrics.c, vaebench/cpu_kernel.py). Points come
 * column-major, y[c * n + i] = coordinate c of point i, so the inner loops over points read contiguous
 * memory. Squared distances use the difference form sum_c (y_ci - y_cj)^2: exact to rounding, 0 on the
 * diagonal.
 * Without a C compiler the Python fallbacks compute the same numbers (tests check both).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernel.h"

#define BLOCK 256 /* columns per pass: the squared distances stay in L1 */

typedef double v4d __attribute__((vector_size(32)));
typedef int64_t v4l __attribute__((vector_size(32)));

/* exp(x) for x <= 0 in four lanes, to about one unit in the last place; 0 below -708 (where exp is
 * below 1e-307: nothing a sum of them can see). Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2, and the
 * Taylor polynomial of degree 13 (truncation < 2e-16 relative), then 2^k from the exponent bits. */
static inline v4d exp_nonpositive(v4d x) {
    const v4d lo = {-708.0, -708.0, -708.0, -708.0};
    const v4l under = x < lo;
    x = (v4d)((under & (v4l)lo) | (~under & (v4l)x));
    const double magic = 6755399441055744.0; /* 1.5 * 2^52: adding it rounds to an integer */
    v4d t = x * 1.4426950408889634 + magic;
    v4d k = t - magic;
    v4d r = x - k * 0.6931471803691238 - k * 1.9082149292705877e-10;
    v4d p = r * (1.0 / 6227020800.0) + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    v4l ki = (v4l)t - (v4l)(v4d){magic, magic, magic, magic};
    v4d scale = (v4d)((ki + 1023) << 52);
    return (v4d)(~under & (v4l)(p * scale));
}

/* Squared distances from point i to points j0 .. j0 + m - 1 into s[0 .. m - 1]. */
static inline void squared_distances(int64_t n, int64_t d, const double *y, int64_t i, int64_t j0, int64_t m,
                                     double *s) {
    memset(s, 0, (size_t)m * sizeof(double));
    for (int64_t c = 0; c < d; c++) {
        const double yi = y[c * n + i];
        const double *col = y + c * n + j0;
        for (int64_t l = 0; l < m; l++) {
            const double t = col[l] - yi;
            s[l] += t * t;
        }
    }
}

/* Sum over ordered pairs (i, j), i = j included, of exp(-scale * |y_i - y_j|^2) (kind 0) or of
 * |y_i - y_j| (kind 1). Pairs i < j are computed once and counted twice. */
double vb_pair_sum(int64_t n, int64_t d, const double *y, int64_t kind, double scale) {
    double s[BLOCK] __attribute__((aligned(32)));
    v4d acc = {0.0, 0.0, 0.0, 0.0};
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j0 = i + 1; j0 < n; j0 += BLOCK) {
            const int64_t m = n - j0 < BLOCK ? n - j0 : BLOCK;
            squared_distances(n, d, y, i, j0, m, s);
            const int64_t padded = (m + 3) & ~(int64_t)3;
            if (kind == 0) {
                for (int64_t l = 0; l < m; l++) s[l] *= -scale;
                for (int64_t l = m; l < padded; l++) s[l] = -INFINITY; /* exp: 0 */
                for (int64_t l = 0; l < padded; l += 4) {
                    v4d v;
                    memcpy(&v, s + l, sizeof v);
                    acc += exp_nonpositive(v);
                }
            } else {
                for (int64_t l = 0; l < m; l++) s[l] = sqrt(s[l]);
                for (int64_t l = m; l < padded; l++) s[l] = 0.0;
                for (int64_t l = 0; l < padded; l += 4) {
                    v4d v;
                    memcpy(&v, s + l, sizeof v);
                    acc += v;
                }
            }
        }
    }
    const double diagonal = kind == 0 ? (double)n : 0.0;
    return diagonal + 2.0 * (acc[0] + acc[1] + acc[2] + acc[3]);
}

/* Neighbour search on the Grid of kernel.h. */

static inline int64_t cell_of(double v, double lo, double inv, int64_t g) {
    const double c = floor((v - lo) * inv);
    return c < 0.0 ? 0 : (c >= (double)g ? g - 1 : (int64_t)c);
}

static inline double sq_dist(const Grid *gr, int64_t i, const double *q, int64_t m, int64_t row) {
    if (gr->d == 2) { /* the suite's case, unrolled: the same sum in the same order */
        const double t0 = gr->sorted[i] - q[row], t1 = gr->sorted[gr->n + i] - q[m + row];
        double s = 0.0;
        s += t0 * t0;
        s += t1 * t1;
        return s;
    }
    double s = 0.0;
    for (int64_t c = 0; c < gr->d; c++) {
        const double t = gr->sorted[c * gr->n + i] - q[c * m + row];
        s += t * t;
    }
    return s;
}

/* Insert (s, j) into the ascending (squared distance, index) list bd/bi of *cnt <= k entries. */
static inline void keep_best(double s, int64_t j, int64_t k, double *bd, int64_t *bi, int64_t *cnt) {
    if (*cnt == k && (s > bd[k - 1] || (s == bd[k - 1] && j > bi[k - 1]))) return;
    int64_t p = *cnt < k ? (*cnt)++ : k - 1;
    while (p > 0 && (bd[p - 1] > s || (bd[p - 1] == s && bi[p - 1] > j))) {
        bd[p] = bd[p - 1];
        bi[p] = bi[p - 1];
        p--;
    }
    bd[p] = s;
    bi[p] = j;
}

static inline void scan_cell(const Grid *gr, int64_t cx, int64_t cy, const double *q, int64_t m, int64_t row,
                             int64_t k, double *bd, int64_t *bi, int64_t *cnt) {
    const int64_t c = cy * gr->gx + cx;
    for (int64_t i = gr->start[c]; i < gr->start[c + 1]; i++)
        keep_best(sq_dist(gr, i, q, m, row), gr->order[i], k, bd, bi, cnt);
}

/* The smallest distance from the query to a cell outside the block of Chebyshev radius r around
 * (cx, cy), less the margin; INFINITY when the block covers the grid. */
static inline double gap(const Grid *gr, double q0, double q1, int64_t cx, int64_t cy, int64_t r) {
    double g = INFINITY;
    if (cx - r > 0) g = fmin(g, q0 - (gr->lo0 + (double)(cx - r) * gr->h0));
    if (cx + r + 1 < gr->gx) g = fmin(g, gr->lo0 + (double)(cx + r + 1) * gr->h0 - q0);
    if (cy - r > 0) g = fmin(g, q1 - (gr->lo1 + (double)(cy - r) * gr->h1));
    if (cy + r + 1 < gr->gy) g = fmin(g, gr->lo1 + (double)(cy + r + 1) * gr->h1 - q1);
    return g - gr->margin;
}

/* The grid's points in the cells of the bounding square of the ball of radius r around (q0, q1), one cell
 * wider on each side for the rounding of cell edges: cell rows y0..y1, each the contiguous range
 * [from(y), to(y)) of the grid's order. */
typedef struct {
    int64_t y0, y1, xa, xb;
} Block;

static inline Block ball_block(const Grid *gr, double q0, double q1, double r) {
    const int64_t x0 = cell_of(q0 - r, gr->lo0, gr->inv0, gr->gx), x1 = cell_of(q0 + r, gr->lo0, gr->inv0, gr->gx);
    const int64_t y0 = cell_of(q1 - r, gr->lo1, gr->inv1, gr->gy), y1 = cell_of(q1 + r, gr->lo1, gr->inv1, gr->gy);
    Block b = {y0 > 0 ? y0 - 1 : 0, y1 + 1 < gr->gy ? y1 + 1 : gr->gy - 1, x0 > 0 ? x0 - 1 : 0,
               x1 + 1 < gr->gx ? x1 + 1 : gr->gx - 1};
    return b;
}

static inline int64_t block_size(const Grid *gr, Block b) {
    int64_t size = 0;
    for (int64_t y = b.y0; y <= b.y1; y++) size += gr->start[y * gr->gx + b.xb + 1] - gr->start[y * gr->gx + b.xa];
    return size;
}

#define RING_LIMIT 16

/* The k nearest points to each of m queries (column-major [d][m]): squared distances and original
 * indices [m][k], ascending in (squared distance, index). Needs k <= n. */
void vb_knn(const Grid *gr, int64_t m, const double *queries, int64_t k, double *out_d2, int64_t *out_idx) {
    for (int64_t row = 0; row < m; row++) {
        const double q0 = queries[gr->a0 * m + row], q1 = queries[gr->a1 * m + row];
        const int64_t cx = cell_of(q0, gr->lo0, gr->inv0, gr->gx), cy = cell_of(q1, gr->lo1, gr->inv1, gr->gy);
        double *bd = out_d2 + row * k;
        int64_t *bi = out_idx + row * k, cnt = 0;
        for (int64_t r = 0;; r++) {
            for (int64_t y = cy - r; y <= cy + r; y++) {
                if (y < 0 || y >= gr->gy) continue;
                if (y == cy - r || y == cy + r) {
                    for (int64_t x = cx - r; x <= cx + r; x++)
                        if (x >= 0 && x < gr->gx) scan_cell(gr, x, y, queries, m, row, k, bd, bi, &cnt);
                } else {
                    if (cx - r >= 0) scan_cell(gr, cx - r, y, queries, m, row, k, bd, bi, &cnt);
                    if (cx + r < gr->gx) scan_cell(gr, cx + r, y, queries, m, row, k, bd, bi, &cnt);
                }
            }
            const double g = gap(gr, q0, q1, cx, cy, r);
            if (g == INFINITY || (cnt == k && g > 0.0 && g * g > bd[k - 1])) break;
            if (cnt == k || r == RING_LIMIT) {
                /* k found, but the ball through the k-th reaches beyond the rings (a query far from the
                 * points), or still fewer than k after RING_LIMIT rings (empty cells around it): scan the
                 * rest of the ball's cells (of every cell) once instead of growing the rings */
                const Block b = cnt == k ? ball_block(gr, q0, q1, sqrt(bd[k - 1]) * (1.0 + 1e-12))
                                         : (Block){0, gr->gy - 1, 0, gr->gx - 1};
                for (int64_t y = b.y0; y <= b.y1; y++)
                    for (int64_t x = b.xa; x <= b.xb; x++)
                        if (x < cx - r || x > cx + r || y < cy - r || y > cy + r)
                            scan_cell(gr, x, y, queries, m, row, k, bd, bi, &cnt);
                break;
            }
        }
    }
}

/* For each of m centres (column-major [d][m]) the number of points at Euclidean distance strictly below
 * its radius, sqrt(squared distance) < radii[row], into counts[row]: every cell the ball's bounding square
 * touches, one cell wider on each side for the rounding of cell edges. */
/* Squared distances from query ``row`` to all n points, in the grid's order, into out[n]: vectorised
 * for d = 2 (the same sum as sq_dist, so a threshold taken from ``out`` meets itself exactly). */
static void all_sq_dist(const Grid *gr, const double *q, int64_t m, int64_t row, double *out) {
    if (gr->d != 2) {
        for (int64_t i = 0; i < gr->n; i++) out[i] = sq_dist(gr, i, q, m, row);
        return;
    }
    const double *s0 = gr->sorted, *s1 = gr->sorted + gr->n, c0 = q[row], c1 = q[m + row];
    for (int64_t i = 0; i < gr->n; i++) {
        const double t0 = s0[i] - c0, t1 = s1[i] - c1;
        double s = 0.0;
        s += t0 * t0;
        s += t1 * t1;
        out[i] = s;
    }
}

#ifndef RANK_BALL_SHARE
#define RANK_BALL_SHARE 4 /* a point in a ball's cells costs about this many of the full pass's points */
#endif

/* Trustworthiness ranks. Group g has centre c_g (``centres``, column-major [d][n_groups]) and the points
 * j at grid positions ``positions[groups[g] .. groups[g + 1])``; for each such pair, the number of points
 * l with |x_l - c_g|^2 <= |x_j - c_g|^2 (c_g itself and j included), summed over all pairs. j's own
 * squared distance comes from the same arithmetic as every other point's, so j always counts itself.
 * Per group, whichever is cheaper: the cells of each pair's ball (small ranks), or all n squared
 * distances once, then one comparison pass per pair (``scratch``: n doubles). */
int64_t vb_rank_counts(const Grid *gr, int64_t n_groups, const double *centres, const int64_t *groups,
                       const int64_t *positions, double *scratch) {
    int64_t total = 0;
    for (int64_t g = 0; g < n_groups; g++) {
        const double q0 = centres[gr->a0 * n_groups + g], q1 = centres[gr->a1 * n_groups + g];
        int64_t cost = 0;
        for (int64_t p = groups[g]; p < groups[g + 1]; p++) {
            const double t = sq_dist(gr, positions[p], centres, n_groups, g);
            cost += block_size(gr, ball_block(gr, q0, q1, sqrt(t) * (1.0 + 1e-12)));
        }
        if (RANK_BALL_SHARE * cost > gr->n) {
            all_sq_dist(gr, centres, n_groups, g, scratch);
            for (int64_t p = groups[g]; p < groups[g + 1]; p++) {
                const double t = scratch[positions[p]];
                int64_t count = 0;
                for (int64_t i = 0; i < gr->n; i++) count += scratch[i] <= t;
                total += count;
            }
            continue;
        }
        for (int64_t p = groups[g]; p < groups[g + 1]; p++) {
            const double t = sq_dist(gr, positions[p], centres, n_groups, g);
            const Block b = ball_block(gr, q0, q1, sqrt(t) * (1.0 + 1e-12));
            for (int64_t y = b.y0; y <= b.y1; y++) {
                const int64_t from = gr->start[y * gr->gx + b.xa], to = gr->start[y * gr->gx + b.xb + 1];
                for (int64_t i = from; i < to; i++) total += sq_dist(gr, i, centres, n_groups, g) <= t;
            }
        }
    }
    return total;
}

/* For each of m centres (column-major [d][m]) the number of points at Euclidean distance strictly below
 * its radius, sqrt(squared distance) < radii[row], into counts[row]: the cells of the ball's block. */
void vb_count_within(const Grid *gr, int64_t m, const double *centres, const double *radii, int64_t *counts) {
    for (int64_t row = 0; row < m; row++) {
        const double r = radii[row];
        const Block b = ball_block(gr, centres[gr->a0 * m + row], centres[gr->a1 * m + row], r);
        int64_t count = 0;
        for (int64_t y = b.y0; y <= b.y1; y++) {
            const int64_t from = gr->start[y * gr->gx + b.xa], to = gr->start[y * gr->gx + b.xb + 1];
            for (int64_t i = from; i < to; i++) count += sqrt(sq_dist(gr, i, centres, m, row)) < r;
        }
        counts[row] = count;
    }
}

/* Exact inference (vaebench.metrics.exact): for each of n points x_i (column-major [dim][n]),
 * out[i] = log sum_k exp(logw[k] - scale * |x_i - c_k|^2) over g nodes c (column-major [dim][g], g a
 * multiple of 4: pad with logw = -inf): the log of a Gaussian mixture with weights exp(logw), without its
 * normalising constant. Per point, the exponents go to ``scratch`` [g] with their maximum m (four lanes
 * at once), then out[i] = m + log sum exp(e - m): no underflow however far the point lies from every node. */
void vb_mixture_logsum(int64_t n, int64_t dim, const double *x, int64_t g, const double *c, const double *logw,
                       double scale, double *out, double *scratch) {
    const v4d neg_inf = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    for (int64_t i = 0; i < n; i++) {
        v4d vmax = neg_inf;
        for (int64_t k = 0; k < g; k += 4) {
            v4d e;
            memcpy(&e, logw + k, sizeof e);
            for (int64_t a = 0; a < dim; a++) {
                v4d col;
                memcpy(&col, c + a * g + k, sizeof col);
                const v4d t = col - x[a * n + i];
                e -= scale * (t * t);
            }
            memcpy(scratch + k, &e, sizeof e);
            vmax = (v4d)(((v4l)(e > vmax) & (v4l)e) | (~(v4l)(e > vmax) & (v4l)vmax));
        }
        double m = vmax[0];
        for (int l = 1; l < 4; l++) m = vmax[l] > m ? vmax[l] : m;
        if (m == -INFINITY) {
            out[i] = -INFINITY;
            continue;
        }
        v4d acc = {0.0, 0.0, 0.0, 0.0};
        for (int64_t k = 0; k < g; k += 4) {
            v4d v;
            memcpy(&v, scratch + k, sizeof v);
            acc += exp_nonpositive(v - m);
        }
        out[i] = m + log(acc[0] + acc[1] + acc[2] + acc[3]);
    }
}
