// Testbench helpers (C simulation only, not for synthesis): beats in files.
//
// File format shared with the RTL harness (hwflow/rtl/harness.cpp) and
// hwflow.rtlsim.pack_beats: a W-bit beat is ceil(W/32) little-endian uint32 words,
// bit j of the beat being bit j%32 of word j/32.
#ifndef HWFLOW_TB_H
#define HWFLOW_TB_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "hwflow_common.h"

namespace hwflow {

template <unsigned W>
bool read_beat(FILE* f, ap_uint<W>& v) {
    constexpr unsigned NW = (W + 31) / 32;
    uint32_t w[NW];
    if (fread(w, 4, NW, f) != NW) return false;
    ap_uint<32 * NW> t = 0;
    for (int k = NW - 1; k >= 0; k--) t = (t << 32) | ap_uint<32 * NW>(w[k]);
    v = ap_uint<W>(t);
    return true;
}

template <unsigned W>
ap_uint<W> read_beat_or_die(FILE* f) {
    ap_uint<W> v;
    if (!read_beat<W>(f, v)) {
        fprintf(stderr, "input file too short\n");
        exit(2);
    }
    return v;
}

template <unsigned W>
void write_beat(FILE* f, const ap_uint<W>& v) {
    constexpr unsigned NW = (W + 31) / 32;
    const ap_uint<32 * NW> t = v;
    uint32_t w[NW];
    for (unsigned k = 0; k < NW; k++) w[k] = t.range(32 * k + 31, 32 * k).to_uint();
    fwrite(w, 4, NW, f);
}

}  // namespace hwflow

#endif
