// C-simulation driver for every kernel of the hwflow HLS library (hwflow/hls/).
//
// The cases (template parameters) come from a header given with -include, which defines
// MVAU_CASES(X), MVAU_MB_CASES(X), THRESHOLD_CASES(X), LABELSELECT_CASES(X), DWC_CASES(X), POOL_CASES(X),
// SWG_CASES(X), PAD_CASES(X) and WINPOOL_CASES(X) as lists of X(params...); tests/test_hls.py writes
// it, so one compile covers all cases.
//
// Usage: tb_kernels KIND CASE_INDEX IN_FILE OUT_FILE N_VECTORS
// IN_FILE holds, as little-endian uint32 words (ceil(W/32) words per W-bit value, as the
// RTL harness beats): the kernel's constants (weights, thresholds) then the input beats.
// OUT_FILE receives the output beats.  Exit 3 if the kernel leaves input unread or
// writes a wrong number of beats.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "../../hwflow/hls/hwflow_hls.h"
#include "../../hwflow/hls/hwflow_pad.h"
#include "../../hwflow/hls/hwflow_pool.h"
#include "../../hwflow/hls/hwflow_swg.h"
#include "../../hwflow/hls/hwflow_tb.h"

template <unsigned W>
ap_uint<W> get(FILE* f) { return hwflow::read_beat_or_die<W>(f); }

template <int W>
static int finish(hls::stream<ap_uint<W> >& out, unsigned expected, bool in_empty, FILE* fo) {
    if (!in_empty || out.size() != expected) {
        fprintf(stderr, "stream mismatch: input drained=%d, %u output beats, expected %u\n",
                (int)in_empty, (unsigned)out.size(), expected);
        return 3;
    }
    while (!out.empty()) hwflow::write_beat<W>(fo, out.read());
    return 0;
}

// Only the matching mode's call may be instantiated (the output widths differ).
// ACC_W: the popcount's width, the smallest that holds 0..MW (hwflow passes the same).
template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, unsigned ACC_W, unsigned TW, typename OUT>
void call_mvau(hls::stream<ap_uint<SIMD> >& in, OUT& out, const ap_uint<SIMD> w[PE][(MH / PE) * (MW / SIMD)],
               const ap_uint<TW> t[PE][MH / PE], unsigned n, std::true_type) {
    hwflow::mvau_xnor_thresh<MW, MH, SIMD, PE, ACC_W, TW>(in, out, w, t, n);
}
template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, unsigned ACC_W, unsigned TW, typename OUT>
void call_mvau(hls::stream<ap_uint<SIMD> >& in, OUT& out, const ap_uint<SIMD> w[PE][(MH / PE) * (MW / SIMD)],
               const ap_uint<TW>[PE][MH / PE], unsigned n, std::false_type) {
    hwflow::mvau_xnor_dot<MW, MH, SIMD, PE, ACC_W>(in, out, w, n);
}

template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, bool THRESH>
int run_mvau(FILE* fi, FILE* fo, unsigned n) {
    constexpr unsigned NF = MH / PE, SF = MW / SIMD, TW = hwflow::clog2(MW + 2);
    constexpr unsigned ACC_W = hwflow::clog2(MW + 1), OB = THRESH ? 1 : ACC_W + 1;
    static ap_uint<SIMD> w[PE][NF * SF];
    static ap_uint<TW> t[PE][NF];
    for (unsigned p = 0; p < PE; p++)
        for (unsigned j = 0; j < NF * SF; j++) w[p][j] = get<SIMD>(fi);
    if (THRESH)
        for (unsigned p = 0; p < PE; p++)
            for (unsigned j = 0; j < NF; j++) t[p][j] = get<TW>(fi);
    hls::stream<ap_uint<SIMD> > in;
    hls::stream<ap_uint<PE * OB> > out;
    for (unsigned i = 0; i < n * SF; i++) in.write(get<SIMD>(fi));
    call_mvau<MW, MH, SIMD, PE, ACC_W, TW>(in, out, w, t, n, std::integral_constant<bool, THRESH>());
    return finish(out, n * NF, in.empty(), fo);
}

