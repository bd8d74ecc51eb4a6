// Stream-graph kernels: fan-out (dup), element-wise add of two streams (add_streams) and
// channel concatenation (concat), the HLS twins of hwflow/rtl/hwflow_dup.v,
// hwflow_addstreams.v and hwflow_concat.v.  One beat per cycle (II=1).
//
// Stream format: a pixel's CH elements travel in CF = CH/PE beats of PE elements of BITS
// bits, channel c in beat c/PE at bits [(c%PE)*BITS +: BITS]; pixels NHWC row-major.
// The requantizing threshold after an add is hwflow::threshold (hwflow_threshold.h).
#ifndef HWFLOW_STREAMS_H
#define HWFLOW_STREAMS_H

#include "hwflow_common.h"

namespace hwflow {

// Every input beat to each of the N_OUT outputs; `beats` beats in all.
template <unsigned WIDTH, unsigned N_OUT>
void dup(hls::stream<ap_uint<WIDTH> >& in, hls::stream<ap_uint<WIDTH> > out[N_OUT], unsigned beats) {
    static_assert(N_OUT >= 2, "dup needs at least two outputs");
    for (unsigned i = 0; i < beats; i++) {
#pragma HLS PIPELINE II=1
        const ap_uint<WIDTH> v = in.read();
        for (unsigned k = 0; k < N_OUT; k++) {
#pragma HLS UNROLL
            out[k].write(v);
        }
    }
}

// Two-output fan-out with separate stream arguments (same behaviour as dup<WIDTH, 2>).
template <unsigned WIDTH>
void dup2(hls::stream<ap_uint<WIDTH> >& in, hls::stream<ap_uint<WIDTH> >& out0, hls::stream<ap_uint<WIDTH> >& out1,
          unsigned beats) {
    for (unsigned i = 0; i < beats; i++) {
#pragma HLS PIPELINE II=1
        const ap_uint<WIDTH> v = in.read();
        out0.write(v);
        out1.write(v);
    }
}

// out[p] = in0[p] + in1[p] for the PE elements of each beat, modulo 2^OUT_BITS (the inputs
// are sign-extended when IN_SIGNED, else zero-extended; the caller picks OUT_BITS wide
// enough for its values).  `beats` beat pairs in all.
template <unsigned PE, unsigned IN_BITS, bool IN_SIGNED, unsigned OUT_BITS>
void add_streams(hls::stream<ap_uint<PE * IN_BITS> >& in0, hls::stream<ap_uint<PE * IN_BITS> >& in1,
                 hls::stream<ap_uint<PE * OUT_BITS> >& out, unsigned beats) {
    constexpr unsigned SW = cmax(IN_BITS, OUT_BITS) + 1;   // exact sum of two IN_BITS values
    for (unsigned i = 0; i < beats; i++) {
#pragma HLS PIPELINE II=1
        const ap_uint<PE * IN_BITS> a = in0.read();
        const ap_uint<PE * IN_BITS> b = in1.read();
        ap_uint<PE * OUT_BITS> o = 0;
        for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
            const ap_uint<IN_BITS> ra = a.range(p * IN_BITS + IN_BITS - 1, p * IN_BITS);
            const ap_uint<IN_BITS> rb = b.range(p * IN_BITS + IN_BITS - 1, p * IN_BITS);
            ap_int<SW> va, vb;
            if (IN_SIGNED) {
                va = ap_int<IN_BITS>(ra);
                vb = ap_int<IN_BITS>(rb);
            } else {
                va = ra;
                vb = rb;
            }
            const ap_int<SW> s = va + vb;
            o.range(p * OUT_BITS + OUT_BITS - 1, p * OUT_BITS) = ap_uint<OUT_BITS>(s);
        }
        out.write(o);
    }
}

// Per pixel: the CH0/SIMD beats of in0, then the CH1/SIMD beats of in1 (beats passed
// through unchanged); `reps` images of PIXELS pixels.
template <unsigned PIXELS, unsigned CH0, unsigned CH1, unsigned SIMD, unsigned ELEM_BITS>
void concat(hls::stream<ap_uint<SIMD * ELEM_BITS> >& in0, hls::stream<ap_uint<SIMD * ELEM_BITS> >& in1,
            hls::stream<ap_uint<SIMD * ELEM_BITS> >& out, unsigned reps) {
    static_assert(CH0 % SIMD == 0 && CH1 % SIMD == 0 && CH0 >= SIMD && CH1 >= SIMD,
                  "CH0 and CH1 must be positive multiples of SIMD");
    constexpr unsigned CF0 = CH0 / SIMD, CFT = (CH0 + CH1) / SIMD;
    unsigned c = 0;
    for (unsigned i = 0; i < reps * PIXELS * CFT; i++) {
#pragma HLS PIPELINE II=1
        const ap_uint<SIMD * ELEM_BITS> v = (c < CF0) ? in0.read() : in1.read();
        out.write(v);
        c = (c == CFT - 1) ? 0 : c + 1;
    }
}

}  // namespace hwflow

#endif
