"""HLS stream-graph kernels (hwflow/hls/hwflow_streams.h: dup, dup2, add_streams, concat; and
hwflow::threshold with OUT_BIAS) in C simulation with g++, against the numpy references
of tests/test_rtl_graph_cores.py (the RTL twins' test).

hls/tests/tb_graph_kernels.cpp is built once (-Wall -Wextra -Werror, the ap types via
-isystem, as tests/test_hls.py) with every case below as a template instance.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from hwflow import cppsim, rtlsim
from hwflow.errors import HwflowError

from test_rtl_graph_cores import (ADD_CASES, CONCAT_CASES, DUP_CASES, THRESH_CASES, add_ref, concat_ref, dup_ref,
                                  int_range, thresh_ref, thresh_values)

REPO = Path(__file__).resolve().parent.parent
LIB = REPO / "hwflow" / "hls"
TB = REPO / "hls" / "tests" / "tb_graph_kernels.cpp"

# (WIDTH, N_OUT)
HLS_DUP_CASES = [tuple(c.values) for c in DUP_CASES] + [(1, 4), (100, 2)]
# (WIDTH,)
HLS_DUP2_CASES = [(13,), (70,)]
# (PE, IN_BITS, IN_SIGNED, OUT_BITS)
HLS_ADD_CASES = [tuple(c.values[:2]) + (bool(c.values[2]),) + tuple(c.values[3:]) for c in ADD_CASES] + \
    [(8, 8, True, 9), (3, 8, True, 6), (1, 5, True, 6), (1, 4, False, 4)]   # a 64-bit lane; OUT_BITS < IN_BITS
# (PIXELS, CH0, CH1, SIMD, ELEM_BITS)
HLS_CONCAT_CASES = [tuple(c.values) for c in CONCAT_CASES] + [(4, 64, 32, 32, 2)]
# (CH, PE, IN_BITS, IN_SIGNED, NT, TW, OUT_BITS, OUT_BIAS)
HLS_THRESH_CASES = [tuple(c.values[:3]) + (bool(c.values[3]),) + tuple(c.values[4:]) for c in THRESH_CASES] + \
    [(6, 3, 5, True, 3, 7, 2, 0)]          # several levels, default OUT_BIAS

N = 200


def _cbool(v):
    return "true" if v is True else "false" if v is False else str(v)


def _cases_header() -> str:
    lists = {"DUP_CASES": HLS_DUP_CASES, "DUP2_CASES": HLS_DUP2_CASES, "ADD_CASES": HLS_ADD_CASES,
             "CONCAT_CASES": HLS_CONCAT_CASES, "THRESH_CASES": HLS_THRESH_CASES}
    return "\n".join(f"#define {k}(X) " + " ".join(f"X({', '.join(_cbool(v) for v in c)})" for c in cases)
                     for k, cases in lists.items()) + "\n"


@pytest.fixture(scope="module")
def tb(tmp_path_factory):
    try:
        cppsim.find_cxx()
        cppsim.find_ap_types()
    except HwflowError as e:
        pytest.skip(str(e))
    d = tmp_path_factory.mktemp("graph_kernels")
    (d / "inc").mkdir()
    (d / "inc" / "cases.h").write_text(_cases_header())
    return cppsim.compile_csim([TB], d / "tb_graph_kernels", include_dirs=[LIB, d / "inc"],
                               extra=["-include", str(d / "inc" / "cases.h")], werror=True)


def _run(exe, kind: str, idx: int, words: list[np.ndarray], n: int, tmp_path) -> np.ndarray:
    fin, fout = tmp_path / "in.bin", tmp_path / "out.bin"
    np.concatenate([np.ascontiguousarray(w, dtype="<u4").ravel() for w in words]).tofile(fin)
    r = subprocess.run([str(exe), kind, str(idx), str(fin), str(fout), str(n)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return np.fromfile(fout, dtype="<u4")


def _nw(bits: int) -> int:
    return -(-bits // 32)


@pytest.mark.parametrize("idx", range(len(HLS_DUP_CASES)), ids=[str(c) for c in HLS_DUP_CASES])
def test_dup_kernel(tb, idx, tmp_path):
    width, n_out = HLS_DUP_CASES[idx]
    rng = np.random.default_rng(idx)
    # random bits (widths beyond 63 bits too)
    x = rng.integers(0, 2, (N, width))
    out = _run(tb, "dup", idx, [rtlsim.pack_beats(x, 1, width)], N, tmp_path)
    got = rtlsim.unpack_beats(out.reshape(n_out * N, _nw(width)), 1, width, width, signed=False)
    ref = dup_ref(x, n_out)                                # [beat, lane, bit]
    np.testing.assert_array_equal(got.reshape(n_out, N, width), ref.transpose(1, 0, 2))


@pytest.mark.parametrize("idx", range(len(HLS_DUP2_CASES)), ids=[str(c) for c in HLS_DUP2_CASES])
def test_dup2_kernel(tb, idx, tmp_path):
    (width,) = HLS_DUP2_CASES[idx]
    x = np.random.default_rng(10 + idx).integers(0, 2, (N, width))
    out = _run(tb, "dup2", idx, [rtlsim.pack_beats(x, 1, width)], N, tmp_path)
    got = rtlsim.unpack_beats(out.reshape(2 * N, _nw(width)), 1, width, width, signed=False)
    np.testing.assert_array_equal(got.reshape(2, N, width), dup_ref(x, 2).transpose(1, 0, 2))


@pytest.mark.parametrize("idx", range(len(HLS_ADD_CASES)), ids=[str(c) for c in HLS_ADD_CASES])
def test_add_streams_kernel(tb, idx, tmp_path):
    pe, ib, signed, ob = HLS_ADD_CASES[idx]
    rng = np.random.default_rng(20 + idx)
    lo, hi = int_range(ib, signed)
    olo, ohi = int_range(ob, signed)
    # keep every sum representable in OUT_BITS
    lo, hi = max(lo, -((-olo) // 2)), min(hi, ohi // 2)
    a = rng.integers(lo, hi + 1, (N, pe))
    b = rng.integers(lo, hi + 1, (N, pe))
    a[0], b[0], a[1], b[1] = lo, lo, hi, hi
    ref = add_ref(a, b)
    assert olo <= ref.min() and ref.max() <= ohi
    out = _run(tb, "add", idx, [rtlsim.pack_beats(a, ib, pe), rtlsim.pack_beats(b, ib, pe)], N, tmp_path)
    got = rtlsim.unpack_beats(out.reshape(N, _nw(pe * ob)), ob, pe, pe, signed=signed)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("idx", range(len(HLS_CONCAT_CASES)), ids=[str(c) for c in HLS_CONCAT_CASES])
def test_concat_kernel(tb, idx, tmp_path):
    pixels, ch0, ch1, simd, eb = HLS_CONCAT_CASES[idx]
    n = 30
    rng = np.random.default_rng(30 + idx)
    x0 = rng.integers(0, 1 << eb, (n, pixels, ch0))
    x1 = rng.integers(0, 1 << eb, (n, pixels, ch1))
    ref = concat_ref(x0, x1).reshape(n, -1)
    words = [rtlsim.pack_beats(x0.reshape(n, -1), eb, simd), rtlsim.pack_beats(x1.reshape(n, -1), eb, simd)]
    out = _run(tb, "concat", idx, words, n, tmp_path)
    got = rtlsim.unpack_beats(out.reshape(-1, _nw(simd * eb)), eb, simd, ref.shape[1], signed=False)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("idx", range(len(HLS_THRESH_CASES)), ids=[str(c) for c in HLS_THRESH_CASES])
def test_threshold_kernel(tb, idx, tmp_path):
    ch, pe, ib, signed, nt, tw, ob, bias = HLS_THRESH_CASES[idx]
    nf = ch // pe
    rng = np.random.default_rng(40 + idx)
    lo, hi = int_range(ib, signed)
    t = thresh_values(rng, ch, nt, tw, lo, hi)
    x = rng.integers(lo, hi + 1, (N, ch))
    x[0], x[1] = lo, hi
    ref = thresh_ref(x, t, bias)
    assert set(np.unique(ref)) == set(range(bias, bias + nt + 1))
    tk = t.reshape(nf, pe, nt).transpose(1, 0, 2).reshape(-1, 1)     # [p][nf][k]
    out = _run(tb, "threshold", idx, [rtlsim.pack_beats(tk, tw, 1), rtlsim.pack_beats(x, ib, pe)], N, tmp_path)
    got = rtlsim.unpack_beats(out.reshape(-1, _nw(pe * ob)), ob, pe, ch, signed=bias < 0)
    np.testing.assert_array_equal(got, ref)