template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, unsigned IB, bool SIGNED, unsigned ACC,
          typename OUT>
void call_mvau_mb(hls::stream<ap_uint<SIMD * IB> >& in, OUT& out,
                  const ap_uint<SIMD> w[PE][(MH / PE) * (MW / SIMD)], const ap_int<ACC> t[PE][MH / PE],
                  unsigned n, std::true_type) {
    hwflow::mvau_int_thresh<MW, MH, SIMD, PE, IB, SIGNED, 1, ACC, ap_int<ACC> >(in, out, w, t, n);
}
template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, unsigned IB, bool SIGNED, unsigned ACC,
          typename OUT>
void call_mvau_mb(hls::stream<ap_uint<SIMD * IB> >& in, OUT& out,
                  const ap_uint<SIMD> w[PE][(MH / PE) * (MW / SIMD)], const ap_int<ACC>[PE][MH / PE],
                  unsigned n, std::false_type) {
    hwflow::mvau_int_dot<MW, MH, SIMD, PE, IB, SIGNED, 1, ACC>(in, out, w, n);
}

// Multi-bit input: thresholds (if any) are ACC-bit two's complement values.
template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, unsigned IB, bool SIGNED, unsigned ACC, bool THRESH>
int run_mvau_mb(FILE* fi, FILE* fo, unsigned n) {
    constexpr unsigned NF = MH / PE, SF = MW / SIMD, OB = THRESH ? 1 : ACC;
    static ap_uint<SIMD> w[PE][NF * SF];
    static ap_int<ACC> t[PE][NF];
    for (unsigned p = 0; p < PE; p++)
        for (unsigned j = 0; j < NF * SF; j++) w[p][j] = get<SIMD>(fi);
    if (THRESH)
        for (unsigned p = 0; p < PE; p++)
            for (unsigned j = 0; j < NF; j++) t[p][j] = ap_int<ACC>(get<ACC>(fi));
    hls::stream<ap_uint<SIMD * IB> > in;
    hls::stream<ap_uint<PE * OB> > out;
    for (unsigned i = 0; i < n * SF; i++) in.write(get<SIMD * IB>(fi));
    call_mvau_mb<MW, MH, SIMD, PE, IB, SIGNED, ACC>(in, out, w, t, n, std::integral_constant<bool, THRESH>());
    return finish(out, n * NF, in.empty(), fo);
}

template <unsigned NF, unsigned PE, unsigned IB, bool SIGNED, unsigned NT, unsigned OB>
int run_threshold(FILE* fi, FILE* fo, unsigned n) {
    typedef ap_int<IB + 2> TT;  // one bit more than the input: "never fires" is representable
    static TT t[PE][NF][NT];
    for (unsigned p = 0; p < PE; p++)
        for (unsigned j = 0; j < NF; j++)
            for (unsigned k = 0; k < NT; k++) t[p][j][k] = TT(get<IB + 2>(fi));
    hls::stream<ap_uint<PE * IB> > in;
    hls::stream<ap_uint<PE * OB> > out;
    for (unsigned i = 0; i < n * NF; i++) in.write(get<PE * IB>(fi));
    hwflow::threshold<NF, PE, IB, SIGNED, NT, OB, TT>(in, out, t, n);
    return finish(out, n * NF, in.empty(), fo);
}

template <unsigned NF, unsigned PE, unsigned IB, bool SIGNED, unsigned IDX>
int run_labelselect(FILE* fi, FILE* fo, unsigned n) {
    hls::stream<ap_uint<PE * IB> > in;
    hls::stream<ap_uint<IDX> > out;
    for (unsigned i = 0; i < n * NF; i++) in.write(get<PE * IB>(fi));
    hwflow::label_select<NF, PE, IB, SIGNED, IDX>(in, out, n);
    return finish(out, n, in.empty(), fo);
}

