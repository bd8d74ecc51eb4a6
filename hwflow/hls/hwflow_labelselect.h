// Top-1 label select: index of the largest of N = NF*PE integers per vector.
//
// Input layout as the MVAU's dot output: NF beats of PE elements of IN_BITS bits, element
// nf*PE+p at bits [p*IN_BITS +: IN_BITS].  Output: one beat of IDX_BITS bits per vector.
// Ties go to the lowest index (numpy.argmax).
#ifndef HWFLOW_LABELSELECT_H
#define HWFLOW_LABELSELECT_H

#include "hwflow_common.h"

namespace hwflow {

template <unsigned NF, unsigned PE, unsigned IN_BITS, bool IN_SIGNED, unsigned IDX_BITS>
void label_select(hls::stream<ap_uint<PE * IN_BITS> >& in, hls::stream<ap_uint<IDX_BITS> >& out,
                  unsigned reps) {
    static_assert((1ull << IDX_BITS) >= NF * PE, "IDX_BITS too small for NF*PE labels");
    ap_int<IN_BITS + 1> best = 0;
    ap_uint<IDX_BITS> best_idx = 0;
    unsigned nf = 0;
    for (unsigned i = 0; i < reps * NF; i++) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=NF max=NF
        const ap_uint<PE * IN_BITS> x = in.read();
        // A strict > along increasing index keeps the first maximum; the chain spans one
        // beat (PE compares), the running best carries across beats.
        for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
            const ap_uint<IN_BITS> raw = x.range(p * IN_BITS + IN_BITS - 1, p * IN_BITS);
            ap_int<IN_BITS + 1> v;
            if (IN_SIGNED) v = ap_int<IN_BITS>(raw);
            else v = raw;
            if ((nf == 0 && p == 0) || v > best) {
                best = v;
                best_idx = nf * PE + p;
            }
        }
        if (nf == NF - 1) {
            out.write(best_idx);
            nf = 0;
        } else {
            nf++;
        }
    }
}

}  // namespace hwflow

#endif
