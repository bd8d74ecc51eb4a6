"""RTL cores for stream graphs (fan-out, add, concat, standalone threshold) against numpy.

hwflow_thresh has one input and one output stream and is simulated directly as the top
(the harness stalls both).  The other three have several streams on one side (the
multi-stream convention: lane i at tdata[i*W +: W], tvalid[i], tready[i]), while the
harness drives one input and one output stream, so each is simulated inside a small test
wrapper, generated below as Verilog text:

* dup:        the core's N_OUT lanes -> per-lane gate -> per-lane hwflow_fifo -> joined
              into one output beat {lane N-1, ..., lane 0} (when every FIFO has a beat);
* addstreams: the input beat {in1, in0} is split into two hwflow_fifo (a beat enters
              when both can take it) -> per-lane gate -> the core's lanes;
* concat:     each input beat {lane id, data} is routed to that lane's hwflow_fifo ->
              per-lane gate -> the core's lanes.  The test interleaves the two lanes'
              beats in a random order (each beat at most JITTER < FIFO depth positions
              away from where the core consumes it, so the demux cannot deadlock).

A gate is an LFSR (its own seed and open probability 3/4, 1/2 or 1/4 per lane) that
blocks the valid/ready pair between a FIFO and the core, so every lane stalls on its own.
The wrapper input beat's top bit switches the gates on (latched from each accepted beat):
the same build runs with and without stalls.  Cycles per beat are measured without any
stall (harness and gates), and must be 1.

Golden values come from numpy on the same random integers that are packed into beats.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hwflow import rtlsim

from rtl_fixtures import RTL, STALLS, assert_lint_clean, assert_lint_rejects, build, verilator  # noqa: F401

MODES = (("free", 1.0, 1.0, 0), ("stall", *STALLS, 1), ("slow-out", 1.0, 0.3, 1))


# --------------------------------------------------------------------------- numpy references

def dup_ref(x: np.ndarray, n_out: int) -> np.ndarray:
    """x[beats] -> [beats, n_out]: every beat on every lane."""
    return np.repeat(np.asarray(x)[:, None], n_out, axis=1)


def add_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(a, np.int64) + np.asarray(b, np.int64)


def concat_ref(x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
    """x0[n, PIXELS, CH0], x1[n, PIXELS, CH1] -> [n, PIXELS, CH0+CH1]."""
    return np.concatenate([x0, x1], axis=2)


def thresh_ref(x: np.ndarray, t: np.ndarray, bias: int) -> np.ndarray:
    """x[..., CH], t[CH, NT] -> bias + #{j : x >= t[c, j]}."""
    return bias + (np.asarray(x)[..., None] >= t).sum(axis=-1, dtype=np.int64)


def int_range(bits: int, signed) -> tuple[int, int]:
    """Inclusive value range of a bits-wide integer."""
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


# --------------------------------------------------------------------------- beats as integers

def beat_ints(words: np.ndarray) -> list[int]:
    """uint32 beats (n, words) -> Python ints."""
    w = np.asarray(words)
    return [sum(int(v) << (32 * k) for k, v in enumerate(row)) for row in w]


