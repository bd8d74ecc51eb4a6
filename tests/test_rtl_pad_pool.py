"""RTL cores hwflow_pad (padding, bipolar -> integer conversion) and hwflow_winpool (max /
sum over windows) in Verilator against numpy, under random stalls.

Each core is simulated directly as the top; one Verilator build per parameter set (-G
overrides), cached for the module.  Streams are NHWC: an image is its pixels in row-major
order, each pixel's channels in beats of SIMD (or PE) elements.

Cycle models (steady stream, no stalls; measured below and printed, asserted within 10%):

* hwflow_pad:     (PAD_T+IFM_H+PAD_B) * (PAD_L+IFM_W+PAD_R) * CH/SIMD cycles per image
                  (one output beat per cycle).
* hwflow_winpool: KK * CH/PE cycles per window (one input beat per cycle).

The numpy references here (pad_ref, winpool_ref) are also what tests/test_hls.py checks
the HLS kernels hwflow::pad and hwflow::window_pool against.
"""

from __future__ import annotations


import numpy as np
import pytest

from hwflow import rtlsim

from rtl_fixtures import STALLS, assert_lint_clean, assert_lint_rejects, build, verilator  # noqa: F401

MODES = ((1.0, 1.0), STALLS, (1.0, 0.3))
# A pad core that emits border beats without input never lets the harness finish: bound the run.
TIMEOUT = 60


def steady_cycles_per_image(st) -> float:
    """Mean distance between the last output beats of consecutive images (skips image 0)."""
    lo = np.asarray(st["last_out"])
    return float(np.diff(lo[1:]).mean()) if len(lo) > 2 else float(np.diff(lo).mean())


def rand_elems(rng, shape, bits: int, signed: bool):
    """Random element values: bits (0/1) for 1-bit, else k-bit integers (signed or not)."""
    if bits == 1:
        return rng.integers(0, 2, shape)
    lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
    return rng.integers(lo, hi, shape)


def as_signed(pattern: int, bits: int) -> int:
    """A bits-bit two's complement pattern as an integer."""
    return pattern - (1 << bits) if pattern >= 1 << (bits - 1) else pattern


# --------------------------------------------------------------------------- references

def pad_ref(x, pads, bipolar: bool, pad_value: int, out_bits: int, out_signed: bool):
    """x[n, H, W, C] input elements -> [n, (T+H+B)*(L+W+R)*C] output element values.

    Bipolar input bits become +1/-1; the border is pad_value read as an out_bits-bit
    integer (two's complement when out_signed).  Values as rtlsim.unpack_beats returns
    them with signed=out_signed."""
    t, l, b, r = pads
    v = (2 * x - 1) if bipolar else x
    border = as_signed(pad_value, out_bits) if out_signed else pad_value
    y = np.pad(v, ((0, 0), (t, b), (l, r), (0, 0)), mode="constant", constant_values=border)
    return y.reshape(len(x), -1)


def winpool_ref(w, mode: int, bipolar: bool):
    """w[n, KK, C] input elements (bits for bipolar) -> [n, C]: max (mode 0, in the input
    encoding: a bipolar max is +1, bit 1, iff any element is +1) or sum (mode 1, bipolar
    elements counted as +1/-1)."""
    v = (2 * w - 1) if bipolar else w
    if mode == 0:
        m = v.max(axis=1)
        return (m > 0).astype(np.int64) if bipolar else m
    return v.sum(axis=1)


# --------------------------------------------------------------------------- pad

PAD_CASES = [
    # (IFM_H, IFM_W, CH, SIMD, (T, L, B, R), IN_BITS, OUT_BITS, IN_BIPOLAR, PAD_VALUE, images)
    pytest.param(5, 7, 4, 2, (1, 2, 0, 1), 1, 2, 1, 0, 40, id="bipolar-int2-zero-asym-simd2"),
    pytest.param(4, 3, 3, 3, (2, 0, 1, 2), 8, 8, 0, 0x80, 40, id="int8-pad-minus128-asym"),
    pytest.param(3, 5, 2, 1, (1, 1, 2, 0), 1, 1, 0, 1, 40, id="bit-pad-one-simd1"),
    pytest.param(3, 4, 4, 4, (0, 0, 0, 0), 1, 4, 1, 0, 40, id="no-pad-bipolar-int4"),
]


