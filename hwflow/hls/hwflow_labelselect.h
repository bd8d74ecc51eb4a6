// Top-1 and top-K label select.
//
// Top-1: index of the largest of N = NF*PE integers per vector.
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

// Top-K label select: the indices of the K largest of N integers per vector, largest
// first, equal values in index order (ONNX TopK).  Input: one element of IN_BITS bits per
// beat, N beats per vector; output: K beats of IDX_BITS bits per vector.  A sorted list
// takes one element per beat (an insertion with a strict >, so later equals go after).
template <unsigned N, unsigned K, unsigned IN_BITS, bool IN_SIGNED, unsigned IDX_BITS>
void top_k(hls::stream<ap_uint<IN_BITS> >& in, hls::stream<ap_uint<IDX_BITS> >& out, unsigned reps) {
    static_assert(K >= 2 && K <= N, "top_k needs 2 <= K <= N (K = 1 is label_select)");
    static_assert((1ull << IDX_BITS) >= N, "IDX_BITS too small for N labels");
    ap_int<IN_BITS + 1> val[K];
    ap_uint<IDX_BITS> idx[K];
#pragma HLS ARRAY_PARTITION variable=val complete
#pragma HLS ARRAY_PARTITION variable=idx complete
    for (unsigned r = 0; r < reps; r++) {
        for (unsigned n = 0; n < N; n++) {
#pragma HLS PIPELINE II=1
            const ap_uint<IN_BITS> raw = in.read();
            ap_int<IN_BITS + 1> v;
            if (IN_SIGNED) v = ap_int<IN_BITS>(raw);
            else v = raw;
            // from the bottom up: a slot the element beats takes the entry above it, or the
            // element itself if it does not beat that one too
            for (int j = K - 1; j >= 0; j--) {
#pragma HLS UNROLL
                const bool beats_j = unsigned(j) >= n || v > val[j];
                const bool beats_up = j > 0 && (unsigned(j - 1) >= n || v > val[j - 1]);
                if (beats_j) {
                    val[j] = beats_up ? val[j - 1] : v;
                    idx[j] = beats_up ? idx[j - 1] : ap_uint<IDX_BITS>(n);
                }
            }
        }
        for (unsigned j = 0; j < K; j++) {
#pragma HLS PIPELINE II=1
            out.write(idx[j]);
        }
    }
}

}  // namespace hwflow

#endif
