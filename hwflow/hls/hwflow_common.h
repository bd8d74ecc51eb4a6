// hwflow HLS kernel library: shared helpers (bit counting, widths).
//
// Header-only, Vitis-HLS style (ap_uint<>, hls::stream<>).  Builds with g++ for
// C simulation against Xilinx's open ap_types headers (shipped in the hls4ml wheel);
// hwflow.cppsim finds them.  HLS pragmas are left in place: g++ ignores them
// (build with -Wno-unknown-pragmas).
#ifndef HWFLOW_COMMON_H
#define HWFLOW_COMMON_H

// Wide beats (e.g. PE*OUT_BITS) may exceed ap_int's default limit of 1024 bits.
#ifndef AP_INT_MAX_W
#define AP_INT_MAX_W 4096
#endif
#include <ap_int.h>
#include <hls_stream.h>

// C simulation counts bits 64 at a time (fast); synthesis (or a C-sim build with
// -DHWFLOW_BITWISE_POPCOUNT, to test that code path) uses the plain bit loop that
// HLS turns into an adder tree.
#if !defined(__SYNTHESIS__) && !defined(HWFLOW_BITWISE_POPCOUNT)
#define HWFLOW_FAST_POPCOUNT 1
#endif

namespace hwflow {

// Bits needed to hold the values 0..n-1 (at least 1); same as hwflow.dataflow.clog2.
constexpr unsigned clog2(unsigned n, unsigned b = 1) { return (1ull << b) >= n ? b : clog2(n, b + 1); }
constexpr unsigned cmax(unsigned a, unsigned b) { return a > b ? a : b; }

// Number of one bits of x, as an unsigned value of clog2(N+1) bits.
template <unsigned N>
ap_uint<clog2(N + 1)> popcount(const ap_uint<N>& x) {
#pragma HLS INLINE
#ifdef HWFLOW_FAST_POPCOUNT
    unsigned c = 0;
    for (unsigned lo = 0; lo < N; lo += 64) {
        const unsigned hi = (lo + 63 < N) ? lo + 63 : N - 1;
        c += __builtin_popcountll(x.range(hi, lo).to_uint64());
    }
    return c;
#else
    ap_uint<clog2(N + 1)> c = 0;
    for (unsigned i = 0; i < N; i++) {
#pragma HLS UNROLL
        c += x[i];
    }
    return c;
#endif
}

}  // namespace hwflow

#endif
