/* The training kernel as one translation unit: the files below are compiled together (cpu_kernel.py), so
 * the step's hot paths inline across them as they did in one file, and give the same numbers. metrics.c,
 * the metrics suite's loops, is the library's second unit.
 *
 *   kernel.h    the interface: structs, enums, entry points (mirrored by vaebench/kernel/__init__.py)
 *   simd.h      everything that depends on the vector width
 *   mlp.c       forward and backward of M models' MLPs (vb_forward, vb_backward)
 *   adam.c      Adam and the frozen-model rule (vb_adam)
 *   stats.c     the objective's statistics, value and gradient side by side, and the term shapes
 *   fused.c     the whole step (vb_fused_steps)
 *   layout.c    the structs' layout and the enums' names, for the bindings' test (vb_layout)
 */
#include "mlp.c"
#include "adam.c"
#include "stats.c"
#include "fused.c"
#include "layout.c"
