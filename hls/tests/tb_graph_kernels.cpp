// C-simulation driver for the stream-graph kernels of the hwflow HLS library:
// hwflow::dup, dup2, add_streams, concat (hwflow/hls/hwflow_streams.h) and hwflow::threshold
// with OUT_BIAS (hwflow/hls/hwflow_threshold.h).
//
// The cases (template parameters) come from a header given with -include, which defines
// DUP_CASES(X), DUP2_CASES(X), ADD_CASES(X), CONCAT_CASES(X) and THRESH_CASES(X) as lists
// of X(params...); tests/test_hls_graph_kernels.py writes it, so one compile covers all
// cases.
//
// Usage: tb_graph_kernels KIND CASE_INDEX IN_FILE OUT_FILE N
// IN_FILE holds little-endian uint32 words (ceil(W/32) words per W-bit value, as the RTL
// harness beats): the kernel's constants (thresholds) then the input beats, stream 0's
// beats before stream 1's.  OUT_FILE receives the output beats, stream 0's before stream
// 1's.  Exit 3 if the kernel leaves input unread or writes a wrong number of beats.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "../../hwflow/hls/hwflow_streams.h"
#include "../../hwflow/hls/hwflow_tb.h"
#include "../../hwflow/hls/hwflow_threshold.h"

template <unsigned W>
ap_uint<W> get(FILE* f) { return hwflow::read_beat_or_die<W>(f); }

template <int W>
static bool check(hls::stream<ap_uint<W> >& s, unsigned expected) {
    if (s.size() != expected) {
        fprintf(stderr, "stream mismatch: %u output beats, expected %u\n", (unsigned)s.size(), expected);
        return false;
    }
    return true;
}

template <int W>
static void drain(hls::stream<ap_uint<W> >& s, FILE* fo) {
    while (!s.empty()) hwflow::write_beat<W>(fo, s.read());
}

static int input_left(bool empty) {
    if (!empty) fprintf(stderr, "the kernel left input beats unread\n");
    return empty ? 0 : 3;
}

// N beats -> N_OUT copies (out[0]'s beats first).
template <unsigned W, unsigned N_OUT>
int run_dup(FILE* fi, FILE* fo, unsigned n) {
    hls::stream<ap_uint<W> > in, out[N_OUT];
    for (unsigned i = 0; i < n; i++) in.write(get<W>(fi));
    hwflow::dup<W, N_OUT>(in, out, n);
    for (unsigned k = 0; k < N_OUT; k++)
        if (!check(out[k], n)) return 3;
    for (unsigned k = 0; k < N_OUT; k++) drain(out[k], fo);
    return input_left(in.empty());
}

template <unsigned W>
int run_dup2(FILE* fi, FILE* fo, unsigned n) {
    hls::stream<ap_uint<W> > in, out0, out1;
    for (unsigned i = 0; i < n; i++) in.write(get<W>(fi));
    hwflow::dup2<W>(in, out0, out1, n);
    if (!check(out0, n) || !check(out1, n)) return 3;
    drain(out0, fo);
    drain(out1, fo);
    return input_left(in.empty());
}

// N beat pairs -> N sums.
template <unsigned PE, unsigned IB, bool SIGNED, unsigned OB>
int run_add(FILE* fi, FILE* fo, unsigned n) {
    hls::stream<ap_uint<PE * IB> > in0, in1;
    hls::stream<ap_uint<PE * OB> > out;
    for (unsigned i = 0; i < n; i++) in0.write(get<PE * IB>(fi));
    for (unsigned i = 0; i < n; i++) in1.write(get<PE * IB>(fi));
    hwflow::add_streams<PE, IB, SIGNED, OB>(in0, in1, out, n);
    if (!check(out, n)) return 3;
    drain(out, fo);
    return input_left(in0.empty() && in1.empty());
}

// N images of PIXELS pixels.
template <unsigned PIXELS, unsigned CH0, unsigned CH1, unsigned SIMD, unsigned EB>
int run_concat(FILE* fi, FILE* fo, unsigned n) {
    hls::stream<ap_uint<SIMD * EB> > in0, in1, out;
    for (unsigned i = 0; i < n * PIXELS * (CH0 / SIMD); i++) in0.write(get<SIMD * EB>(fi));
    for (unsigned i = 0; i < n * PIXELS * (CH1 / SIMD); i++) in1.write(get<SIMD * EB>(fi));
    hwflow::concat<PIXELS, CH0, CH1, SIMD, EB>(in0, in1, out, n);
    if (!check(out, n * PIXELS * ((CH0 + CH1) / SIMD))) return 3;
    drain(out, fo);
    return input_left(in0.empty() && in1.empty());
}

