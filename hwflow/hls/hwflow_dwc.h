// Stream width converter for a continuous LSB-first bit stream (as hwflow/rtl/hwflow_dwc.v).
//
// Input beats of IW bits are appended to a bit queue, output beats take the next OW bits.
// IW and OW need not divide each other; BITS (bits per image) must be a multiple of both,
// so the queue is empty at every image boundary.  Each iteration either emits (when OW
// bits are queued) or reads, so an image takes BITS/IW + BITS/OW iterations at II=1
// (IW == OW is a plain copy, one iteration per beat).
#ifndef HWFLOW_DWC_H
#define HWFLOW_DWC_H

#include "hwflow_common.h"

namespace hwflow {

template <unsigned IW, unsigned OW, unsigned BITS>
void dwc(hls::stream<ap_uint<IW> >& in, hls::stream<ap_uint<OW> >& out, unsigned reps) {
    static_assert(BITS % IW == 0 && BITS % OW == 0, "bits per image must be a multiple of IW and OW");
    if (IW == OW) {
        for (unsigned i = 0; i < reps * (BITS / IW); i++) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=BITS/IW max=BITS/IW
            out.write(ap_uint<OW>(in.read()));
        }
        return;
    }
    constexpr unsigned QW = IW + OW;  // the queue never holds more than OW-1+IW bits
    ap_uint<QW> q = 0;
    ap_uint<clog2(QW + 1)> cnt = 0;
    for (unsigned i = 0; i < reps * (BITS / IW + BITS / OW); i++) {
#pragma HLS PIPELINE II=1
#pragma HLS LOOP_TRIPCOUNT min=BITS/IW+BITS/OW max=BITS/IW+BITS/OW
        if (cnt >= OW) {
            out.write(ap_uint<OW>(q));
            q >>= OW;
            cnt -= OW;
        } else {
            ap_uint<QW> x = in.read();
            q |= x << cnt;
            cnt += IW;
        }
    }
}

}  // namespace hwflow

#endif
