"""RTL core hwflow_labelselect (top-1 label of each vector) against numpy.argmax.

The core is simulated directly as the top, one Verilator build per parameter set (-G
overrides, cached for the module), with and without random stalls.  Narrow inputs make
ties common (ties go to the lowest index, as numpy.argmax); the golden is computed from
the same random integers that are packed into the input beats.

Cycle model (steady stream of vectors, no stalls): NF cycles per vector (one input beat
per cycle, no bubble between vectors), measured below and printed.
"""

from __future__ import annotations


import numpy as np
import pytest

from hwflow import rtlsim

from rtl_fixtures import STALLS, assert_lint_clean, assert_lint_rejects, build, clog2, verilator  # noqa: F401

TOP = "hwflow_labelselect"
MODES = ((1.0, 1.0), STALLS, (1.0, 0.3))   # the last one keeps the skid register busy

CASES = [
    # (NF, PE, IN_BITS, IN_SIGNED, IDX_BITS or None = clog2(NF*PE))
    pytest.param(5, 2, 7, 1, None, id="nf5-pe2-s7"),
    pytest.param(1, 10, 5, 0, None, id="nf1-pe10-u5"),
    pytest.param(10, 1, 3, 1, None, id="nf10-pe1-s3"),
    pytest.param(3, 4, 2, 1, None, id="nf3-pe4-s2"),
    pytest.param(4, 3, 16, 1, 7, id="nf4-pe3-s16-wide-idx"),
]


def idx_bits(nf: int, pe: int, ib) -> int:
    return ib if ib is not None else max(1, clog2(nf * pe))


def vectors(rng, n_img: int, n: int, bits: int, signed: int) -> np.ndarray:
    """Random vectors plus the corner cases: all equal, maximum first/last, duplicated maxima."""
    lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
    x = rng.integers(lo, hi, (n_img, n))
    x[0] = lo                                   # all equal (minimum): label 0
    x[1] = hi - 1                               # all equal (maximum): label 0
    x[2] = lo
    x[2, -1] = hi - 1                           # maximum last
    x[3] = hi - 1
    x[3, 1:] = lo                               # maximum first
    # Duplicate each remaining vector's maximum at a random position (a tie across lanes
    # or beats, wherever it falls), in half of the vectors.
    for i in range(4, n_img, 2):
        x[i, rng.integers(0, n)] = x[i].max()
    return x


@pytest.mark.rtlsim
@pytest.mark.parametrize("nf,pe,bits,signed,ib", CASES)
def test_labelselect(build, tmp_path, nf, pe, bits, signed, ib):
    xb = idx_bits(nf, pe, ib)
    exe = build(TOP, NF=nf, PE=pe, IN_BITS=bits, IN_SIGNED=signed, IDX_BITS=xb)
    n = nf * pe
    n_img = 300
    rng = np.random.default_rng(nf * 1000 + pe * 100 + bits * 10 + signed)
    x = vectors(rng, n_img, n, bits, signed)
    ref = np.argmax(x, axis=1)
    if n > 1:
        # the corner cases and the ties are really there
        assert ref[0] == 0 and ref[1] == 0 and ref[2] == n - 1 and ref[3] == 0
        ties = ((x == x.max(axis=1, keepdims=True)).sum(axis=1) > 1).sum()
        assert ties >= n_img // 3, ties
    in_beats = rtlsim.pack_beats(x, bits, pe)
    for p_in, p_out in MODES:
        out, st = rtlsim.run_sim(exe, in_beats, n_img, nf, 1, out_width=xb, cwd=tmp_path,
                                 seed=7, p_in=p_in, p_out=p_out)
        got = rtlsim.unpack_beats(out, xb, 1, 1, signed=False)[:, 0]
        bad = np.flatnonzero(got != ref)
        assert bad.size == 0, (f"p={p_in},{p_out}: first mismatch at vector {bad[0]}: "
                               f"got {got[bad[0]]}, expected {ref[bad[0]]}, x={x[bad[0]].tolist()}")
        if p_in == 1.0 and p_out == 1.0:
            lo = np.asarray(st["last_out"])
            cpi = float(np.diff(lo[1:]).mean())
            lat = st["last_out"][-1] - st["last_in"][-1]
            print(f"labelselect NF={nf} PE={pe} IN_BITS={bits}: {cpi:.2f} cycles/vector "
                  f"(NF = {nf}), last-input-to-output latency {lat}, total {st['cycles']} cycles "
                  f"for {n_img} vectors")
            bound = nf + 2 if nf == 1 else 1.10 * nf
            assert cpi <= bound, (cpi, nf)


# --------------------------------------------------------------------------- lint