@pytest.mark.rtlsim
@pytest.mark.parametrize("h,w,ch,simd,pads,ib,ob,bip,pv,n_img", PAD_CASES)
def test_pad(build, tmp_path, h, w, ch, simd, pads, ib, ob, bip, pv, n_img):
    t, l, b, r = pads
    exe = build("hwflow_pad", IFM_H=h, IFM_W=w, CH=ch, SIMD=simd, PAD_T=t, PAD_L=l, PAD_B=b, PAD_R=r,
                IN_BITS=ib, OUT_BITS=ob, IN_BIPOLAR=bip, PAD_VALUE=pv)
    out_signed = bool(bip) or ob == 8     # the 8-bit case is signed
    rng = np.random.default_rng(h * 100 + w * 10 + ch)
    x = rand_elems(rng, (n_img, h, w, ch), ib, out_signed and not bip)
    ref = pad_ref(x, pads, bool(bip), pv, ob, out_signed)
    oh, ow, cf = t + h + b, l + w + r, ch // simd
    in_beats = rtlsim.pack_beats(x.reshape(n_img, -1), ib, simd)
    ibpi, obpi = h * w * cf, oh * ow * cf
    model = obpi
    for p_in, p_out in MODES:
        out, st = rtlsim.run_sim(exe, in_beats, n_img, ibpi, obpi, out_width=simd * ob, cwd=tmp_path,
                                 seed=11, p_in=p_in, p_out=p_out, timeout=TIMEOUT)
        got = rtlsim.unpack_beats(out, ob, simd, ref.shape[1], signed=out_signed)
        bad = np.argwhere(got != ref)
        assert bad.size == 0, f"p={p_in},{p_out}: first mismatch (image, element) {bad[0]}"
        if p_in == 1.0 and p_out == 1.0:
            cpi = steady_cycles_per_image(st)
            print(f"pad {h}x{w}x{ch} pads {pads} SIMD={simd}: {cpi:.1f} cycles/image, model "
                  f"(T+H+B)*(L+W+R)*CF = {model} ({100 * (cpi / model - 1):+.2f}%)")
            assert abs(cpi - model) <= 0.10 * model, (cpi, model)


# --------------------------------------------------------------------------- window pool

WINPOOL_CASES = [
    # (KK, CH, PE, IN_BITS, IN_SIGNED, IN_BIPOLAR, MODE, OUT_BITS, windows)
    pytest.param(9, 8, 4, 1, 0, 1, 0, 1, 300, id="max-bipolar-k9-cf2"),
    pytest.param(49, 4, 2, 1, 0, 1, 1, 7, 60, id="sum-bipolar-global49"),
    pytest.param(4, 6, 3, 8, 1, 0, 0, 8, 300, id="max-int8-k4-cf2"),
    pytest.param(9, 6, 2, 4, 0, 0, 1, 8, 200, id="sum-uint4-k9-cf3"),
    pytest.param(1, 2, 1, 4, 1, 0, 1, 6, 300, id="sum-int4-kk1-pe1"),
]


@pytest.mark.rtlsim
@pytest.mark.parametrize("kk,ch,pe,ib,isg,bip,mode,ob,n_win", WINPOOL_CASES)
def test_winpool(build, tmp_path, kk, ch, pe, ib, isg, bip, mode, ob, n_win):
    exe = build("hwflow_winpool", KK=kk, CH=ch, PE=pe, IN_BITS=ib, IN_SIGNED=isg, IN_BIPOLAR=bip, MODE=mode,
                OUT_BITS=ob)
    rng = np.random.default_rng(kk * 100 + ch * 10 + ib)
    if bip and mode == 0:
        # biased towards 0 so that the OR over a window is not almost always 1
        w = (rng.random((n_win, kk, ch)) < 0.12).astype(np.int64)
    else:
        w = rand_elems(rng, (n_win, kk, ch), ib, bool(isg))
    # extreme windows: every element at the bottom / top of its range
    lo, hi = (0, 1) if ib == 1 else ((-(1 << (ib - 1)), (1 << (ib - 1)) - 1) if isg else (0, (1 << ib) - 1))
    w[0], w[1] = lo, hi
    ref = winpool_ref(w, mode, bool(bip))
    out_signed = (mode == 1 and bool(bip)) or bool(isg)
    if mode == 1:   # the chosen OUT_BITS holds every sum (else the test itself is wrong)
        assert ref.max() < (1 << (ob - 1 if out_signed else ob)) and ref.min() >= (-(1 << (ob - 1)) if out_signed else 0)
    assert len(np.unique(ref)) > 1
    cf = ch // pe
    in_beats = rtlsim.pack_beats(w.reshape(n_win, -1), ib, pe)
    model = kk * cf
    for p_in, p_out in MODES:
        out, st = rtlsim.run_sim(exe, in_beats, n_win, kk * cf, cf, out_width=pe * ob, cwd=tmp_path,
                                 seed=13, p_in=p_in, p_out=p_out, timeout=TIMEOUT)
        got = rtlsim.unpack_beats(out, ob, pe, ch, signed=out_signed)
        bad = np.argwhere(got != ref)
        assert bad.size == 0, f"p={p_in},{p_out}: first mismatch (window, channel) {bad[0]}"
        if p_in == 1.0 and p_out == 1.0:
            cpi = steady_cycles_per_image(st)
            print(f"winpool KK={kk} CH={ch} PE={pe} mode={mode}: {cpi:.2f} cycles/window, model KK*CF = "
                  f"{model} ({100 * (cpi / model - 1):+.2f}%)")
            assert abs(cpi - model) <= 0.10 * model, (cpi, model)
            assert st["cycles"] <= n_win * model + 10


# --------------------------------------------------------------------------- lint

def _g(**params) -> list[str]:
    return [f"-G{k}={v}" for k, v in params.items()]