def int_words(vals, width: int) -> np.ndarray:
    nw = -(-width // 32)
    out = np.zeros((len(vals), nw), np.uint32)
    for i, v in enumerate(vals):
        for k in range(nw):
            out[i, k] = (v >> (32 * k)) & 0xFFFFFFFF
    return out


def with_flag(words: np.ndarray, width: int, flag: int) -> np.ndarray:
    """Set bit `width` (the wrapper's stall switch) of every beat to flag."""
    return int_words([v | (flag << width) for v in beat_ints(words)], width + 1)


def cycles_per_beat(st, beats_per_image: int) -> float:
    lo = np.asarray(st["last_out"])
    return float(lo[-1] - lo[0]) / ((len(lo) - 1) * beats_per_image)


# --------------------------------------------------------------------------- wrappers

GATE_V = """
module tb_gate #(parameter [15:0] SEED = 16'h1, parameter integer MODE = 0) (
  input wire clk, input wire rst_n, input wire en, output wire go
);
  reg [15:0] r;   // Galois LFSR x^16 + x^14 + x^13 + x^11 + 1
  always @(posedge clk) begin
    if (!rst_n) r <= SEED;
    else r <= {1'b0, r[15:1]} ^ (r[0] ? 16'hB400 : 16'h0000);
  end
  wire open_ = (MODE == 0) ? (r[0] | r[1]) : (MODE == 1) ? r[0] : (r[0] & r[1]);
  assign go = !en || open_;
endmodule
"""

SEEDS = (0xACE1, 0x1D2B, 0x7F31, 0x4C95)


def _head(top: str, in_w: int, out_w: int) -> str:
    return f"""`default_nettype none
{GATE_V}
module {top} (
  input  wire ap_clk,
  input  wire ap_rst_n,
  input  wire [{in_w - 1}:0] s_axis_tdata,
  input  wire s_axis_tvalid,
  output wire s_axis_tready,
  output wire [{out_w - 1}:0] m_axis_tdata,
  output wire m_axis_tvalid,
  input  wire m_axis_tready
);
  reg stall_en;
  always @(posedge ap_clk) begin
    if (!ap_rst_n) stall_en <= 1'b0;
    else if (s_axis_tvalid && s_axis_tready) stall_en <= s_axis_tdata[{in_w - 1}];
  end
"""


def _gate(i: int) -> str:
    return (f"  tb_gate #(.SEED(16'h{SEEDS[i % len(SEEDS)]:04X}), .MODE({i % 3})) u_g{i} "
            f"(.clk(ap_clk), .rst_n(ap_rst_n), .en(stall_en), .go(g[{i}]));\n")


def _fifo(i: int, w: int, depth: int, sd: str, sv: str, sr: str, md: str, mv: str, mr: str) -> str:
    return (f"  hwflow_fifo #(.WIDTH({w}), .DEPTH({depth})) u_f{i} (.ap_clk(ap_clk), .ap_rst_n(ap_rst_n),\n"
            f"    .s_axis_tdata({sd}), .s_axis_tvalid({sv}), .s_axis_tready({sr}),\n"
            f"    .m_axis_tdata({md}), .m_axis_tvalid({mv}), .m_axis_tready({mr}));\n")


def dup_wrapper(width: int, n_out: int, depth: int = 4) -> tuple[str, str]:
    """Input {stall, data}; output {lane N-1, ..., lane 0}."""
    top = f"tb_dup_w{width}_n{n_out}"
    w = width
    v = _head(top, w + 1, n_out * w)
    v += f"""  wire [{n_out * w - 1}:0] cd, fd;
  wire [{n_out - 1}:0] cv, cr, g, fr, fv;
  wire all_v = &fv;
  hwflow_dup #(.WIDTH({w}), .N_OUT({n_out})) dut (.ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
    .s_axis_tdata(s_axis_tdata[{w - 1}:0]), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
    .m_axis_tdata(cd), .m_axis_tvalid(cv), .m_axis_tready(cr));
"""
    for i in range(n_out):
        v += _gate(i)
        v += f"  assign cr[{i}] = fr[{i}] & g[{i}];\n"
        v += _fifo(i, w, depth, f"cd[{i * w} +: {w}]", f"cv[{i}] & g[{i}]", f"fr[{i}]",
                   f"fd[{i * w} +: {w}]", f"fv[{i}]", "m_axis_tready & all_v")
    v += "  assign m_axis_tdata = fd;\n  assign m_axis_tvalid = all_v;\nendmodule\n`default_nettype wire\n"
    return top, v


def add_wrapper(pe: int, ib: int, signed: int, ob: int, depth: int = 4) -> tuple[str, str]:
    """Input {stall, in1, in0}; output the core's."""
    top = f"tb_add_pe{pe}_i{ib}_s{signed}_o{ob}"
    lw = pe * ib
    v = _head(top, 2 * lw + 1, pe * ob)
    v += f"""  wire [1:0] g, fr, fv, cr;
  wire [{2 * lw - 1}:0] fd;
  assign s_axis_tready = &fr;
  hwflow_addstreams #(.PE({pe}), .IN_BITS({ib}), .IN_SIGNED({signed}), .OUT_BITS({ob})) dut (
    .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
    .s_axis_tdata(fd), .s_axis_tvalid(fv & g), .s_axis_tready(cr),
    .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready));
"""
    for i in range(2):
        v += _gate(i)
        v += _fifo(i, lw, depth, f"s_axis_tdata[{i * lw} +: {lw}]", f"s_axis_tvalid & fr[{1 - i}]", f"fr[{i}]",
                   f"fd[{i * lw} +: {lw}]", f"fv[{i}]", f"cr[{i}] & g[{i}]")
    v += "endmodule\n`default_nettype wire\n"
    return top, v


def concat_wrapper(pixels: int, ch0: int, ch1: int, simd: int, eb: int, depth: int) -> tuple[str, str]:
    """Input {stall, lane, data}; output the core's."""
    top = f"tb_concat_p{pixels}_{ch0}_{ch1}_s{simd}_e{eb}"
    w = simd * eb
    v = _head(top, w + 2, w)
    v += f"""  wire [1:0] g, fr, fv, cr;
  wire [{2 * w - 1}:0] fd;
  wire lane = s_axis_tdata[{w}];
  assign s_axis_tready = lane ? fr[1] : fr[0];
  hwflow_concat #(.PIXELS({pixels}), .CH0({ch0}), .CH1({ch1}), .SIMD({simd}), .ELEM_BITS({eb})) dut (
    .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
    .s_axis_tdata(fd), .s_axis_tvalid(fv & g), .s_axis_tready(cr),
    .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready));
"""
    for i in range(2):
        v += _gate(i)
        v += _fifo(i, w, depth, f"s_axis_tdata[{w - 1}:0]", f"s_axis_tvalid & ({'' if i else '!'}lane)", f"fr[{i}]",
                   f"fd[{i * w} +: {w}]", f"fv[{i}]", f"cr[{i}] & g[{i}]")
    v += "endmodule\n`default_nettype wire\n"
    return top, v


@pytest.fixture(scope="module")
def wrapped(verilator, tmp_path_factory):
    """wrapped(top, text, core) -> simulator of the wrapper `top` around RTL core `core`."""
    root = tmp_path_factory.mktemp("rtl_wrapped")
    cache: dict = {}

    def get(top: str, text: str, core: str) -> Path:
        if top not in cache:
            d = root / top
            d.mkdir()
            (d / f"{top}.v").write_text(text)
            cache[top] = rtlsim.build_sim(RTL, top, [d / f"{top}.v", f"{core}.v", "hwflow_fifo.v"], d)
        return cache[top]

    return get


# --------------------------------------------------------------------------- dup

DUP_CASES = [pytest.param(13, 2, id="w13-n2"), pytest.param(40, 3, id="w40-n3")]


@pytest.mark.rtlsim
@pytest.mark.parametrize("width,n_out", DUP_CASES)
def test_dup(wrapped, tmp_path, width, n_out):
    exe = wrapped(*dup_wrapper(width, n_out), "hwflow_dup")
    n = 3000
    rng = np.random.default_rng(width * 10 + n_out)
    x = rng.integers(0, 1 << width, n, dtype=np.int64)
    ref = dup_ref(x, n_out)
    data = rtlsim.pack_beats(x[:, None], width, 1)
    for name, p_in, p_out, stall in MODES:
        out, st = rtlsim.run_sim(exe, with_flag(data, width, stall), n, 1, 1, out_width=n_out * width, cwd=tmp_path,
                                 seed=11, p_in=p_in, p_out=p_out)
        got = rtlsim.unpack_beats(out, width, n_out, n_out, signed=False)
        bad = np.argwhere(got != ref)
        assert bad.size == 0, f"{name}: first mismatch (beat, lane) {bad[0]}: got {got[bad[0][0]]}, x={x[bad[0][0]]}"
        if name == "free":
            cpb = cycles_per_beat(st, 1)
            print(f"dup WIDTH={width} N_OUT={n_out}: {cpb:.3f} cycles/beat, {st['cycles']} cycles for {n} beats")
            assert cpb <= 1.001, cpb
        else:
            assert st["cycles"] > 1.3 * n      # the stalls really happened


# --------------------------------------------------------------------------- addstreams

ADD_CASES = [
    # (PE, IN_BITS, IN_SIGNED, OUT_BITS)
    pytest.param(1, 4, 1, 4, id="pe1-s4-o4-no-carry-bit"),
    pytest.param(4, 3, 0, 4, id="pe4-u3-o4"),
    pytest.param(4, 4, 1, 7, id="pe4-s4-o7-sign-extend"),
]


@pytest.mark.rtlsim
@pytest.mark.parametrize("pe,ib,signed,ob", ADD_CASES)
def test_addstreams(wrapped, tmp_path, pe, ib, signed, ob):
    exe = wrapped(*add_wrapper(pe, ib, signed, ob), "hwflow_addstreams")
    n = 3000
    rng = np.random.default_rng(pe * 100 + ib * 10 + signed)
    lo, hi = int_range(ib, signed)
    olo, ohi = int_range(ob, signed)
    lo, hi = max(lo, -((-olo) // 2)), min(hi, ohi // 2)     # every sum representable in OUT_BITS
    a = rng.integers(lo, hi + 1, (n, pe))
    b = rng.integers(lo, hi + 1, (n, pe))
    a[0], b[0], a[1], b[1] = lo, lo, hi, hi     # the extreme sums
    ref = add_ref(a, b)
    assert olo <= ref.min() and ref.max() <= ohi
    assert not signed or ref.min() < 0       # negative sums: the sign extension matters
    data = rtlsim.pack_beats(np.concatenate([a, b], axis=1), ib, 2 * pe)
    for name, p_in, p_out, stall in MODES:
        out, st = rtlsim.run_sim(exe, with_flag(data, 2 * pe * ib, stall), n, 1, 1, out_width=pe * ob,
                                 cwd=tmp_path, seed=13, p_in=p_in, p_out=p_out)
        got = rtlsim.unpack_beats(out, ob, pe, pe, signed=bool(signed))
        bad = np.argwhere(got != ref)
        assert bad.size == 0, (f"{name}: first mismatch (beat, element) {bad[0]}: got {got[bad[0][0]]}, "
                               f"expected {ref[bad[0][0]]}")
        if name == "free":
            cpb = cycles_per_beat(st, 1)
            print(f"addstreams PE={pe} IN_BITS={ib} SIGNED={signed} OUT_BITS={ob}: {cpb:.3f} cycles/beat")
            assert cpb <= 1.001, cpb
        else:
            assert st["cycles"] > 1.3 * n


# --------------------------------------------------------------------------- concat

CONCAT_CASES = [
    # (PIXELS, CH0, CH1, SIMD, ELEM_BITS)
    pytest.param(6, 4, 2, 2, 3, id="ch4-ch2-simd2"),
    pytest.param(5, 3, 5, 1, 4, id="ch3-ch5-simd1"),
]
CONCAT_FIFO = 8
JITTER = 7        # < CONCAT_FIFO + 1: see the module docstring


def concat_stream(x0, x1, simd: int, eb: int, rng, jitter: float) -> np.ndarray:
    """The harness input for the concat wrapper: every beat of both lanes as {lane, data},
    in the order the core consumes them, each moved by up to `jitter` positions (order
    within a lane kept)."""
    n, pixels, ch0 = x0.shape
    ch1 = x1.shape[2]
    cf0, cf1 = ch0 // simd, ch1 // simd
    cft = cf0 + cf1
    beats = [beat_ints(rtlsim.pack_beats(x.reshape(n, -1), eb, simd)) for x in (x0, x1)]
    # position of each lane's beats in the output
    pix = np.arange(n * pixels)[:, None] * cft
    pos = [(pix + np.arange(cf0)[None]).ravel(), (pix + cf0 + np.arange(cf1)[None]).ravel()]
    keys, lanes = [], []
    for lane in (0, 1):
        k = np.maximum.accumulate(pos[lane] + rng.random(pos[lane].size) * jitter)   # keeps lane order
        keys.append(k)
        lanes.append(np.full(k.size, lane))
    order = np.argsort(np.concatenate(keys), kind="stable")
    lane_seq = np.concatenate(lanes)[order]
    nxt = [0, 0]
    w = simd * eb
    vals = []
    for lane in lane_seq:
        vals.append(beats[lane][nxt[lane]] | (int(lane) << w))
        nxt[lane] += 1
    return int_words(vals, w + 1), lane_seq


@pytest.mark.rtlsim
@pytest.mark.parametrize("pixels,ch0,ch1,simd,eb", CONCAT_CASES)
def test_concat(wrapped, tmp_path, pixels, ch0, ch1, simd, eb):
    exe = wrapped(*concat_wrapper(pixels, ch0, ch1, simd, eb, CONCAT_FIFO), "hwflow_concat")
    n_img = 120
    rng = np.random.default_rng(ch0 * 10 + ch1)
    x0 = rng.integers(0, 1 << eb, (n_img, pixels, ch0))
    x1 = rng.integers(0, 1 << eb, (n_img, pixels, ch1))
    ref = concat_ref(x0, x1).reshape(n_img, -1)
    bpi = pixels * (ch0 + ch1) // simd
    w = simd * eb
    for name, p_in, p_out, stall in MODES:
        # without stalls: exactly the consumption order, so one beat per cycle is possible
        data, lane_seq = concat_stream(x0, x1, simd, eb, rng, 0.0 if name == "free" else JITTER)
        if name != "free":    # the interleaving really differs from the output order
            plain = concat_stream(x0, x1, simd, eb, rng, 0.0)[1]
            assert (lane_seq != plain).mean() > 0.2
        out, st = rtlsim.run_sim(exe, with_flag(data, w + 1, stall), n_img, bpi, bpi, out_width=w,
                                 cwd=tmp_path, seed=17, p_in=p_in, p_out=p_out)
        got = rtlsim.unpack_beats(out, eb, simd, ref.shape[1], signed=False)
        bad = np.argwhere(got != ref)
        assert bad.size == 0, f"{name}: first mismatch (image, element) {bad[0]}"
        if name == "free":
            cpb = cycles_per_beat(st, bpi)
            print(f"concat PIXELS={pixels} CH0={ch0} CH1={ch1} SIMD={simd}: {cpb:.3f} cycles/beat")
            assert cpb <= 1.001, cpb
        else:
            assert st["cycles"] > 1.3 * n_img * bpi


# --------------------------------------------------------------------------- thresh

THRESH_CASES = [
    # (CH, PE, IN_BITS, IN_SIGNED, NT, TW, OUT_BITS, OUT_BIAS)
    pytest.param(6, 1, 5, 1, 1, 6, 1, 0, id="bit-pe1-cf6"),
    pytest.param(12, 4, 6, 1, 3, 8, 3, -1, id="nt3-levels-m1-to-2-pe4-cf3"),
    pytest.param(8, 2, 4, 0, 3, 6, 2, -2, id="nt3-2bit-signed-out-unsigned-in-cf4"),
    pytest.param(5, 5, 8, 0, 1, 10, 1, 0, id="bit-pe5-cf1"),
]


def thresh_values(rng, ch: int, nt: int, tw: int, lo: int, hi: int) -> np.ndarray:
    """Ascending thresholds per channel, mostly within [lo-1, hi+1], plus the extremes."""
    tmin, tmax = int_range(tw, True)
    t = np.sort(rng.integers(max(tmin, lo - 1), min(tmax, hi + 1) + 1, (ch, nt)), axis=1)
    t[0] = tmin                      # always fires
    t[1] = tmax                      # never fires (tmax > hi)
    t[2, -1] = hi                    # fires for the largest input only
    t[3, 0] = lo                     # always fires
    return np.sort(t, axis=1)


def write_thresh_mem(path: Path, t: np.ndarray, pe: int, tw: int) -> None:
    """Line cf: T[cf*PE+p][j] in TW-bit two's complement at bits [(p*NT+j)*TW +: TW]."""
    ch, nt = t.shape
    with open(path, "w") as f:
        for cf in range(ch // pe):
            v = 0
            for p in range(pe):
                for j in range(nt):
                    v |= (int(t[cf * pe + p, j]) & ((1 << tw) - 1)) << ((p * nt + j) * tw)
            f.write(format(v, "x") + "\n")


@pytest.mark.rtlsim
@pytest.mark.parametrize("ch,pe,ib,signed,nt,tw,ob,bias", THRESH_CASES)
def test_thresh(build, tmp_path, ch, pe, ib, signed, nt, tw, ob, bias):
    exe = build("hwflow_thresh", CH=ch, PE=pe, IN_BITS=ib, IN_SIGNED=signed, NT=nt, TW=tw, OUT_BITS=ob,
                OUT_BIAS=bias)
    cf = ch // pe
    n_pix = 1500
    rng = np.random.default_rng(ch * 100 + pe * 10 + nt)
    lo, hi = int_range(ib, signed)
    t = thresh_values(rng, ch, nt, tw, lo, hi)
    x = rng.integers(lo, hi + 1, (n_pix, ch))
    x[0], x[1] = lo, hi
    ref = thresh_ref(x, t, bias)
    assert set(np.unique(ref)) == set(range(bias, bias + nt + 1))   # every level occurs
    assert (ref[:, 0] == bias + nt).all() and (ref[:, 1] == bias).all()
    write_thresh_mem(tmp_path / "thresh.mem", t, pe, tw)
    data = rtlsim.pack_beats(x, ib, pe)
    for name, p_in, p_out, _ in MODES:
        out, st = rtlsim.run_sim(exe, data, n_pix, cf, cf, out_width=pe * ob, cwd=tmp_path, seed=19,
                                 p_in=p_in, p_out=p_out)
        got = rtlsim.unpack_beats(out, ob, pe, ch, signed=bias < 0)
        bad = np.argwhere(got != ref)
        assert bad.size == 0, (f"{name}: first mismatch (pixel, channel) {bad[0]}: got {got[tuple(bad[0])]}, "
                               f"expected {ref[tuple(bad[0])]}, x={x[tuple(bad[0])]}, T={t[bad[0][1]]}")
        if name == "free":
            cpb = cycles_per_beat(st, cf)
            print(f"thresh CH={ch} PE={pe} NT={nt} OUT_BITS={ob} OUT_BIAS={bias}: {cpb:.3f} cycles/beat, "
                  f"latency {st['first_out'][0] - st['first_in'][0]}")
            assert cpb <= 1.001, cpb


# --------------------------------------------------------------------------- lint

def _g(**params) -> list[str]:
    return [f"-G{k}={v}" for k, v in params.items()]


LINT_CASES = [
    ("hwflow_dup", []),
    *[("hwflow_dup", _g(WIDTH=c.values[0], N_OUT=c.values[1])) for c in DUP_CASES],
    ("hwflow_dup", _g(WIDTH=1, N_OUT=5)),
    ("hwflow_addstreams", []),
    *[("hwflow_addstreams", _g(PE=c.values[0], IN_BITS=c.values[1], IN_SIGNED=c.values[2], OUT_BITS=c.values[3]))
      for c in ADD_CASES],
    ("hwflow_addstreams", _g(PE=3, IN_BITS=8, IN_SIGNED=1, OUT_BITS=6)),     # narrower than the input
    ("hwflow_addstreams", _g(PE=2, IN_BITS=1, IN_SIGNED=0, OUT_BITS=2)),
    ("hwflow_concat", []),
    *[("hwflow_concat", _g(PIXELS=c.values[0], CH0=c.values[1], CH1=c.values[2], SIMD=c.values[3],
                           ELEM_BITS=c.values[4])) for c in CONCAT_CASES],
    ("hwflow_concat", _g(PIXELS=1, CH0=1, CH1=1, SIMD=1, ELEM_BITS=1)),      # 2 beats per pixel
    ("hwflow_concat", _g(PIXELS=49, CH0=64, CH1=32, SIMD=32, ELEM_BITS=2)),
    ("hwflow_thresh", []),
    *[("hwflow_thresh", _g(CH=c.values[0], PE=c.values[1], IN_BITS=c.values[2], IN_SIGNED=c.values[3],
                           NT=c.values[4], TW=c.values[5], OUT_BITS=c.values[6], OUT_BIAS=c.values[7]))
      for c in THRESH_CASES],
    ("hwflow_thresh", _g(CH=4, PE=4, IN_BITS=3, IN_SIGNED=0, NT=1, TW=20, OUT_BITS=1, OUT_BIAS=-1)),
    ("hwflow_thresh", _g(CH=64, PE=8, IN_BITS=12, IN_SIGNED=1, NT=15, TW=6, OUT_BITS=4, OUT_BIAS=0)),
    ("hwflow_thresh", _g(CH=16, PE=2, IN_BITS=8, NT=3, TW=9, OUT_BITS=2, OUT_BIAS=-2) + ['-GRAM_STYLE="block"']),
]


@pytest.mark.rtlsim
@pytest.mark.parametrize("top,params", LINT_CASES,
                         ids=lambda v: (v if isinstance(v, str) else "_".join(a[2:] for a in v) or "defaults"))
def test_lint(verilator, top, params):
    assert_lint_clean(verilator, *params, f"{top}.v")


@pytest.mark.rtlsim
def test_lint_wrappers(verilator, tmp_path):
    """The test wrappers themselves are -Wall clean (so their builds test the cores, not them)."""
    for top, text, core in [(*dup_wrapper(5, 3), "hwflow_dup"), (*add_wrapper(2, 3, 1, 4), "hwflow_addstreams"),
                            (*concat_wrapper(2, 2, 4, 2, 2, CONCAT_FIFO), "hwflow_concat")]:
        (tmp_path / f"{top}.v").write_text(text)
        assert_lint_clean(verilator, "-Wno-DECLFILENAME", "--top-module", top, str(tmp_path / f"{top}.v"),
                          f"{core}.v", "hwflow_fifo.v")


ILLEGAL = [
    ("hwflow_dup", _g(N_OUT=1), "N_OUT"),
    ("hwflow_dup", _g(WIDTH=0), "WIDTH"),
    ("hwflow_addstreams", _g(OUT_BITS=0), "PE_IN_BITS_OUT_BITS"),
    ("hwflow_concat", _g(CH0=3, CH1=4, SIMD=2), "CH0_CH1"),
    ("hwflow_concat", _g(CH0=4, CH1=2, SIMD=4), "CH0_CH1"),
    ("hwflow_concat", _g(PIXELS=0), "PIXELS"),
    ("hwflow_thresh", _g(CH=10, PE=4), "CH_not_multiple_of_PE"),
    ("hwflow_thresh", _g(NT=3, OUT_BITS=2, OUT_BIAS=-1), "OUT_BITS"),     # level 2 needs 3 bits
    ("hwflow_thresh", _g(NT=4, OUT_BITS=2, OUT_BIAS=0), "OUT_BITS"),
    ("hwflow_thresh", _g(NT=1, OUT_BITS=1, OUT_BIAS=-2), "OUT_BITS"),
]


@pytest.mark.rtlsim
@pytest.mark.parametrize("top,params,name", ILLEGAL, ids=lambda v: v if isinstance(v, str) else "_".join(a[2:] for a in v))
def test_rejects_illegal_parameters(verilator, top, params, name):
    assert_lint_rejects(verilator, top, params, name)
