/* vb_layout: the sizes, field offsets and field sizes of kernel.h's structs and the names of its enums, as
 * a table that tests/test_kernel_layout.py compares with the ctypes bindings (vaebench/kernel/__init__.py) and with
 * objective.STATS, SHAPES and OUTPUTS. The metrics kernel's Grid comes from metrics.c. */
#include <stddef.h>

#include "kernel.h"

#define SIZE(T) {#T, "", 0, (int64_t)sizeof(T)},
#define FIELD(T, f) {#T, #f, (int64_t)offsetof(T, f), (int64_t)sizeof(((T *)0)->f)},
#define STAT_ENTRY(id, name) {"Stat", name, id, 0},
#define SHAPE_ENTRY(id, name) {"Shape", name, id, 0},
#define OUT_ENTRY(id, name) {"Out", name, id, 0},

static const LayoutEntry ENTRIES[] = {
    SIZE(Layer) FIELD(Layer, n_in) FIELD(Layer, n_out) FIELD(Layer, w_at) FIELD(Layer, b_at)
    SIZE(Net) FIELD(Net, n_layers) FIELD(Net, layer)
    SIZE(Models) FIELD(Models, M) FIELD(Models, P) FIELD(Models, n_weights) FIELD(Models, flat)
    FIELD(Models, exp1) FIELD(Models, exp2) FIELD(Models, lr) FIELD(Models, l2) FIELD(Models, alive)
    FIELD(Models, died_at)
    SIZE(Adam) FIELD(Adam, beta1) FIELD(Adam, beta2) FIELD(Adam, eps) FIELD(Adam, t)
    SIZE(Mlp) FIELD(Mlp, net) FIELD(Mlp, M) FIELD(Mlp, P) FIELD(Mlp, B) FIELD(Mlp, flat) FIELD(Mlp, x)
    FIELD(Mlp, xs) FIELD(Mlp, acts) FIELD(Mlp, as) FIELD(Mlp, dd) FIELD(Mlp, ss) FIELD(Mlp, scratch)
    SIZE(Draws) FIELD(Draws, at) FIELD(Draws, model) FIELD(Draws, step)
    SIZE(Terms) FIELD(Terms, n_terms) FIELD(Terms, stat) FIELD(Terms, shape) FIELD(Terms, weight)
    FIELD(Terms, at) FIELD(Terms, ts)
    SIZE(Step) FIELD(Step, enc) FIELD(Step, dec) FIELD(Step, B) FIELD(Step, models) FIELD(Step, adam)
    FIELD(Step, terms) FIELD(Step, x) FIELD(Step, noise) FIELD(Step, prior) FIELD(Step, recon_var)
    FIELD(Step, out) FIELD(Step, values) FIELD(Step, scratch)
    SIZE(LayoutEntry) FIELD(LayoutEntry, group) FIELD(LayoutEntry, name) FIELD(LayoutEntry, value)
    FIELD(LayoutEntry, size)
    VB_STATS(STAT_ENTRY) VB_SHAPES(SHAPE_ENTRY) VB_OUTPUTS(OUT_ENTRY)
    {"MAX_LAYERS", "", MAX_LAYERS, 0}, {"MAX_LATENT", "", MAX_LATENT, 0},
};

extern const LayoutEntry vb_grid_layout[]; /* metrics.c */
extern const int64_t vb_grid_layout_n;

/* Entry i of the table into *out: 1, or 0 past its end (i from 0 up). */
int64_t vb_layout(int64_t i, LayoutEntry *out)
{
    const int64_t n = (int64_t)(sizeof ENTRIES / sizeof ENTRIES[0]);
    if (i < 0 || i >= n + vb_grid_layout_n)
        return 0;
    *out = i < n ? ENTRIES[i] : vb_grid_layout[i - n];
    return 1;
}
