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

#ifdef HWFLOW_FAST_POPCOUNT
// C simulation only: the N fields of B bits of x as integers, read 64 bits at a time.
// mode 0: unsigned, 1: two's complement, 2: a bipolar bit (1 = +1, 0 = -1).
template <unsigned N, unsigned B>
void unpack_fields(const ap_uint<N * B>& x, int mode, long long out[N]) {
    constexpr unsigned NB = N * B, NWORDS = (NB + 63) / 64;
    unsigned long long words[NWORDS + 1];
    for (unsigned k = 0; k < NWORDS; k++) {
        const unsigned hi = (64 * k + 63 < NB) ? 64 * k + 63 : NB - 1;
        words[k] = x.range(hi, 64 * k).to_uint64();
    }
    words[NWORDS] = 0;
    const unsigned long long mask = (B >= 64) ? ~0ull : ((1ull << B) - 1);
    for (unsigned s = 0; s < N; s++) {
        const unsigned o = s * B, k = o / 64, b = o % 64;
        unsigned long long f = words[k] >> b;
        if (b + B > 64) f |= words[k + 1] << (64 - b);
        f &= mask;
        if (mode == 2) out[s] = f ? 1 : -1;
        else if (mode == 1 && B < 64 && (f >> (B - 1))) out[s] = (long long)(f | ~mask);
        else out[s] = (long long)f;
    }
}
#endif

}  // namespace hwflow

#endif
