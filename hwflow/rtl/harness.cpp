// hwflow generic Verilator harness: streams a whole batch through one AXI-Stream top.
//
// Build by hand:
//   verilator --cc --exe --build --x-initial unique --top-module <top>
//       -CFLAGS -DVTOP=V<top> <sources> harness.cpp
// (hwflow.rtlsim.build_sim instead compiles a two-line wrapper,
//  `#define VTOP V<top>` + `#include ".../harness.cpp"`, so no -CFLAGS differ
//  between tops and the Verilator runtime objects can be cached.)
// Macros:
//   VTOP         the Verilated model class (default Vtop, i.e. --prefix Vtop).
//   VTOP_HEADER  optional, a quoted header name; default is VTOP with ".h" appended
//                (e.g. -CFLAGS '-DVTOP_HEADER=\"Vtop.h\"' -- rarely needed).
// The top must have the ports ap_clk, ap_rst_n (active-low, synchronous),
// s_axis_{tdata,tvalid,tready} and m_axis_{tdata,tvalid,tready}; tdata may be any
// width (CData/SData/IData/QData/VlWide are all handled).
//
// Usage:
//   harness IN_FILE OUT_FILE STATS_FILE N_IMAGES IN_BEATS_PER_IMAGE
//           OUT_BEATS_PER_IMAGE SEED P_IN_VALID P_OUT_READY MAX_IDLE_CYCLES
//           [IMAGES_PER_TRANSFER]
// IN_FILE / OUT_FILE: raw little-endian uint32 words, ceil(W/32) words per beat
//   (bit j of a beat is bit j%32 of word j/32), images back to back.
// Each cycle the harness offers the next input beat with probability P_IN_VALID
// (then holds tvalid/tdata until it is accepted) and drives m_axis_tready with
// probability P_OUT_READY (std::mt19937 seeded with SEED; 1.0 means never stall).
// The run ends when every input beat has been accepted and every expected output
// beat received; then 64 drain cycles count unexpected extra output beats.
// STATS_FILE (JSON): cycles (after reset, up to the end of the run), in_beats and
// out_beats moved, extra_out_beats, deadlock, and per image first_in, last_in (cycles
// where its first/last input beat was accepted) and first_out, last_out (same for
// output beats; -1 if never); cycle 0 is the first after reset.
// Initial state is random (seeded from SEED; build with --x-initial unique).
// A top with s_axis_tlast (the DMA-facing wrapper) gets TLAST on the last beat of every
// transfer of IMAGES_PER_TRANSFER images (the last transfer may be shorter; 0 or absent:
// one transfer of all images).  A top with m_axis_tlast has it recorded: STATS_FILE's
// out_tlast lists the output beats (0-based) that carried it.  A top with m_axis_tkeep
// has the fewest and most ones it showed on an output beat in tkeep_ones_min/max.
// Exit codes: 0 done; 2 bad arguments or files; 3 no beat moved on either port for
// MAX_IDLE_CYCLES cycles (outputs received so far and stats are still written).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "verilated.h"

#ifndef VTOP
#define VTOP Vtop
#endif
#define HW_STR2(x) #x
#define HW_STR(x) HW_STR2(x)
#ifdef VTOP_HEADER
#include VTOP_HEADER
#else
#include HW_STR(VTOP.h)
#endif

// ---- generic access to tdata ports of any Verilator storage type
template <typename T> struct PortWords { static constexpr size_t n = sizeof(T) <= 4 ? 1 : 2; };
template <size_t N> struct PortWords<VlWide<N>> { static constexpr size_t n = N; };