LINT_CASES = [
    *[[f"-GNF={c.values[0]}", f"-GPE={c.values[1]}", f"-GIN_BITS={c.values[2]}",
       f"-GIN_SIGNED={c.values[3]}", f"-GIDX_BITS={idx_bits(*c.values[:2], c.values[4])}"] for c in CASES],
    [],                                                                  # defaults
    ["-GNF=1", "-GPE=1", "-GIN_BITS=1", "-GIDX_BITS=1"],                 # a single label
    ["-GNF=1", "-GPE=16", "-GIN_BITS=4", "-GIDX_BITS=4"],                # N = 2^IDX_BITS
    ["-GNF=2", "-GPE=1", "-GIN_BITS=1", "-GIN_SIGNED=1", "-GIDX_BITS=1"],
    ["-GNF=1", "-GPE=2", "-GIN_BITS=3", "-GIDX_BITS=8"],                 # wider than needed
    ["-GNF=8", "-GPE=125", "-GIN_BITS=12", "-GIDX_BITS=10"],             # 1000 labels
]


@pytest.mark.rtlsim
@pytest.mark.parametrize("params", LINT_CASES, ids=lambda p: "_".join(a[2:] for a in p) or "defaults")
def test_lint(verilator, params):
    assert_lint_clean(verilator, *params, f"{TOP}.v")


@pytest.mark.rtlsim
@pytest.mark.parametrize("params,name", [
    (["-GNF=5", "-GPE=4", "-GIDX_BITS=4"], "IDX_BITS"),                 # 20 labels need 5 bits
    (["-GNF=1", "-GPE=16", "-GIDX_BITS=3"], "IDX_BITS"),
    (["-GNF=17", "-GPE=1", "-GIDX_BITS=4"], "IDX_BITS"),
])
def test_rejects_illegal_parameters(verilator, params, name):
    assert_lint_rejects(verilator, TOP, params, name)


# --------------------------------------------------------------------------- top-K

TOPK = "hwflow_topk"
TOPK_CASES = [
    # (N, K, IN_BITS, IN_SIGNED)
    pytest.param(10, 3, 4, 1, id="n10-k3-s4"),
    pytest.param(10, 10, 3, 0, id="n10-k10-u3"),       # a full sort, K = N
    pytest.param(7, 2, 2, 1, id="n7-k2-s2"),           # 2-bit values: ties everywhere
    pytest.param(16, 5, 12, 1, id="n16-k5-s12"),
]


def topk_ref(x: np.ndarray, k: int) -> np.ndarray:
    """ONNX TopK's order: largest first, equal values by index (a stable sort of -x)."""
    return np.argsort(-x, axis=1, kind="stable")[:, :k]


@pytest.mark.rtlsim
@pytest.mark.parametrize("n,k,bits,signed", TOPK_CASES)
def test_topk(build, tmp_path, n, k, bits, signed):
    xb = max(1, clog2(n))
    exe = build(TOPK, N=n, K=k, IN_BITS=bits, IN_SIGNED=signed, IDX_BITS=xb)
    n_img = 300
    rng = np.random.default_rng(n * 100 + k * 10 + bits)
    x = vectors(rng, n_img, n, bits, signed)
    ref = topk_ref(x, k)
    assert (np.diff(np.sort(x, axis=1)[:, -k:], axis=1) == 0).any(axis=1).sum() > n_img // 4  # ties inside the top K
    in_beats = rtlsim.pack_beats(x, bits, 1)
    for p_in, p_out in MODES:
        out, st = rtlsim.run_sim(exe, in_beats, n_img, n, k, out_width=xb, cwd=tmp_path,
                                 seed=11, p_in=p_in, p_out=p_out)
        got = rtlsim.unpack_beats(out, xb, 1, 1, signed=False)[:, 0].reshape(n_img, k)
        bad = np.flatnonzero((got != ref).any(axis=1))
        assert bad.size == 0, (f"p={p_in},{p_out}: first mismatch at vector {bad[0]}: "
                               f"got {got[bad[0]].tolist()}, expected {ref[bad[0]].tolist()}, x={x[bad[0]].tolist()}")
        if p_in == 1.0 and p_out == 1.0:
            cpi = float(np.diff(np.asarray(st["last_out"])[1:]).mean())
            print(f"topk N={n} K={k}: {cpi:.2f} cycles/vector")
            assert cpi <= n + (k == n), (cpi, n)


@pytest.mark.rtlsim
@pytest.mark.parametrize("params", [
    *[[f"-GN={c.values[0]}", f"-GK={c.values[1]}", f"-GIN_BITS={c.values[2]}", f"-GIN_SIGNED={c.values[3]}",
       f"-GIDX_BITS={max(1, clog2(c.values[0]))}"] for c in TOPK_CASES],
    [], ["-GN=2", "-GK=2", "-GIN_BITS=1", "-GIDX_BITS=1"], ["-GN=1000", "-GK=5", "-GIN_BITS=16", "-GIDX_BITS=10"],
], ids=lambda p: "_".join(a[2:] for a in p) or "defaults")
def test_topk_lint(verilator, params):
    assert_lint_clean(verilator, *params, f"{TOPK}.v")


@pytest.mark.rtlsim
@pytest.mark.parametrize("params,name", [
    (["-GN=10", "-GK=1"], "need_N"), (["-GN=4", "-GK=5", "-GIDX_BITS=2"], "need_N"),
    (["-GN=17", "-GK=2", "-GIDX_BITS=4"], "IDX_BITS"),
])
def test_topk_rejects_illegal_parameters(verilator, params, name):
    assert_lint_rejects(verilator, TOPK, params, name)