template <unsigned N, unsigned K, unsigned IB, bool SIGNED, unsigned IDX>
int run_topk(FILE* fi, FILE* fo, unsigned n) {
    hls::stream<ap_uint<IB> > in;
    hls::stream<ap_uint<IDX> > out;
    for (unsigned i = 0; i < n * N; i++) in.write(get<IB>(fi));
    hwflow::top_k<N, K, IB, SIGNED, IDX>(in, out, n);
    return finish(out, n * K, in.empty(), fo);
}

template <unsigned IW, unsigned OW, unsigned BITS>
int run_dwc(FILE* fi, FILE* fo, unsigned n) {
    hls::stream<ap_uint<IW> > in;
    hls::stream<ap_uint<OW> > out;
    for (unsigned i = 0; i < n * (BITS / IW); i++) in.write(get<IW>(fi));
    hwflow::dwc<IW, OW, BITS>(in, out, n);
    return finish(out, n * (BITS / OW), in.empty(), fo);
}

template <unsigned H, unsigned W, unsigned C, unsigned K, unsigned PE>
int run_pool(FILE* fi, FILE* fo, unsigned n) {
    hls::stream<ap_uint<PE> > in;
    hls::stream<ap_uint<PE> > out;
    for (unsigned i = 0; i < n * H * W * (C / PE); i++) in.write(get<PE>(fi));
    hwflow::maxpool_1bit<H, W, C, K, PE>(in, out, n);
    return finish(out, n * (H / K) * (W / K) * (C / PE), in.empty(), fo);
}

// N images of H x W pixels -> their windows (as hwflow/rtl/hwflow_swg.v).
template <unsigned H, unsigned W, unsigned CH, unsigned K, unsigned STRIDE, unsigned SIMD, unsigned EB>
int run_swg(FILE* fi, FILE* fo, unsigned n) {
    constexpr unsigned CF = CH / SIMD, OH = (H - K) / STRIDE + 1, OW = (W - K) / STRIDE + 1;
    hls::stream<ap_uint<SIMD * EB> > in;
    hls::stream<ap_uint<SIMD * EB> > out;
    for (unsigned i = 0; i < n * H * W * CF; i++) in.write(get<SIMD * EB>(fi));
    hwflow::swg<H, W, CH, K, STRIDE, SIMD, EB>(in, out, n);
    return finish(out, n * OH * OW * K * K * CF, in.empty(), fo);
}

// N images of H x W pixels -> padded (and converted) images.
template <unsigned H, unsigned W, unsigned CH, unsigned SIMD, unsigned PT, unsigned PL, unsigned PB, unsigned PR,
          unsigned IB, unsigned OB, unsigned BIP, unsigned long long PV>
int run_pad(FILE* fi, FILE* fo, unsigned n) {
    constexpr unsigned CF = CH / SIMD;
    hls::stream<ap_uint<SIMD * IB> > in;
    hls::stream<ap_uint<SIMD * OB> > out;
    for (unsigned i = 0; i < n * H * W * CF; i++) in.write(get<SIMD * IB>(fi));
    hwflow::pad<H, W, CH, SIMD, PT, PL, PB, PR, IB, OB, BIP, PV>(in, out, n);
    return finish(out, n * (PT + H + PB) * (PL + W + PR) * CF, in.empty(), fo);
}

// N windows of KK positions -> one reduced pixel each.
template <unsigned KK, unsigned CH, unsigned PE, unsigned IB, unsigned IS, unsigned BIP, unsigned MODE, unsigned OB>
int run_winpool(FILE* fi, FILE* fo, unsigned n) {
    constexpr unsigned CF = CH / PE;
    hls::stream<ap_uint<PE * IB> > in;
    hls::stream<ap_uint<PE * OB> > out;
    for (unsigned i = 0; i < n * KK * CF; i++) in.write(get<PE * IB>(fi));
    hwflow::window_pool<KK, CH, PE, IB, IS, BIP, MODE, OB>(in, out, n);
    return finish(out, n * CF, in.empty(), fo);
}