static inline void set_port(CData& p, const uint32_t* w) { p = static_cast<CData>(w[0]); }
static inline void set_port(SData& p, const uint32_t* w) { p = static_cast<SData>(w[0]); }
static inline void set_port(IData& p, const uint32_t* w) { p = w[0]; }
static inline void set_port(QData& p, const uint32_t* w) {
    p = static_cast<QData>(w[0]) | (static_cast<QData>(w[1]) << 32);
}
template <size_t N> static inline void set_port(VlWide<N>& p, const uint32_t* w) {
    for (size_t i = 0; i < N; ++i) p[i] = w[i];
}
static inline void get_port(CData p, uint32_t* w) { w[0] = p; }
static inline void get_port(SData p, uint32_t* w) { w[0] = p; }
static inline void get_port(IData p, uint32_t* w) { w[0] = p; }
static inline void get_port(QData p, uint32_t* w) {
    w[0] = static_cast<uint32_t>(p);
    w[1] = static_cast<uint32_t>(p >> 32);
}
template <size_t N> static inline void get_port(const VlWide<N>& p, uint32_t* w) {
    for (size_t i = 0; i < N; ++i) w[i] = p[i];
}

using InT = std::remove_cv_t<std::remove_reference_t<decltype(std::declval<VTOP&>().s_axis_tdata)>>;
using OutT = std::remove_cv_t<std::remove_reference_t<decltype(std::declval<VTOP&>().m_axis_tdata)>>;
static constexpr size_t IN_WORDS = PortWords<InT>::n;
static constexpr size_t OUT_WORDS = PortWords<OutT>::n;

static constexpr int DRAIN_CYCLES = 64;

// A generated network top has, in simulation, dbg_fifo_full: bit k set while FIFO k+1
// refuses a beat its producer offers.  At a deadlock those FIFOs are reported.
template <typename T, typename = void> struct HasFifoFlags : std::false_type {};
template <typename T>
struct HasFifoFlags<T, std::void_t<decltype(std::declval<T&>().dbg_fifo_full)>> : std::true_type {};

template <typename T> static std::vector<int64_t> full_fifos(T& top) {
    std::vector<int64_t> full;
    if constexpr (HasFifoFlags<T>::value) {
        using FlagT = std::remove_cv_t<std::remove_reference_t<decltype(top.dbg_fifo_full)>>;
        uint32_t w[PortWords<FlagT>::n] = {0};
        get_port(top.dbg_fifo_full, w);
        for (size_t i = 0; i < PortWords<FlagT>::n * 32; ++i)
            if ((w[i / 32] >> (i % 32)) & 1u) full.push_back(static_cast<int64_t>(i));
    }
    return full;
}

// The DMA-facing wrapper has TLAST on both streams and TKEEP on its output; network tops do not.
template <typename T, typename = void> struct HasInLast : std::false_type {};
template <typename T>
struct HasInLast<T, std::void_t<decltype(std::declval<T&>().s_axis_tlast)>> : std::true_type {};
template <typename T, typename = void> struct HasOutLast : std::false_type {};
template <typename T>
struct HasOutLast<T, std::void_t<decltype(std::declval<T&>().m_axis_tlast)>> : std::true_type {};
template <typename T, typename = void> struct HasOutKeep : std::false_type {};
template <typename T>
struct HasOutKeep<T, std::void_t<decltype(std::declval<T&>().m_axis_tkeep)>> : std::true_type {};

// (templates: a discarded `if constexpr` branch is only left unchecked inside one)
template <typename T> static void set_in_last(T& top, bool last) {
    if constexpr (HasInLast<T>::value) top.s_axis_tlast = last;
}
template <typename T> static bool out_last(T& top) {
    if constexpr (HasOutLast<T>::value) return top.m_axis_tlast;
    return false;
}

template <typename T> static int keep_ones(T& top) {
    int ones = 0;
    if constexpr (HasOutKeep<T>::value) {
        using KeepT = std::remove_cv_t<std::remove_reference_t<decltype(top.m_axis_tkeep)>>;
        uint32_t w[PortWords<KeepT>::n] = {0};
        get_port(top.m_axis_tkeep, w);
        for (size_t i = 0; i < PortWords<KeepT>::n; ++i) ones += __builtin_popcount(w[i]);
    }
    return ones;
}

static int usage() {
    std::fprintf(stderr,
                 "usage: harness IN_FILE OUT_FILE STATS_FILE N_IMAGES IN_BEATS_PER_IMAGE "
                 "OUT_BEATS_PER_IMAGE SEED P_IN_VALID P_OUT_READY MAX_IDLE_CYCLES [IMAGES_PER_TRANSFER]\n");
    return 2;
}

