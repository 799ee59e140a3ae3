/* The metrics suite's O(n²) loops (metric_loops.c) and the layout of their
 * Grid struct (kernel.h) for tests/test_kernel_layout.py (read through vb_layout, layout.c). */
#include <stddef.h>

#include "kernel.h"
#include "metric_loops.c"

#define GRID_FIELD(f) {"Grid", #f, (int64_t)offsetof(Grid, f), (int64_t)sizeof(((Grid *)0)->f)},
const LayoutEntry vb_grid_layout[] = {
    {"Grid", "", 0, (int64_t)sizeof(Grid)},
    GRID_FIELD(n) GRID_FIELD(d) GRID_FIELD(gx) GRID_FIELD(gy) GRID_FIELD(a0) GRID_FIELD(a1) GRID_FIELD(sorted)
    GRID_FIELD(order) GRID_FIELD(start) GRID_FIELD(lo0) GRID_FIELD(lo1) GRID_FIELD(h0) GRID_FIELD(h1)
    GRID_FIELD(inv0) GRID_FIELD(inv1) GRID_FIELD(margin)
};
const int64_t vb_grid_layout_n = (int64_t)(sizeof vb_grid_layout / sizeof vb_grid_layout[0]);
