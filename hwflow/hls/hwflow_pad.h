// Padding of an NHWC image with a constant, optionally converting bipolar 1-bit elements
// to OUT_BITS-bit two's complement integers: same stream formats as hwflow/rtl/hwflow_pad.v.
//
// Input: H x W pixels, row-major, each pixel CH elements of IN_BITS bits in CF = CH/SIMD
// beats of SIMD elements (channel c in beat c/SIMD, lane c%SIMD at bits
// [(c%SIMD)*IN_BITS +: IN_BITS]).
// Output: (PT+H+PB) x (PL+W+PR) pixels in the same order and folding, OUT_BITS-bit
// elements.  Border elements are PAD_VALUE (an OUT_BITS-bit pattern, < 2^OUT_BITS);
// interior elements are copied (IN_BIPOLAR false, OUT_BITS == IN_BITS) or, for
// IN_BIPOLAR (IN_BITS == 1, OUT_BITS >= 2), bit 1 -> +1 and bit 0 -> -1.
// One output beat per iteration at II=1: (PT+H+PB)*(PL+W+PR)*CF iterations per image.
// IN_BIPOLAR is a flag (true/false or 1/0).
#ifndef HWFLOW_PAD_H
#define HWFLOW_PAD_H

#include "hwflow_common.h"

namespace hwflow {

template <unsigned H, unsigned W, unsigned CH, unsigned SIMD, unsigned PT, unsigned PL, unsigned PB, unsigned PR,
          unsigned IN_BITS, unsigned OUT_BITS, unsigned IN_BIPOLAR, unsigned long long PAD_VALUE>
void pad(hls::stream<ap_uint<SIMD * IN_BITS> >& in, hls::stream<ap_uint<SIMD * OUT_BITS> >& out, unsigned reps) {
    static_assert(CH % SIMD == 0, "SIMD must divide CH");
    static_assert(!IN_BIPOLAR || (IN_BITS == 1 && OUT_BITS >= 2), "bipolar input needs IN_BITS 1, OUT_BITS >= 2");
    static_assert(IN_BIPOLAR || OUT_BITS == IN_BITS, "a copy needs OUT_BITS == IN_BITS");
    static_assert(OUT_BITS >= 64 || PAD_VALUE < (1ull << (OUT_BITS < 64 ? OUT_BITS : 0)),
                  "PAD_VALUE must fit OUT_BITS bits");
    constexpr unsigned CF = CH / SIMD, OH = PT + H + PB, OW = PL + W + PR;
    ap_uint<SIMD * OUT_BITS> border;
    for (unsigned e = 0; e < SIMD; e++) {
#pragma HLS UNROLL
        border.range(e * OUT_BITS + OUT_BITS - 1, e * OUT_BITS) = ap_uint<OUT_BITS>(PAD_VALUE);
    }
    unsigned cf = 0, x = 0, y = 0;
    for (unsigned i = 0; i < reps * OH * OW * CF; i++) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=OH*OW*CF max=OH*OW*CF
        // unsigned wrap-around: y < PT gives a huge y - PT (no compare with a 0 pad)
        const bool interior = (y - PT) < H && (x - PL) < W;
        ap_uint<SIMD * OUT_BITS> v = border;
        if (interior) {
            const ap_uint<SIMD * IN_BITS> d = in.read();
            if (IN_BIPOLAR) {
                for (unsigned e = 0; e < SIMD; e++) {
#pragma HLS UNROLL
                    // +1 = 0..01, -1 = 1..11
                    const ap_uint<OUT_BITS> plus1 = 1, minus1 = ~ap_uint<OUT_BITS>(0);
                    v.range(e * OUT_BITS + OUT_BITS - 1, e * OUT_BITS) = d[e] ? plus1 : minus1;
                }
            } else {
                v = d;
            }
        }
        out.write(v);
        if (cf == CF - 1) {
            cf = 0;
            if (x == OW - 1) {
                x = 0;
                y = (y == OH - 1) ? 0 : y + 1;
            } else {
                x++;
            }
        } else {
            cf++;
        }
    }
}

}  // namespace hwflow

#endif