static void write_array(FILE* f, const char* name, const std::vector<int64_t>& v, bool last) {
    std::fprintf(f, "\"%s\": [", name);
    for (size_t i = 0; i < v.size(); ++i) std::fprintf(f, i ? ",%lld" : "%lld", (long long)v[i]);
    std::fprintf(f, last ? "]\n" : "],\n");
}

int main(int argc, char** argv) {
    if (argc != 11 && argc != 12) return usage();
    const char* in_path = argv[1];
    const char* out_path = argv[2];
    const char* stats_path = argv[3];
    const uint64_t n_images = std::strtoull(argv[4], nullptr, 10);
    const uint64_t ibpi = std::strtoull(argv[5], nullptr, 10);
    const uint64_t obpi = std::strtoull(argv[6], nullptr, 10);
    const uint32_t seed = static_cast<uint32_t>(std::strtoul(argv[7], nullptr, 10));
    const double p_in = std::strtod(argv[8], nullptr);
    const double p_out = std::strtod(argv[9], nullptr);
    const uint64_t max_idle = std::strtoull(argv[10], nullptr, 10);
    const uint64_t ipt = argc == 12 ? std::strtoull(argv[11], nullptr, 10) : 0;
    if (ibpi == 0 || obpi == 0 || max_idle == 0) return usage();

    const uint64_t n_in = n_images * ibpi;
    const uint64_t n_out = n_images * obpi;
    std::vector<uint32_t> in(n_in * IN_WORDS);
    {
        FILE* f = std::fopen(in_path, "rb");
        if (!f) { std::fprintf(stderr, "harness: cannot open %s\n", in_path); return 2; }
        size_t got = std::fread(in.data(), sizeof(uint32_t), in.size(), f);
        bool extra = std::fgetc(f) != EOF;
        std::fclose(f);
        if (got != in.size() || extra) {
            std::fprintf(stderr, "harness: %s holds %zu words%s, expected %zu (%llu beats x %zu words)\n",
                         in_path, got, extra ? " or more" : "", in.size(), (unsigned long long)n_in,
                         IN_WORDS);
            return 2;
        }
    }
    std::vector<uint32_t> out(n_out * OUT_WORDS);
    std::vector<int64_t> first_in(n_images, -1), last_in(n_images, -1);
    std::vector<int64_t> first_out(n_images, -1), last_out(n_images, -1);

    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(1, argv);  // no plusargs for the model
    // Random (seeded) initial state: with --x-initial unique this shows that the
    // design's reset, not the simulator's zero-initialisation, makes it work.
    ctx->randReset(2);
    ctx->randSeed(static_cast<int>(seed & 0x7fffffff) + 1);
    auto top = std::make_unique<VTOP>(ctx.get());

    // Thresholds for 32-bit random draws; p >= 1 means "always" without drawing.
    std::mt19937 rng(seed);
    const bool in_always = p_in >= 1.0, out_always = p_out >= 1.0;
    const uint64_t thr_in = static_cast<uint64_t>((p_in < 0 ? 0 : p_in) * 4294967296.0);
    const uint64_t thr_out = static_cast<uint64_t>((p_out < 0 ? 0 : p_out) * 4294967296.0);

    // Reset: a few cycles with ap_rst_n low and no handshakes.
    top->ap_rst_n = 0;
    top->s_axis_tvalid = 0;
    top->m_axis_tready = 0;
    for (int i = 0; i < 8; ++i) {
        top->ap_clk = 0; top->eval();
        top->ap_clk = 1; top->eval();
    }
    top->ap_rst_n = 1;

    uint64_t cycle = 0, in_idx = 0, out_idx = 0, idle = 0, extra = 0;
    std::vector<int64_t> stalled, out_tlast;
    int keep_min = -1, keep_max = -1;
    bool offering = false;
    int rc = 0;
    while (out_idx < n_out || in_idx < n_in) {
        // Drive this cycle's inputs (clock low), settle, sample handshakes, then clock.
        top->ap_clk = 0;
        if (!offering && in_idx < n_in && (in_always || rng() < thr_in)) {
            set_port(top->s_axis_tdata, &in[in_idx * IN_WORDS]);
            set_in_last(*top, in_idx + 1 == n_in || (ipt && (in_idx + 1) % (ipt * ibpi) == 0));
            offering = true;
        }
        top->s_axis_tvalid = offering;
        const bool ready = out_always || rng() < thr_out;
        top->m_axis_tready = ready;
        top->eval();

        bool moved = false;
        if (offering && top->s_axis_tready) {
            const uint64_t img = in_idx / ibpi, k = in_idx % ibpi;
            if (k == 0) first_in[img] = (int64_t)cycle;
            if (k == ibpi - 1) last_in[img] = (int64_t)cycle;
            ++in_idx;
            offering = false;
            moved = true;
        }
        if (ready && top->m_axis_tvalid) {
            if (out_idx < n_out) {
                get_port(top->m_axis_tdata, &out[out_idx * OUT_WORDS]);
                if (out_last(*top)) out_tlast.push_back((int64_t)out_idx);
                if (HasOutKeep<VTOP>::value) {
                    const int ones = keep_ones(*top);
                    keep_min = keep_min < 0 || ones < keep_min ? ones : keep_min;
                    keep_max = ones > keep_max ? ones : keep_max;
                }
                const uint64_t img = out_idx / obpi, k = out_idx % obpi;
                if (k == 0) first_out[img] = (int64_t)cycle;
                if (k == obpi - 1) last_out[img] = (int64_t)cycle;
                ++out_idx;
            } else {
                ++extra;  // more output than expected while input is still going in
            }
            moved = true;
        }
        top->ap_clk = 1;
        top->eval();
        ++cycle;
        if (moved) {
            idle = 0;
        } else if (++idle >= max_idle) {
            std::fprintf(stderr,
                         "harness: no beat moved for %llu cycles at cycle %llu: %llu/%llu input beats "
                         "sent, %llu/%llu output beats (%llu/%llu images) received\n",
                         (unsigned long long)max_idle, (unsigned long long)cycle,
                         (unsigned long long)in_idx, (unsigned long long)n_in,
                         (unsigned long long)out_idx, (unsigned long long)n_out,
                         (unsigned long long)(out_idx / obpi), (unsigned long long)n_images);
            rc = 3;
            stalled = full_fifos(*top);
            break;
        }
    }
    // Drain: a few more cycles with m_axis_tready high; any beat here is one more than
    // the caller expects (reported, not stored; not counted in "cycles").
    if (rc == 0) {
        top->s_axis_tvalid = 0;
        top->m_axis_tready = 1;
        for (int i = 0; i < DRAIN_CYCLES; ++i) {
            top->ap_clk = 0; top->eval();
            if (top->m_axis_tvalid) ++extra;
            top->ap_clk = 1; top->eval();
        }
    }
    top->final();

    FILE* f = std::fopen(out_path, "wb");
    if (!f) { std::fprintf(stderr, "harness: cannot write %s\n", out_path); return 2; }
    std::fwrite(out.data(), sizeof(uint32_t), out_idx * OUT_WORDS, f);
    std::fclose(f);

    f = std::fopen(stats_path, "w");
    if (!f) { std::fprintf(stderr, "harness: cannot write %s\n", stats_path); return 2; }
    std::fprintf(f,
                 "{\n\"cycles\": %llu,\n\"in_beats\": %llu,\n\"out_beats\": %llu,\n"
                 "\"extra_out_beats\": %llu,\n\"deadlock\": %s,\n",
                 (unsigned long long)cycle, (unsigned long long)in_idx, (unsigned long long)out_idx,
                 (unsigned long long)extra, rc == 3 ? "true" : "false");
    std::fprintf(f, "\"tkeep_ones_min\": %d,\n\"tkeep_ones_max\": %d,\n", keep_min, keep_max);
    write_array(f, "out_tlast", out_tlast, false);
    write_array(f, "full_fifos", stalled, false);
    write_array(f, "first_in", first_in, false);
    write_array(f, "last_in", last_in, false);
    write_array(f, "first_out", first_out, false);
    write_array(f, "last_out", last_out, true);
    std::fprintf(f, "}\n");
    std::fclose(f);
    return rc;
}
