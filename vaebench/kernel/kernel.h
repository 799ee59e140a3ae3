/* The kernel's interface: the structs its entry points take, the enums they share with Python, the entry
 * points. vaebench/kernel/__init__.py mirrors every struct as a ctypes.Structure and reads the enums'
 * names from objective.py; tests/test_kernel_layout.py checks both against vb_layout (layout.c), so a
 * field added here and not there fails a test, not a training run.
 *
 * Conventions: every integer is int64_t (ctypes.c_int64), every array float32 unless said otherwise, a
 * model's row of P parameters as vaebench.model.Layout says (a layer's weight [n_in, n_out] row-major at
 * w_at, its bias [n_out] at b_at). Arrays of M models are model-major: model m's part at base + m * stride.
 * The metrics suite's Grid (the points binned for its neighbour searches, metric_loops.c) is here too,
 * checked the same way (metrics.c; bound in vaebench.metrics._neighbours).
 */
#ifndef VB_KERNEL_H
#define VB_KERNEL_H
#include <stdint.h>

#define MAX_LAYERS 64 /* per MLP: Net's table (cpu_kernel.MAX_LAYERS) */
#define MAX_LATENT 64 /* RunConfig's bound on latent_dim */

/* The enums, each with its Python names in order: objective.STATS, objective.SHAPES, objective.OUTPUTS.
 * A statistic is a batch statistic of vaebench/losses.py; a shape is the f of a term w * f(s); an output
 * is what the fused step writes per model. */
#define VB_STATS(X) X(ST_RECON, "recon") X(ST_KL, "kl") X(ST_KL_DIM, "kl_dim") X(ST_MMD_RBF, "mmd_rbf") \
    X(ST_MMD_IMQ, "mmd_imq")
#define VB_SHAPES(X) X(FN_LINEAR, "linear") X(FN_ABS, "abs") X(FN_FLOOR, "floor") X(FN_LOG, "log")
#define VB_OUTPUTS(X) X(OUT_RECON, "recon") X(OUT_KL, "kl") X(OUT_MMD, "mmd") X(OUT_TOTAL, "total") \
    X(OUT_L2, "l2")
#define VB_ENUM_ITEM(id, name) id,
enum Stat { VB_STATS(VB_ENUM_ITEM) N_STAT };
enum Shape { VB_SHAPES(VB_ENUM_ITEM) N_SHAPE };
enum Out { VB_OUTPUTS(VB_ENUM_ITEM) N_OUT };

/* One layer of an MLP, and an MLP: ReLU between layers, none after the last. */
typedef struct {
    int64_t n_in, n_out, w_at, b_at;
} Layer;

typedef struct {
    int64_t n_layers;
    Layer layer[MAX_LAYERS];
} Net;

/* M models' parameters and Adam's state, rows of P floats (the first n_weights are the weights that the
 * L2 term counts); per model its learning rate, L2 weight, and whether it is alive (a model whose loss or
 * gradient is not finite is frozen: alive = 0, died_at = its 0-based step). */
typedef struct {
    int64_t M, P, n_weights;
    float *flat, *exp1, *exp2;
    const float *lr, *l2;
    uint8_t *alive;
    int64_t *died_at;
} Models;

/* Adam's hyperparameters (torch.optim.Adam's names) and t, the 1-based count of the (first) step. */
typedef struct {
    double beta1, beta2, eps;
    int64_t t;
} Adam;

/* One MLP of M models for vb_forward and vb_backward: inputs [B, n_in] of model m at x + m * xs; the
 * hidden activations the backward needs at acts + m * as (vb_acts_floats each); the output, and its
 * gradient, in blocks of dd columns ss floats apart (the encoder's mean and log-variance: two arrays);
 * scratch: vb_scratch_floats. */
typedef struct {
    const Net *net;
    int64_t M, P, B;
    const float *flat;
    const float *x;
    int64_t xs;
    float *acts;
    int64_t as;
    int64_t dd, ss;
    float *scratch;
} Mlp;

/* Per-model draws over a chunk of steps: model m's [B, width] of the call's first step at at + m * model,
 * the next step's `step` floats further. at = NULL: none (a deterministic encoder's noise, a prior
 * nobody asks for). */
typedef struct {
    const float *at;
    int64_t model, step;
} Draws;

/* An objective as terms weight * f(stat) (vaebench/objective.py): term i's statistic stat[i] (enum Stat)
 * and shape shape[i] (enum Shape), its weight and coefficient for model m on the call's first step at
 * weight[i * ts + m], at[i * ts + m], the next step's M floats further. */
typedef struct {
    int64_t n_terms;
    const int64_t *stat, *shape;
    const float *weight, *at;
    int64_t ts;
} Terms;

/* Everything vb_fused_steps reads and writes: the two MLPs, the models, Adam (adam.t: the first step's
 * count), the terms, minibatches x [B, 2], noise [B, d] and prior samples [B, d], the decoders' σ² [M],
 * out [N_OUT, M] (enum Out; total includes the L2 term), and whether the last step's logged values are
 * needed (values = 0 lets MMD leave out the prior's own term, which has no gradient). scratch:
 * vb_fused_scratch_floats. */
typedef struct {
    const Net *enc, *dec;
    int64_t B;
    Models models;
    Adam adam;
    Terms terms;
    Draws x, noise, prior;
    const float *recon_var;
    float *out;
    int64_t values;
    float *scratch;
} Step;

/* One entry of the layout table (layout.c): a struct's size (name "", value 0), a field's offset (value)
 * and size, an enum constant's value (group "Stat", name its Python name, size 0), a constant's value. */
typedef struct {
    const char *group, *name;
    int64_t value, size;
} LayoutEntry;

/* Entry points (no more than 10 parameters each). Sizes are in floats, for the caller to allocate. */
int64_t vb_scratch_floats(const Net *net, int64_t B);
int64_t vb_acts_floats(const Net *net, int64_t B);
void vb_forward(const Mlp *c, float *out, int64_t os);
void vb_backward(const Mlp *c, const float *gout, int64_t gs, float *grad, const float *l2, float *gin,
                 int64_t gis);
void vb_adam(const Models *models, const Adam *adam, const float *grad, float *total, float *l2_out);
void vb_exp(int64_t n, const float *in, float scale, float *out);
int64_t vb_fused_scratch_floats(const Net *enc, const Net *dec, int64_t B, int64_t P);
void vb_fused_steps(const Step *s, int64_t n);
int64_t vb_layout(int64_t i, LayoutEntry *out);

/* Neighbour search on a grid. The points are binned into gx × gy cells over the box [lo, lo + g·h) of
 * two coordinates (a0, a1: the two of largest variance; one coordinate and gy = 1 for d = 1), stored cell
 * by cell: ``sorted`` column-major [d][n] in cell order, ``order`` their original indices, ``start``
 * [gx·gy + 1] where each cell begins. A k-NN query scans rings of cells around its own cell, nearest
 * first, until no unseen cell can hold a point nearer than its k-th (the gap to the scanned block, less a
 * margin for the rounding of cell edges, exceeds the k-th distance). Exact, ties in index order. */
typedef struct {
    int64_t n, d, gx, gy, a0, a1;
    const double *sorted;
    const int64_t *order, *start;
    double lo0, lo1, h0, h1, inv0, inv1, margin;
} Grid;

#endif
