// Streaming matrix-vector unit: XNOR-popcount for binary weights and inputs, an integer
// datapath (mvau_int_*) for multi-bit inputs or weights.
//
// Same semantics and stream formats as the RTL core hwflow/rtl/hwflow_mvau.v:
//   input : SF = MW/SIMD beats of SIMD bits per vector; element i at beat i/SIMD, bit i%SIMD
//           (1 = +1, 0 = -1);
//   output: NF = MH/PE beats of PE*OUT_BITS bits; neuron nf*PE+p at bits [p*OUT_BITS +: OUT_BITS];
//   pc[n] = popcount(~(x ^ w[n])); thresholded output bit = pc >= T[n] (OUT_BITS = 1),
//   or dot mode 2*pc - MW as a signed OUT_BITS = ACC_W+1 bit value.
// ACC_W (the popcount's width, >= clog2(MW+1)) comes from the caller: hwflow computes every
// width once, in Python (hwflow/layers/mvau.py), and passes it to the RTL and HLS alike.
// Weight layout (as the RTL weight ROM): weights[p][nf*SF + sf] bit s = W[nf*PE+p][sf*SIMD+s].
// Thresholds: thresh[p][nf*NT + j] = T[nf*PE+p][j].  With NT thresholds per neuron the output
// is a k-bit activation: OUT_BIAS + #{j: pc >= T[n][j]} in OUT_BITS bits (two's complement
// when OUT_BIAS < 0); NT = 1, OUT_BITS = 1, OUT_BIAS = 0 is the 1-bit activation.
// One loop iteration per (nf, sf) at II=1: the input vector is read during the first neuron
// fold and kept in a buffer for the others, so a vector takes NF*SF cycles.
#ifndef HWFLOW_MVAU_H
#define HWFLOW_MVAU_H

#include "hwflow_common.h"

namespace hwflow {

// The activation level of v: OUT_BIAS + how many of the NT thresholds row[base + j] it reaches.
template <unsigned NT, unsigned OUT_BITS, int OUT_BIAS, typename V, typename ROW>
ap_uint<OUT_BITS> act_level(const V& v, const ROW& row, unsigned base) {
#pragma HLS INLINE
    ap_int<OUT_BITS + 1> lvl = OUT_BIAS;
    for (unsigned j = 0; j < NT; j++) {
#pragma HLS UNROLL
        if (v >= row[base + j]) lvl++;
    }
    return ap_uint<OUT_BITS>(lvl);
}

template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, unsigned ACC_W, unsigned TW, bool THRESH,
          unsigned OUT_BITS, unsigned NT = 1, int OUT_BIAS = 0>
void mvau_xnor_impl(hls::stream<ap_uint<SIMD> >& in, hls::stream<ap_uint<PE * OUT_BITS> >& out,
                    const ap_uint<SIMD> weights[PE][(MH / PE) * (MW / SIMD)],
                    const ap_uint<TW> thresh[PE][(MH / PE) * NT], unsigned reps) {
    static_assert(MW % SIMD == 0, "SIMD must divide MW");
    static_assert(MH % PE == 0, "PE must divide MH");
    constexpr unsigned SF = MW / SIMD, NF = MH / PE;
    static_assert(ACC_W >= clog2(MW + 1), "the popcount 0..MW needs clog2(MW+1) bits");
    static_assert(!THRESH || NT >= 1, "an activation needs at least one threshold");
    static_assert(THRESH || OUT_BITS == ACC_W + 1, "dot output needs ACC_W+1 bits");
    // Each PE reads its own weight word every cycle: split the PE dimension into
    // separate memories.
#pragma HLS ARRAY_PARTITION variable=weights complete dim=1
#pragma HLS ARRAY_PARTITION variable=thresh complete dim=1

    ap_uint<SIMD> inbuf[SF];
    ap_uint<ACC_W> acc[PE];
#pragma HLS ARRAY_PARTITION variable=acc complete
    unsigned sf = 0, nf = 0;
    for (unsigned i = 0; i < reps * NF * SF; i++) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=NF*SF max=NF*SF
        ap_uint<SIMD> x;
        if (nf == 0) {
            x = in.read();
            inbuf[sf] = x;
        } else {
            x = inbuf[sf];
        }
        ap_uint<PE * OUT_BITS> o = 0;
        for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
            const ap_uint<SIMD> match = ~(x ^ weights[p][nf * SF + sf]);
            const ap_uint<ACC_W> pc = (sf == 0 ? ap_uint<ACC_W>(0) : acc[p]) + popcount<SIMD>(match);
            acc[p] = pc;
            if (THRESH) {
                o.range(p * OUT_BITS + OUT_BITS - 1, p * OUT_BITS) =
                    act_level<NT, OUT_BITS, OUT_BIAS>(pc, thresh[p], nf * NT);
            } else {
                const ap_int<OUT_BITS> dot = ap_int<OUT_BITS + 1>(2 * pc) - ap_int<OUT_BITS + 1>(MW);
                o.range(p * OUT_BITS + OUT_BITS - 1, p * OUT_BITS) = ap_uint<OUT_BITS>(dot);
            }
        }
        if (sf == SF - 1) {
            out.write(o);
            sf = 0;
            nf = (nf == NF - 1) ? 0 : nf + 1;
        } else {
            sf++;
        }
    }
}

