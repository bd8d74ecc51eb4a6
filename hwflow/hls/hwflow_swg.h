// Sliding-window generator (im2col) for a valid K x K convolution, stride STRIDE, on an
// NHWC image of H rows by W columns: same stream formats as hwflow/rtl/hwflow_swg.v.
//
// Input: H x W pixels, row-major, each pixel CH elements of ELEM_BITS bits in
// CF = CH/SIMD beats of SIMD elements (channel c in beat c/SIMD, lane c%SIMD at bits
// [(c%SIMD)*ELEM_BITS +: ELEM_BITS]).
// Output: for each output pixel (oy, ox), row-major, OFM_H x OFM_W with
// OFM_H = (H-K)/STRIDE+1 and OFM_W = (W-K)/STRIDE+1, its window's K*K*CH elements in
// (ky, kx, c) order as K*K*CF beats of SIMD elements: the input-vector order of an MVAU
// with MW = K*K*CH (one vector per output pixel).  Rows and columns no window covers
// are read and dropped.
//
// Line buffer of NROWS = K + STRIDE rows of W*CF beats (input row r in slot r % NROWS),
// one write and one read per cycle (simple dual-port memory).  One loop iteration at
// II=1 may both read an input beat (while the row being written is not one of the
// current window rows) and emit an output beat (once the current window's K rows are
// complete).  Bookkeeping is in whole rows.  An image costs about
// K*W*CF + OFM_H*OFM_W*K^2*CF iterations (the first K rows are read before any output;
// images do not overlap).
#ifndef HWFLOW_SWG_H
#define HWFLOW_SWG_H

#include "hwflow_common.h"

namespace hwflow {

template <unsigned H, unsigned W, unsigned CH, unsigned K, unsigned STRIDE, unsigned SIMD, unsigned ELEM_BITS>
void swg(hls::stream<ap_uint<SIMD * ELEM_BITS> >& in, hls::stream<ap_uint<SIMD * ELEM_BITS> >& out,
         unsigned reps) {
    static_assert(CH % SIMD == 0, "SIMD must divide CH");
    static_assert(K >= 1 && K <= H && K <= W, "need 1 <= K <= min(H, W)");
    static_assert(STRIDE >= 1 && STRIDE <= K, "need 1 <= STRIDE <= K");
    constexpr unsigned CF = CH / SIMD, OFM_H = (H - K) / STRIDE + 1, OFM_W = (W - K) / STRIDE + 1, RW = W * CF;
    constexpr unsigned NROWS = K + STRIDE;
    constexpr unsigned OUT_BEATS = OFM_H * OFM_W * K * K * CF;
    ap_uint<SIMD * ELEM_BITS> buf[NROWS * RW];
#pragma HLS DEPENDENCE variable=buf inter false

    for (unsigned rep = 0; rep < reps; rep++) {
        // writer: input row wrow (= rows complete), beat wcol within it, its slot wslot
        unsigned wrow = 0, wcol = 0, wslot = 0;
        // reader: output pixel (oy, ox), window position (ky, kx, cf); rslot = slot of row
        // oy*STRIDE, colbase = ox*STRIDE*CF
        unsigned oy = 0, ox = 0, ky = 0, kx = 0, cf = 0, rslot = 0, colbase = 0;
        unsigned emitted = 0;
        while (emitted < OUT_BEATS || wrow < H) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=H*RW max=H*RW+OUT_BEATS
            // Both decisions on the state at the start of the iteration, so the beat read
            // and the beat written are never in the same row slot.
            const bool out_done = emitted == OUT_BEATS;
            // Emit: the window rows oy*STRIDE .. oy*STRIDE+K-1 are all written.
            const bool do_emit = !out_done && wrow >= oy * STRIDE + K;
            // Read: the slot of row wrow holds none of the current window rows (rows below
            // oy*STRIDE are no longer needed); after the last window, trailing rows drain.
            const bool do_read = wrow < H && (out_done || wrow < oy * STRIDE + NROWS);
            if (do_emit) {
                unsigned s = rslot + ky;
                if (s >= NROWS) s -= NROWS;
                out.write(buf[s * RW + colbase + kx * CF + cf]);
                emitted++;
                if (cf == CF - 1) {
                    cf = 0;
                    if (kx == K - 1) {
                        kx = 0;
                        if (ky == K - 1) {
                            ky = 0;
                            if (ox == OFM_W - 1) {
                                ox = 0;
                                colbase = 0;
                                oy++;
                                rslot += STRIDE;
                                if (rslot >= NROWS) rslot -= NROWS;
                            } else {
                                ox++;
                                colbase += STRIDE * CF;
                            }
                        } else {
                            ky++;
                        }
                    } else {
                        kx++;
                    }
                } else {
                    cf++;
                }
            }
            if (do_read) {
                buf[wslot * RW + wcol] = in.read();
                if (wcol == RW - 1) {
                    wcol = 0;
                    wrow++;
                    wslot = (wslot == NROWS - 1) ? 0 : wslot + 1;
                } else {
                    wcol++;
                }
            }
        }
    }
}

}  // namespace hwflow

#endif
