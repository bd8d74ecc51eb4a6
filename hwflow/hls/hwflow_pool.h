// Pooling kernels: maxpool (K x K windows, stride K, over an NHWC image) and window_pool
// (max or sum over windows given as a stream, e.g. a sliding-window generator's output, or
// a whole image for global pooling).
//
// maxpool: max-pool over a channel-last (NHWC) feature map, kernel K x K, stride K, of EB-bit
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
    if (EB == 1) return SIGNED ? (a & b) : (a | b);  // signed 1-bit values are 0 and -1
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

// window_pool: reduction of windows, per channel, as hwflow/rtl/hwflow_winpool.v.
// Input: reps windows, each KK positions x CF = CH/PE beats of PE elements of IN_BITS
// (beat pos*CF + cf holds channels cf*PE .. cf*PE+PE-1 of position pos).  Output: per
// window CF beats of PE elements of OUT_BITS, element c = the reduction over the KK
// positions of channel c:
//   MODE 0, max: OUT_BITS == IN_BITS, same encoding; bipolar (IN_BIPOLAR, 1 = +1) is OR;
//          IN_SIGNED compares two's complement.
//   MODE 1, sum: the integer sum (bipolar elements count +1/-1), OUT_BITS-bit two's
//          complement when IN_SIGNED or IN_BIPOLAR, else unsigned (wraps modulo
//          2^OUT_BITS: the caller picks OUT_BITS large enough).
// IN_SIGNED and IN_BIPOLAR are flags (true/false or 1/0).  One beat per iteration at II=1:
// KK*CF iterations per window; the accumulator holds CF words of PE*OUT_BITS.
template <unsigned KK, unsigned CH, unsigned PE, unsigned IN_BITS, unsigned IN_SIGNED, unsigned IN_BIPOLAR,
          unsigned MODE, unsigned OUT_BITS>
void window_pool(hls::stream<ap_uint<PE * IN_BITS> >& in, hls::stream<ap_uint<PE * OUT_BITS> >& out,
                 unsigned reps) {
    static_assert(KK >= 1, "need KK >= 1");
    static_assert(CH % PE == 0, "PE must divide CH");
    static_assert(MODE == 0 || MODE == 1, "MODE is 0 (max) or 1 (sum)");
    static_assert(MODE != 0 || OUT_BITS == IN_BITS, "max needs OUT_BITS == IN_BITS");
    static_assert(!IN_BIPOLAR || IN_BITS == 1, "bipolar elements are 1 bit");
    static_assert(MODE != 1 || (OUT_BITS >= IN_BITS && (!IN_BIPOLAR || OUT_BITS >= 2)),
                  "sum needs OUT_BITS >= IN_BITS (>= 2 for bipolar)");
    constexpr unsigned CF = CH / PE;
    constexpr bool MAX_SIGNED = IN_SIGNED && !IN_BIPOLAR;
    ap_uint<PE * OUT_BITS> acc[CF];
    unsigned cf = 0, pos = 0;
    for (unsigned i = 0; i < reps * KK * CF; i++) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=KK*CF max=KK*CF
        const ap_uint<PE * IN_BITS> d = in.read();
        ap_uint<PE * OUT_BITS> v;
        if (MODE == 0) {
            const ap_uint<PE * OUT_BITS> x = d;  // OUT_BITS == IN_BITS
            v = pos == 0 ? x : max_elems<PE, OUT_BITS, MAX_SIGNED>(acc[cf], x);
        } else {
            for (unsigned e = 0; e < PE; e++) {
#pragma HLS UNROLL
                const ap_uint<IN_BITS> x = d.range(e * IN_BITS + IN_BITS - 1, e * IN_BITS);
                ap_uint<OUT_BITS> ext;
                if (IN_BIPOLAR)
                    ext = x[0] ? ap_uint<OUT_BITS>(1) : ap_uint<OUT_BITS>(~ap_uint<OUT_BITS>(0));
                else if (IN_SIGNED)
                    ext = ap_int<OUT_BITS>(ap_int<IN_BITS>(x));  // sign-extend
                else
                    ext = x;
                const ap_uint<OUT_BITS> prev = acc[cf].range(e * OUT_BITS + OUT_BITS - 1, e * OUT_BITS);
                v.range(e * OUT_BITS + OUT_BITS - 1, e * OUT_BITS) = pos == 0 ? ext : ap_uint<OUT_BITS>(prev + ext);
            }
        }
        if (pos == KK - 1)
            out.write(v);
        else
            acc[cf] = v;
        if (cf == CF - 1) {
            cf = 0;
            pos = (pos == KK - 1) ? 0 : pos + 1;
        } else {
            cf++;
        }
    }
}

}  // namespace hwflow

#endif