// Thresholded: out bit = popcount >= T (or a k-bit level with NT thresholds per neuron).
// TW (>= clog2(MW+2)) bits hold T in 0..MW+1.
template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, unsigned ACC_W, unsigned TW, unsigned NT = 1,
          unsigned OUT_BITS = 1, int OUT_BIAS = 0>
void mvau_xnor_thresh(hls::stream<ap_uint<SIMD> >& in, hls::stream<ap_uint<PE * OUT_BITS> >& out,
                      const ap_uint<SIMD> weights[PE][(MH / PE) * (MW / SIMD)],
                      const ap_uint<TW> thresh[PE][(MH / PE) * NT], unsigned reps) {
#pragma HLS INLINE
    mvau_xnor_impl<MW, MH, SIMD, PE, ACC_W, TW, true, OUT_BITS, NT, OUT_BIAS>(in, out, weights, thresh, reps);
}

// Dot product mode: out = 2*popcount - MW, signed, ACC_W+1 bits per neuron.
template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, unsigned ACC_W>
void mvau_xnor_dot(hls::stream<ap_uint<SIMD> >& in,
                   hls::stream<ap_uint<PE * (ACC_W + 1)> >& out,
                   const ap_uint<SIMD> weights[PE][(MH / PE) * (MW / SIMD)], unsigned reps) {
#pragma HLS INLINE
    // No thresholds: the compare is never built, this only satisfies the signature.
    static const ap_uint<1> none[PE][MH / PE] = {};
    mvau_xnor_impl<MW, MH, SIMD, PE, ACC_W, 1, false, ACC_W + 1>(in, out, weights, none, reps);
}

// Integer datapath: multi-bit inputs and/or multi-bit weights (e.g. a first layer fed with
// 8-bit pixels, or ternary weights times 2-bit activations).
// Input: SF beats of SIMD elements of IN_BITS bits, element i at beat i/SIMD, bits
// [(i%SIMD)*IN_BITS +: IN_BITS]: two's complement if IN_SIGNED, unsigned otherwise, and for
// IN_BITS = 1 a bipolar bit (1 = +1, 0 = -1).  Weights: W_BITS = 1 is a bit (1 = +1, 0 = -1),
// else a W_BITS-bit two's complement integer; weights[p][nf*SF + sf] bits
// [s*W_BITS +: W_BITS] = W[nf*PE+p][sf*SIMD+s].
// acc[n] = sum_i W[n][i] * x_i as a signed ACC_BITS value (the caller sizes it).  Output as the
// binary MVAU: THRESH gives the activation of acc (T of type TT, signed; NT per neuron, a k-bit
// level as for mvau_xnor_*), else acc itself (OUT_BITS = ACC_BITS).
template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, unsigned IN_BITS, bool IN_SIGNED, unsigned W_BITS,
          unsigned ACC_BITS, bool THRESH, typename TT, unsigned NT = 1, unsigned ACT_BITS = 1, int OUT_BIAS = 0>