PAD_KEYS = ("IFM_H", "IFM_W", "CH", "SIMD", "PAD_T", "PAD_L", "PAD_B", "PAD_R", "IN_BITS", "OUT_BITS",
            "IN_BIPOLAR", "PAD_VALUE")
WINPOOL_KEYS = ("KK", "CH", "PE", "IN_BITS", "IN_SIGNED", "IN_BIPOLAR", "MODE", "OUT_BITS")


def _pad_lint(case) -> list[str]:
    h, w, ch, simd, pads, ib, ob, bip, pv, _ = case.values
    return _g(**dict(zip(PAD_KEYS, (h, w, ch, simd, *pads, ib, ob, bip, pv))))


def _winpool_lint(case) -> list[str]:
    return _g(**dict(zip(WINPOOL_KEYS, case.values[:8])))


LINT_CASES = [
    ("hwflow_pad.v", []),
    *[("hwflow_pad.v", _pad_lint(c)) for c in PAD_CASES],
    ("hwflow_pad.v", _g(IFM_H=1, IFM_W=1, CH=1, SIMD=1, PAD_T=0, PAD_L=3, PAD_B=0, PAD_R=0)),
    ("hwflow_pad.v", _g(IFM_H=2, IFM_W=2, CH=64, SIMD=32, IN_BITS=1, OUT_BITS=2, PAD_VALUE=3)),
    ("hwflow_pad.v", _g(CH=2, SIMD=1, IN_BITS=40, OUT_BITS=40, IN_BIPOLAR=0, PAD_VALUE=5)),
    ("hwflow_winpool.v", []),
    *[("hwflow_winpool.v", _winpool_lint(c)) for c in WINPOOL_CASES],
    ("hwflow_winpool.v", _g(KK=1, CH=1, PE=1, IN_BITS=1, IN_BIPOLAR=1, MODE=1, OUT_BITS=2)),
    ("hwflow_winpool.v", _g(KK=2, CH=16, PE=16, IN_BITS=1, IN_SIGNED=1, IN_BIPOLAR=0, MODE=0, OUT_BITS=1)),
    ("hwflow_winpool.v", _g(KK=64, CH=3, PE=1, IN_BITS=8, IN_SIGNED=0, IN_BIPOLAR=0, MODE=1, OUT_BITS=8)),
]


@pytest.mark.rtlsim
@pytest.mark.parametrize("src,params", LINT_CASES, ids=lambda v: v if isinstance(v, str) else " ".join(v) or "-")
def test_lint(verilator, src, params):
    assert_lint_clean(verilator, *params, src)


ILLEGAL = [
    ("hwflow_pad", _g(CH=4, SIMD=3), "CH_not_multiple_of_SIMD"),
    ("hwflow_pad", _g(PAD_L=-1), "negative_pad"),
    ("hwflow_pad", _g(IN_BITS=2, OUT_BITS=4, IN_BIPOLAR=1), "IN_BIPOLAR_needs_IN_BITS_1_and_OUT_BITS_2_or_more"),
    ("hwflow_pad", _g(IN_BITS=1, OUT_BITS=1, IN_BIPOLAR=1), "IN_BIPOLAR_needs_IN_BITS_1_and_OUT_BITS_2_or_more"),
    ("hwflow_pad", _g(IN_BITS=4, OUT_BITS=8, IN_BIPOLAR=0), "OUT_BITS_must_equal_IN_BITS"),
    ("hwflow_pad", _g(OUT_BITS=2, PAD_VALUE=4), "PAD_VALUE_does_not_fit_OUT_BITS"),
    ("hwflow_pad", _g(OUT_BITS=2, PAD_VALUE=-1), "PAD_VALUE_does_not_fit_OUT_BITS"),
    ("hwflow_winpool", _g(CH=6, PE=4), "CH_not_multiple_of_PE"),
    ("hwflow_winpool", _g(MODE=0, IN_BITS=1, OUT_BITS=4), "max_needs_OUT_BITS_equal_IN_BITS"),
    ("hwflow_winpool", _g(IN_BIPOLAR=1, IN_BITS=2, OUT_BITS=2), "IN_BIPOLAR_needs_IN_BITS_1"),
    ("hwflow_winpool", _g(MODE=2), "MODE_must_be_0_max_or_1_sum"),
    ("hwflow_winpool", _g(KK=0), "KK_must_be_at_least_1"),
    ("hwflow_winpool", _g(MODE=1, IN_BIPOLAR=1, IN_BITS=1, OUT_BITS=1), "sum_OUT_BITS_narrower_than_an_element"),
    ("hwflow_winpool", _g(MODE=1, IN_BIPOLAR=0, IN_BITS=8, OUT_BITS=6), "sum_OUT_BITS_narrower_than_an_element"),
]


@pytest.mark.rtlsim
@pytest.mark.parametrize("top,params,name", ILLEGAL, ids=lambda v: v if isinstance(v, str) else None)
def test_rejects_illegal_parameters(verilator, top, params, name):
    assert_lint_rejects(verilator, top, params, name)
