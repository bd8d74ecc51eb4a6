// Included at the end of every Verilated model's own header (hwflow.rtlsim adds the line).
//
// Verilator counts ones ($countones) with shifts and masks: about a dozen instructions per
// 32 bits, which beats a library call but not the CPU's own popcount.  hwflow's MVAU
// simulation is mostly counting (CNV's and TFC's networks spend most of their cycles in it),
// so where the compiler has the instruction (x86-64 with -mpopcnt, which hwflow passes when
// the CPU has it; every aarch64) the model counts with it.  Same values, fewer instructions.
#ifndef HWFLOW_POPCOUNT_H_
#define HWFLOW_POPCOUNT_H_
#include "verilated.h"

#if defined(__POPCNT__) || defined(__aarch64__)
static inline IData hwflow_countones_w(int words, WDataInP const lwp) VL_PURE {
    IData r = 0;
    for (int i = 0; i < words; ++i) r += static_cast<IData>(__builtin_popcount(lwp[i]));
    return r;
}
// verilated_funcs.h defines these as inline functions; the model's code calls them by name
#define VL_COUNTONES_I(lhs) (static_cast<IData>(__builtin_popcount(static_cast<IData>(lhs))))
#define VL_COUNTONES_Q(lhs) (static_cast<IData>(__builtin_popcountll(static_cast<QData>(lhs))))
#define VL_COUNTONES_W(words, lwp) hwflow_countones_w((words), (lwp))
#endif

#endif  // HWFLOW_POPCOUNT_H_
