// Max-pool over a channel-last (NHWC) feature map, kernel K x K, stride K, of EB-bit
// elements: 1-bit bipolar ones (max is OR: +1, bit 1, if any input in the window is +1) or
// k-bit integers (two's complement when SIGNED).
// Input: H*W pixels, each C elements split into C/PE beats of PE channels (channel c at
// beat c/PE, bits [(c%PE)*EB +: EB]), rows top to bottom.  Output: (H/K)*(W/K) pixels in the same format.
// A line buffer of W/K output pixels takes the max of K input rows into one output row.  When K does
// not divide H or W the output is floor(H/K) x floor(W/K): trailing rows and columns are
// read and dropped (ONNX ceil_mode=0, as hwflow/rtl/hwflow_maxpool.v).
#ifndef HWFLOW_POOL_H
#define HWFLOW_POOL_H

#include "hwflow_common.h"

namespace hwflow {

// Element-wise max of two beats of PE EB-bit elements.
template <unsigned PE, unsigned EB, bool SIGNED>
ap_uint<PE * EB> max_elems(const ap_uint<PE * EB>& a, const ap_uint<PE * EB>& b) {
#pragma HLS INLINE
    if (EB == 1) return a | b;
    ap_uint<PE * EB> m;
    for (unsigned e = 0; e < PE; e++) {
#pragma HLS UNROLL
        const ap_uint<EB> x = a.range(e * EB + EB - 1, e * EB), y = b.range(e * EB + EB - 1, e * EB);
        const bool ge = SIGNED ? (ap_int<EB>(x) >= ap_int<EB>(y)) : (x >= y);
        m.range(e * EB + EB - 1, e * EB) = ge ? x : y;
    }
    return m;
}

template <unsigned H, unsigned W, unsigned C, unsigned K, unsigned PE, unsigned EB = 1, bool SIGNED = false>
void maxpool(hls::stream<ap_uint<PE * EB> >& in, hls::stream<ap_uint<PE * EB> >& out, unsigned reps) {
    static_assert(K >= 1 && K <= H && K <= W, "need 1 <= K <= H, W");
    static_assert(C % PE == 0, "PE must divide C");
    constexpr unsigned CF = C / PE, OW = W / K, KEEP_H = (H / K) * K, KEEP_W = OW * K;
    ap_uint<PE * EB> acc[OW * CF];
    unsigned cf = 0, x = 0, y = 0;
    for (unsigned i = 0; i < reps * H * W * CF; i++) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=H*W*CF max=H*W*CF
        const ap_uint<PE * EB> d = in.read();
        if (y < KEEP_H && x < KEEP_W) {
            const unsigned slot = (x / K) * CF + cf;
            // The first input of a window (top-left) starts the max, the others join it.
            const bool first = (y % K == 0) && (x % K == 0);
            const ap_uint<PE * EB> v = first ? d : max_elems<PE, EB, SIGNED>(acc[slot], d);
            acc[slot] = v;
            // The bottom-right input completes the window.
            if ((y % K == K - 1) && (x % K == K - 1)) out.write(v);
        }
        if (cf == CF - 1) {
            cf = 0;
            if (x == W - 1) {
                x = 0;
                y = (y == H - 1) ? 0 : y + 1;
            } else {
                x++;
            }
        } else {
            cf++;
        }
    }
}

// 1-bit (bipolar) max-pool: OR.
template <unsigned H, unsigned W, unsigned C, unsigned K, unsigned PE>
void maxpool_1bit(hls::stream<ap_uint<PE> >& in, hls::stream<ap_uint<PE> >& out, unsigned reps) {
#pragma HLS INLINE
    maxpool<H, W, C, K, PE, 1, false>(in, out, reps);
}

}  // namespace hwflow

#endif