#ifndef MVAU_CASES
#define MVAU_CASES(X)
#endif
#ifndef MVAU_MB_CASES
#define MVAU_MB_CASES(X)
#endif
#ifndef THRESHOLD_CASES
#define THRESHOLD_CASES(X)
#endif
#ifndef LABELSELECT_CASES
#define LABELSELECT_CASES(X)
#endif
#ifndef DWC_CASES
#define DWC_CASES(X)
#endif
#ifndef POOL_CASES
#define POOL_CASES(X)
#endif
#ifndef SWG_CASES
#define SWG_CASES(X)
#endif
#ifndef PAD_CASES
#define PAD_CASES(X)
#endif
#ifndef WINPOOL_CASES
#define WINPOOL_CASES(X)
#endif

int main(int argc, char** argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s KIND CASE_INDEX IN_FILE OUT_FILE N_VECTORS\n", argv[0]);
        return 2;
    }
    const char* kind = argv[1];
    const int id = atoi(argv[2]);
    const unsigned n = (unsigned)atoi(argv[5]);
    FILE* fi = fopen(argv[3], "rb");
    FILE* fo = fopen(argv[4], "wb");
    if (!fi || !fo) {
        fprintf(stderr, "cannot open files\n");
        return 2;
    }
    int rc = 2, k = 0;
#define X_MVAU(...) if (k++ == id) rc = run_mvau<__VA_ARGS__>(fi, fo, n);
#define X_MB(...) if (k++ == id) rc = run_mvau_mb<__VA_ARGS__>(fi, fo, n);
#define X_THR(...) if (k++ == id) rc = run_threshold<__VA_ARGS__>(fi, fo, n);
#define X_LS(...) if (k++ == id) rc = run_labelselect<__VA_ARGS__>(fi, fo, n);
#define X_TOPK(...) if (k++ == id) rc = run_topk<__VA_ARGS__>(fi, fo, n);
#define X_DWC(...) if (k++ == id) rc = run_dwc<__VA_ARGS__>(fi, fo, n);
#define X_POOL(...) if (k++ == id) rc = run_pool<__VA_ARGS__>(fi, fo, n);
#define X_SWG(...) if (k++ == id) rc = run_swg<__VA_ARGS__>(fi, fo, n);
#define X_PAD(...) if (k++ == id) rc = run_pad<__VA_ARGS__>(fi, fo, n);
#define X_WPOOL(...) if (k++ == id) rc = run_winpool<__VA_ARGS__>(fi, fo, n);
    if (!strcmp(kind, "mvau")) { MVAU_CASES(X_MVAU) }
    else if (!strcmp(kind, "mvau_mb")) { MVAU_MB_CASES(X_MB) }
    else if (!strcmp(kind, "threshold")) { THRESHOLD_CASES(X_THR) }
    else if (!strcmp(kind, "labelselect")) { LABELSELECT_CASES(X_LS) }
    else if (!strcmp(kind, "topk")) { TOPK_CASES(X_TOPK) }
    else if (!strcmp(kind, "dwc")) { DWC_CASES(X_DWC) }
    else if (!strcmp(kind, "pool")) { POOL_CASES(X_POOL) }
    else if (!strcmp(kind, "swg")) { SWG_CASES(X_SWG) }
    else if (!strcmp(kind, "pad")) { PAD_CASES(X_PAD) }
    else if (!strcmp(kind, "winpool")) { WINPOOL_CASES(X_WPOOL) }
    fclose(fi);
    fclose(fo);
    if (rc == 2) fprintf(stderr, "unknown kernel %s or case %d\n", kind, id);
    return rc;
}
