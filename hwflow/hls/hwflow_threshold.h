// Multi-threshold activation on a stream of integers.
//
// Input: NF beats of PE elements of IN_BITS bits (two's complement if IN_SIGNED), channel
// nf*PE+p at bits [p*IN_BITS +: IN_BITS] of beat nf.  Output: the same layout with
// OUT_BITS bits per element, out = OUT_BIAS + number of k with x >= thresh[p][nf][k] (NT
// thresholds, ascending per channel; NT = 1, OUT_BIAS = 0 gives the binary sign activation),
// in OUT_BITS-bit two's complement when OUT_BIAS < 0 (the encoding of hwflow_mvau.v and
// hwflow_thresh.v).  Used standalone (after an add or a pooling layer) with NF = CH/PE
// channel folds per pixel.
#ifndef HWFLOW_THRESHOLD_H
#define HWFLOW_THRESHOLD_H

#include "hwflow_common.h"

namespace hwflow {

template <unsigned NF, unsigned PE, unsigned IN_BITS, bool IN_SIGNED, unsigned NT, unsigned OUT_BITS,
          typename TT, int OUT_BIAS = 0>
void threshold(hls::stream<ap_uint<PE * IN_BITS> >& in, hls::stream<ap_uint<PE * OUT_BITS> >& out,
               const TT thresh[PE][NF][NT], unsigned reps) {
    static_assert(OUT_BITS >= 1 && OUT_BITS <= 31 &&
                      (OUT_BIAS < 0 ? (OUT_BIAS >= -(1ll << (OUT_BITS - 1)) &&
                                       OUT_BIAS + (long long)NT <= (1ll << (OUT_BITS - 1)) - 1)
                                    : (OUT_BIAS + (long long)NT <= (1ll << OUT_BITS) - 1)),
                  "OUT_BITS too small for NT thresholds (levels OUT_BIAS .. OUT_BIAS+NT)");
#pragma HLS ARRAY_PARTITION variable=thresh complete dim=1
#pragma HLS ARRAY_PARTITION variable=thresh complete dim=3
    unsigned nf = 0;
    for (unsigned i = 0; i < reps * NF; i++) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=NF max=NF
        const ap_uint<PE * IN_BITS> x = in.read();
        ap_uint<PE * OUT_BITS> o = 0;
        for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
            const ap_uint<IN_BITS> raw = x.range(p * IN_BITS + IN_BITS - 1, p * IN_BITS);
            // One extra bit makes signed and unsigned inputs compare alike.
            ap_int<IN_BITS + 1> v;
            if (IN_SIGNED) v = ap_int<IN_BITS>(raw);
            else v = raw;
            ap_uint<OUT_BITS> cnt = OUT_BIAS;  // two's complement (wraps) when negative
            for (unsigned k = 0; k < NT; k++) {
#pragma HLS UNROLL
                cnt += (v >= thresh[p][nf][k]) ? 1 : 0;
            }
            o.range(p * OUT_BITS + OUT_BITS - 1, p * OUT_BITS) = cnt;
        }
        out.write(o);
        nf = (nf == NF - 1) ? 0 : nf + 1;
    }
}

}  // namespace hwflow

#endif