void mvau_int_impl(hls::stream<ap_uint<SIMD * IN_BITS> >& in,
                   hls::stream<ap_uint<PE * (THRESH ? ACT_BITS : ACC_BITS)> >& out,
                   const ap_uint<SIMD * W_BITS> weights[PE][(MH / PE) * (MW / SIMD)],
                   const TT thresh[PE][(MH / PE) * NT], unsigned reps) {
    static_assert(MW % SIMD == 0, "SIMD must divide MW");
    static_assert(MH % PE == 0, "PE must divide MH");
    constexpr unsigned SF = MW / SIMD, NF = MH / PE, OB = THRESH ? ACT_BITS : ACC_BITS;
#pragma HLS ARRAY_PARTITION variable=weights complete dim=1
#pragma HLS ARRAY_PARTITION variable=thresh complete dim=1
    ap_uint<SIMD * IN_BITS> inbuf[SF];
    ap_int<ACC_BITS> acc[PE];
#pragma HLS ARRAY_PARTITION variable=acc complete
    unsigned sf = 0, nf = 0;
    for (unsigned i = 0; i < reps * NF * SF; i++) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=NF*SF max=NF*SF
        ap_uint<SIMD * IN_BITS> x;
        if (nf == 0) {
            x = in.read();
            inbuf[sf] = x;
        } else {
            x = inbuf[sf];
        }
        ap_uint<PE * OB> o = 0;
        for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
            const ap_uint<SIMD * W_BITS> w = weights[p][nf * SF + sf];
            ap_int<ACC_BITS> sum = (sf == 0) ? ap_int<ACC_BITS>(0) : acc[p];
#ifdef HWFLOW_FAST_POPCOUNT
            // C simulation: the same sum over plain ints (a per-element range() of a wide
            // ap_uint made a CNV csim take minutes); ACC_BITS holds it, as for the loop below.
            {
                long long xs[SIMD], ws[SIMD];
                unpack_fields<SIMD, IN_BITS>(x, IN_BITS == 1 ? 2 : (IN_SIGNED ? 1 : 0), xs);
                unpack_fields<SIMD, W_BITS>(w, W_BITS == 1 ? 2 : 1, ws);
                long long d = 0;
                for (unsigned s = 0; s < SIMD; s++) d += xs[s] * ws[s];
                sum += ap_int<ACC_BITS>(d);
            }
#else
            for (unsigned s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
                const ap_uint<IN_BITS> raw = x.range(s * IN_BITS + IN_BITS - 1, s * IN_BITS);
                ap_int<IN_BITS + 1> v;  // one extra bit: signed and unsigned alike, and -x fits
                if (IN_BITS == 1) v = raw[0] ? 1 : -1;
                else if (IN_SIGNED) v = ap_int<IN_BITS>(raw);
                else v = raw;
                const ap_uint<W_BITS> wraw = w.range(s * W_BITS + W_BITS - 1, s * W_BITS);
                if (W_BITS == 1) sum += wraw[0] ? ap_int<IN_BITS + 2>(v) : ap_int<IN_BITS + 2>(-v);
                else sum += ap_int<IN_BITS + W_BITS + 1>(v * ap_int<W_BITS>(wraw));
            }
#endif
            acc[p] = sum;
            if (THRESH) o.range(p * OB + OB - 1, p * OB) = act_level<NT, OB, OUT_BIAS>(sum, thresh[p], nf * NT);
            else o.range(p * OB + OB - 1, p * OB) = ap_uint<OB>(sum);
        }
        if (sf == SF - 1) {
            out.write(o);
            sf = 0;
            nf = (nf == NF - 1) ? 0 : nf + 1;
        } else {
            sf++;
        }
    }
}

template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, unsigned IN_BITS, bool IN_SIGNED, unsigned W_BITS,
          unsigned ACC_BITS, typename TT, unsigned NT = 1, unsigned OUT_BITS = 1, int OUT_BIAS = 0>
void mvau_int_thresh(hls::stream<ap_uint<SIMD * IN_BITS> >& in, hls::stream<ap_uint<PE * OUT_BITS> >& out,
                     const ap_uint<SIMD * W_BITS> weights[PE][(MH / PE) * (MW / SIMD)],
                     const TT thresh[PE][(MH / PE) * NT], unsigned reps) {
#pragma HLS INLINE
    mvau_int_impl<MW, MH, SIMD, PE, IN_BITS, IN_SIGNED, W_BITS, ACC_BITS, true, TT, NT, OUT_BITS, OUT_BIAS>(
        in, out, weights, thresh, reps);
}

template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, unsigned IN_BITS, bool IN_SIGNED, unsigned W_BITS,
          unsigned ACC_BITS>
void mvau_int_dot(hls::stream<ap_uint<SIMD * IN_BITS> >& in, hls::stream<ap_uint<PE * ACC_BITS> >& out,
                  const ap_uint<SIMD * W_BITS> weights[PE][(MH / PE) * (MW / SIMD)], unsigned reps) {
#pragma HLS INLINE
    static const ap_int<1> none[PE][MH / PE] = {};
    mvau_int_impl<MW, MH, SIMD, PE, IN_BITS, IN_SIGNED, W_BITS, ACC_BITS, false, ap_int<1> >(in, out, weights, none,
                                                                                           reps);
}

}  // namespace hwflow

#endif
