"""HLS C++ path: kernel C-simulation against numpy, generated networks through CppSim,
and HLS cppsim == RTL sim bit for bit."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from hwflow import cppsim, rtlsim
from hwflow.codegen_hls import write_hls
from hwflow.dataflow import MVAU, clog2
from hwflow.errors import HwflowError

REPO = Path(__file__).resolve().parent.parent
LIB = REPO / "hwflow" / "hls"
TB_KERNELS = REPO / "hls" / "tests" / "tb_kernels.cpp"


def _need_toolchain():
    try:
        cppsim.find_cxx()
        cppsim.find_ap_types()
    except HwflowError as e:
        pytest.skip(str(e))


# ----------------------------------------------------------------------------- kernels

# (MW, MH, SIMD, PE, thresholded): odd foldings, SF=1 (SIMD=MW, wider than 64 bits), NF=1, PE=SIMD=1
MVAU_CASES = [(64, 100, 16, 5, True), (64, 100, 16, 5, False), (100, 36, 25, 3, True), (100, 36, 25, 3, False),
              (100, 36, 100, 3, True), (70, 20, 70, 4, False), (48, 12, 16, 12, True), (64, 10, 8, 10, False),
              (9, 7, 1, 1, True)]
# multi-bit input (MW, MH, SIMD, PE, IN_BITS, IN_SIGNED, ACC_BITS, thresholded)
MVAU_MB_CASES = [(27, 16, 9, 4, 8, False, 14, True), (20, 6, 5, 3, 4, True, 9, False),
                 (12, 5, 12, 5, 3, True, 7, True), (8, 4, 1, 1, 2, False, 6, False)]
# (NF, PE, IN_BITS, IN_SIGNED, NT, OUT_BITS)
THRESHOLD_CASES = [(4, 3, 6, True, 3, 2), (1, 5, 4, False, 1, 1), (7, 1, 9, True, 7, 3)]
# (NF, PE, IN_BITS, IN_SIGNED, IDX_BITS); narrow inputs make ties common
LABELSELECT_CASES = [(5, 2, 7, True, 4), (1, 10, 5, False, 4), (10, 1, 3, True, 4), (3, 4, 2, True, 4)]
# (IW, OW, BITS per image)
DWC_CASES = [(5, 3, 30), (3, 5, 30), (16, 4, 64), (4, 16, 64), (8, 8, 40), (5, 100, 100), (100, 3, 300)]
# (H, W, C, K, PE)
POOL_CASES = [(4, 6, 8, 2, 4), (6, 6, 3, 3, 1), (2, 2, 5, 2, 5)]

N_VEC = 40


def _cbool(v):
    return "true" if v is True else "false" if v is False else str(v)


def _cases_header() -> str:
    lists = {"MVAU_CASES": MVAU_CASES, "MVAU_MB_CASES": MVAU_MB_CASES, "THRESHOLD_CASES": THRESHOLD_CASES,
             "LABELSELECT_CASES": LABELSELECT_CASES, "DWC_CASES": DWC_CASES, "POOL_CASES": POOL_CASES}
    return "\n".join(f"#define {k}(X) " + " ".join(f"X({', '.join(_cbool(v) for v in c)})" for c in cases)
                     for k, cases in lists.items()) + "\n"


@pytest.fixture(scope="module", params=["fast", "bitwise"])
def kernel_tb(request, tmp_path_factory):
    """tb_kernels built with -Wall -Wextra -Werror; 'bitwise' uses the synthesis popcount."""
    _need_toolchain()
    d = tmp_path_factory.mktemp(f"kernels_{request.param}")
    (d / "inc").mkdir()
    (d / "inc" / "cases.h").write_text(_cases_header())
    defines = ["HWFLOW_BITWISE_POPCOUNT"] if request.param == "bitwise" else []
    return cppsim.compile_csim([TB_KERNELS], d / "tb_kernels", include_dirs=[LIB, d / "inc"], defines=defines,
                               extra=["-include", str(d / "inc" / "cases.h")], werror=True)


def _run_kernel(exe, kind, idx, words: list[np.ndarray], n, tmp_path) -> np.ndarray:
    fin, fout = tmp_path / "in.bin", tmp_path / "out.bin"
    np.concatenate([np.ascontiguousarray(w, dtype="<u4").ravel() for w in words]).tofile(fin)
    r = subprocess.run([str(exe), kind, str(idx), str(fin), str(fout), str(n)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return np.fromfile(fout, dtype="<u4")


@pytest.mark.parametrize("idx", range(len(MVAU_CASES)), ids=[str(c) for c in MVAU_CASES])
def test_mvau_kernel(kernel_tb, idx, tmp_path):
    mw, mh, simd, pe, thr = MVAU_CASES[idx]
    rng = np.random.default_rng(idx)
    w = rng.integers(0, 2, (mh, mw), dtype=np.uint8)
    t = rng.integers(0, mw + 2, mh) if thr else None
    if thr:
        t[:2] = [0, mw + 1]  # always / never fires
    layer = MVAU("k", w, t, pe, simd)
    x = rng.integers(0, 2, (N_VEC, mw))
    nf, sf = layer.nf, layer.sf
    wk = w.reshape(nf, pe, sf, simd).transpose(1, 0, 2, 3).reshape(pe * nf * sf, simd)
    words = [rtlsim.pack_beats(wk, 1, simd)]
    if thr:
        words.append(rtlsim.pack_beats(t.reshape(nf, pe).T.reshape(-1, 1), layer.thresh_bits, 1))
    words.append(rtlsim.pack_beats(x, 1, simd))
    out = _run_kernel(kernel_tb, "mvau", idx, words, N_VEC, tmp_path)
    got = rtlsim.unpack_beats(out.reshape(-1, -(-layer.out_width // 32)), layer.out_bits, pe, mh,
                              signed=not thr)
    np.testing.assert_array_equal(got, layer.execute(x))


@pytest.mark.parametrize("idx", range(len(MVAU_MB_CASES)), ids=[str(c) for c in MVAU_MB_CASES])
def test_mvau_multibit_kernel(kernel_tb, idx, tmp_path):
    mw, mh, simd, pe, ib, signed, acc_bits, thr = MVAU_MB_CASES[idx]
    rng = np.random.default_rng(50 + idx)
    lo, hi = (-(1 << (ib - 1)), (1 << (ib - 1)) - 1) if signed else (0, (1 << ib) - 1)
    w = rng.integers(0, 2, (mh, mw), dtype=np.uint8)
    x = rng.integers(lo, hi + 1, (N_VEC, mw))
    acc = x @ (2 * w.astype(np.int64) - 1).T
    assert np.abs(acc).max() < (1 << (acc_bits - 1))
    nf, sf = mh // pe, mw // simd
    wk = w.reshape(nf, pe, sf, simd).transpose(1, 0, 2, 3).reshape(pe * nf * sf, simd)
    words = [rtlsim.pack_beats(wk, 1, simd)]
    if thr:
        t = rng.integers(acc.min(), acc.max() + 1, mh)
        words.append(rtlsim.pack_beats(t.reshape(nf, pe).T.reshape(-1, 1), acc_bits, 1))
        ref, ob = (acc >= t[None]).astype(np.int64), 1
    else:
        ref, ob = acc, acc_bits
    words.append(rtlsim.pack_beats(x, ib, simd))
    out = _run_kernel(kernel_tb, "mvau_mb", idx, words, N_VEC, tmp_path)
    got = rtlsim.unpack_beats(out.reshape(-1, -(-pe * ob // 32)), ob, pe, mh, signed=not thr)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("idx", range(len(THRESHOLD_CASES)), ids=[str(c) for c in THRESHOLD_CASES])
def test_threshold_kernel(kernel_tb, idx, tmp_path):
    nf, pe, ib, signed, nt, ob = THRESHOLD_CASES[idx]
    rng = np.random.default_rng(100 + idx)
    lo, hi = (-(1 << (ib - 1)), (1 << (ib - 1)) - 1) if signed else (0, (1 << ib) - 1)
    c = nf * pe
    x = rng.integers(lo, hi + 1, (N_VEC, c))
    thr = np.sort(rng.integers(lo - 1, hi + 2, (c, nt)), axis=1)  # includes never/always
    tk = thr.reshape(nf, pe, nt).transpose(1, 0, 2).reshape(-1, 1)  # [p][nf][k]
    words = [rtlsim.pack_beats(tk, ib + 2, 1), rtlsim.pack_beats(x, ib, pe)]
    out = _run_kernel(kernel_tb, "threshold", idx, words, N_VEC, tmp_path)
    got = rtlsim.unpack_beats(out.reshape(-1, -(-pe * ob // 32)), ob, pe, c, signed=False)
    np.testing.assert_array_equal(got, (x[:, :, None] >= thr[None]).sum(axis=2))


@pytest.mark.parametrize("idx", range(len(LABELSELECT_CASES)), ids=[str(c) for c in LABELSELECT_CASES])
def test_labelselect_kernel(kernel_tb, idx, tmp_path):
    nf, pe, ib, signed, idx_bits = LABELSELECT_CASES[idx]
    rng = np.random.default_rng(200 + idx)
    lo, hi = (-(1 << (ib - 1)), (1 << (ib - 1)) - 1) if signed else (0, (1 << ib) - 1)
    x = rng.integers(lo, hi + 1, (N_VEC, nf * pe))
    out = _run_kernel(kernel_tb, "labelselect", idx, [rtlsim.pack_beats(x, ib, pe)], N_VEC, tmp_path)
    np.testing.assert_array_equal(out, np.argmax(x, axis=1))


@pytest.mark.parametrize("idx", range(len(DWC_CASES)), ids=[str(c) for c in DWC_CASES])
def test_dwc_kernel(kernel_tb, idx, tmp_path):
    iw, ow, bits = DWC_CASES[idx]
    x = np.random.default_rng(300 + idx).integers(0, 2, (N_VEC, bits))
    out = _run_kernel(kernel_tb, "dwc", idx, [rtlsim.pack_beats(x, 1, iw)], N_VEC, tmp_path)
    got = rtlsim.unpack_beats(out.reshape(-1, -(-ow // 32)), 1, ow, bits, signed=False)
    np.testing.assert_array_equal(got, x)


@pytest.mark.parametrize("idx", range(len(POOL_CASES)), ids=[str(c) for c in POOL_CASES])
def test_maxpool_kernel(kernel_tb, idx, tmp_path):
    h, w, c, k, pe = POOL_CASES[idx]
    x = np.random.default_rng(400 + idx).integers(0, 2, (N_VEC, h, w, c))
    ref = x.reshape(N_VEC, h // k, k, w // k, k, c).max(axis=(2, 4))
    out = _run_kernel(kernel_tb, "pool", idx, [rtlsim.pack_beats(x.reshape(N_VEC, -1), 1, pe)], N_VEC, tmp_path)
    got = rtlsim.unpack_beats(out.reshape(-1, -(-pe // 32)), 1, pe, ref[0].size, signed=False)
    np.testing.assert_array_equal(got, ref.reshape(N_VEC, -1))


# ----------------------------------------------------------------------------- networks

def _layers(sizes, folds, seed):
    """MVAUs from random weights/thresholds; the last layer outputs dot products."""
    rng = np.random.default_rng(seed)
    layers = []
    for i, ((mw, mh), (pe, simd)) in enumerate(zip(zip(sizes, sizes[1:]), folds)):
        w = rng.integers(0, 2, (mh, mw), dtype=np.uint8)
        last = i == len(sizes) - 2
        # thresholds near MW/2 keep the activations balanced through deep chains
        t = None if last else np.clip(rng.normal(mw / 2, mw / 8, mh).round(), 0, mw + 1).astype(np.int64)
        layers.append(MVAU(f"mvau{i}", w, t, pe, simd))
    return layers


def _execute(layers, x):
    for layer in layers:
        x = layer.execute(x)
    return x


NETWORKS = {
    # odd folding: DWC 5->100 (SF=1, a >64-bit weight word), 3->9, NF=1 dot-product output
    "odd-64-100-36-10": ([64, 100, 36, 10], [(5, 16), (3, 100), (10, 9)]),
    # TFC-sized; widths 16->32 (DWC), 16->16 (none), 16->64 (DWC)
    "tfc-784-64-64-64-10": ([784, 64, 64, 64, 10], [(16, 49), (16, 32), (16, 16), (5, 64)]),
}


@pytest.mark.parametrize("name", list(NETWORKS))
def test_network_cppsim_matches_numpy(name, tmp_path):
    _need_toolchain()
    sizes, folds = NETWORKS[name]
    layers = _layers(sizes, folds, seed=len(name))
    sim = cppsim.CppSim(layers, tmp_path / "hls", werror=True)
    x = np.random.default_rng(7).integers(0, 2, (1000, sizes[0]))
    np.testing.assert_array_equal(sim.run(x), _execute(layers, x))


def test_hls_equals_rtl_bit_for_bit(tmp_path):
    _need_toolchain()
    try:
        rtlsim.find_verilator()
    except HwflowError as e:
        pytest.skip(str(e))
    from hwflow.sim import RtlSim
    layers = _layers([64, 100, 36], [(5, 16), (3, 25)], seed=3)  # thresholded, then dot product
    x = np.random.default_rng(8).integers(0, 2, (200, 64))
    rtl = RtlSim(layers, tmp_path / "rtl").run(x).outputs
    hls = cppsim.CppSim(layers, tmp_path / "hls").run(x)
    np.testing.assert_array_equal(hls, rtl)
    np.testing.assert_array_equal(hls, _execute(layers, x))


# ----------------------------------------------------------------------------- codegen

def test_write_hls_scripts_and_files(tmp_path):
    layers = _layers([16, 8, 4], [(2, 4), (4, 8)], seed=1)
    paths = write_hls(layers, tmp_path, part="xcu50-fsvh2104-2-e", clock_ns=3.33)
    names = {p.relative_to(tmp_path).as_posix() for p in paths}
    assert {"mvau0.cpp", "mvau0_params.h", "mvau0.tcl", "mvau1.tcl", "hwflow_top.cpp", "hwflow_top_tb.cpp",
            "hwflow_top.tcl", "hwflow_hls/hwflow_mvau.h"} <= names
    tcl = (tmp_path / "mvau1.tcl").read_text().splitlines()
    for line in ["set_top mvau1", "set_part {xcu50-fsvh2104-2-e}", "create_clock -period 3.33 -name default",
                 "csynth_design", "export_design -format ip_catalog"]:
        assert line in tcl
    top = (tmp_path / "hwflow_top.cpp").read_text()
    assert "#pragma HLS DATAFLOW" in top and "hwflow::dwc<2, 8, 8>" in top
    params = (tmp_path / "mvau1_params.h").read_text()
    assert "hwflow::mvau_xnor_dot<8, 4, 8, 4>" in params
    assert clog2(9) == 4  # the dot output width the kernel static_asserts


def test_write_hls_rejects_bad_chains(tmp_path):
    a, b = _layers([16, 8, 4], [(2, 4), (4, 8)], seed=1)
    with pytest.raises(HwflowError, match="only the last layer"):
        write_hls([b, a], tmp_path)  # b is dot-product and its MH does not match either
    a.pe = 3
    with pytest.raises(HwflowError, match="PE=3 must divide"):
        write_hls([a, b], tmp_path)


def test_missing_headers_message(monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "hls4ml" else real(n, *a))
    with pytest.raises(HwflowError, match=r"pip install hls4ml==1\.3\.0"):
        cppsim.find_ap_types()