// OUT_BIAS == 0 calls threshold without its last template argument (the default), so the
// callers written before OUT_BIAS existed are covered too.
template <unsigned NF, unsigned PE, unsigned IB, bool SIGNED, unsigned NT, unsigned OB, typename TT, int BIAS>
void call_threshold(hls::stream<ap_uint<PE * IB> >& in, hls::stream<ap_uint<PE * OB> >& out,
                    const TT t[PE][NF][NT], unsigned n, std::true_type) {
    hwflow::threshold<NF, PE, IB, SIGNED, NT, OB, TT>(in, out, t, n);
}
template <unsigned NF, unsigned PE, unsigned IB, bool SIGNED, unsigned NT, unsigned OB, typename TT, int BIAS>
void call_threshold(hls::stream<ap_uint<PE * IB> >& in, hls::stream<ap_uint<PE * OB> >& out,
                    const TT t[PE][NF][NT], unsigned n, std::false_type) {
    hwflow::threshold<NF, PE, IB, SIGNED, NT, OB, TT, BIAS>(in, out, t, n);
}

// N pixels of CH = NF*PE channels; thresholds t[p][nf][k] as TW-bit two's complement words.
template <unsigned CH, unsigned PE, unsigned IB, bool SIGNED, unsigned NT, unsigned TW, unsigned OB, int BIAS>
int run_threshold(FILE* fi, FILE* fo, unsigned n) {
    constexpr unsigned NF = CH / PE;
    typedef ap_int<TW> TT;
    static TT t[PE][NF][NT];
    for (unsigned p = 0; p < PE; p++)
        for (unsigned j = 0; j < NF; j++)
            for (unsigned k = 0; k < NT; k++) t[p][j][k] = TT(get<TW>(fi));
    hls::stream<ap_uint<PE * IB> > in;
    hls::stream<ap_uint<PE * OB> > out;
    for (unsigned i = 0; i < n * NF; i++) in.write(get<PE * IB>(fi));
    call_threshold<NF, PE, IB, SIGNED, NT, OB, TT, BIAS>(in, out, t, n, std::integral_constant<bool, BIAS == 0>());
    if (!check(out, n * NF)) return 3;
    drain(out, fo);
    return input_left(in.empty());
}

#ifndef DUP_CASES
#define DUP_CASES(X)
#endif
#ifndef DUP2_CASES
#define DUP2_CASES(X)
#endif
#ifndef ADD_CASES
#define ADD_CASES(X)
#endif
#ifndef CONCAT_CASES
#define CONCAT_CASES(X)
#endif
#ifndef THRESH_CASES
#define THRESH_CASES(X)
#endif

int main(int argc, char** argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s KIND CASE_INDEX IN_FILE OUT_FILE N\n", argv[0]);
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
#define X_DUP(...) if (k++ == id) rc = run_dup<__VA_ARGS__>(fi, fo, n);
#define X_DUP2(...) if (k++ == id) rc = run_dup2<__VA_ARGS__>(fi, fo, n);
#define X_ADD(...) if (k++ == id) rc = run_add<__VA_ARGS__>(fi, fo, n);
#define X_CONCAT(...) if (k++ == id) rc = run_concat<__VA_ARGS__>(fi, fo, n);
#define X_THR(...) if (k++ == id) rc = run_threshold<__VA_ARGS__>(fi, fo, n);
    if (!strcmp(kind, "dup")) { DUP_CASES(X_DUP) }
    else if (!strcmp(kind, "dup2")) { DUP2_CASES(X_DUP2) }
    else if (!strcmp(kind, "add")) { ADD_CASES(X_ADD) }
    else if (!strcmp(kind, "concat")) { CONCAT_CASES(X_CONCAT) }
    else if (!strcmp(kind, "threshold")) { THRESH_CASES(X_THR) }
    if (rc == 0 && fgetc(fi) != EOF) {
        fprintf(stderr, "input file longer than the kernel's input\n");
        rc = 2;
    }
    fclose(fi);
    fclose(fo);
    if (rc == 2 && k <= id) fprintf(stderr, "unknown kernel %s or case %d\n", kind, id);
    return rc;
}
