"""RTL cores for convolutional BNNs (SWG, max-pool, multi-bit MVAU) against numpy.

Each core is simulated directly as the top; one Verilator build per parameter set
(-G overrides), cached for the module.  Streams are NHWC: an image is its pixels in
row-major order, each pixel's channels in beats of SIMD (or PE) elements.

Cycle models (steady stream of images, no stalls; measured below and printed):

* hwflow_swg:      max(IFM_H * IFM_W, OFM_H * OFM_W * K**2) * IFM_CH / SIMD cycles per
                   image, OFM_H = (IFM_H-K)//STRIDE+1, OFM_W = (IFM_W-K)//STRIDE+1;
                   measured exactly that (0 cycles overhead) for every case below,
                   non-square images, strides 2 and 3, K = 1..7 and K == IFM_H included;
                   the assert allows 10%.
* hwflow_maxpool:  IFM_H * IFM_W * CH / PE cycles per image (one input beat per cycle).
* hwflow_mvau:     NF * SF cycles per image, IN_BITS = 1 or > 1 alike.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hwflow import rtlsim

from rtl_fixtures import (STALLS, assert_lint_clean, assert_lint_rejects, build, clog2,  # noqa: F401
                          mvau_lint_params, mvau_widths, verilator, write_mvau_mem)

MODES = ((1.0, 1.0), STALLS)


def steady_cycles_per_image(st) -> float:
    """Mean distance between the last output beats of consecutive images (skips image 0)."""
    lo = np.asarray(st["last_out"])
    return float(np.diff(lo[1:]).mean()) if len(lo) > 2 else float(np.diff(lo).mean())


# --------------------------------------------------------------------------- SWG

def swg_ref(x, k: int, stride: int):
    """x[n, H, W, C] -> [n, OFM_H*OFM_W*K*K*C], windows row-major, each in (ky, kx, c) order."""
    n, h, w = x.shape[:3]
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    out = [x[:, oy * stride:oy * stride + k, ox * stride:ox * stride + k, :].reshape(n, -1)
           for oy in range(oh) for ox in range(ow)]
    return np.concatenate(out, axis=1)


SWG_CASES = [
    # (IFM_H, IFM_W, CH, K, STRIDE, SIMD, ELEM_BITS, images)
    pytest.param(8, 8, 4, 3, 1, 2, 1, 30, id="8x8x4-k3-simd2"),
    pytest.param(6, 6, 3, 3, 1, 3, 8, 30, id="6x6x3-k3-8bit"),
    pytest.param(5, 9, 2, 2, 1, 1, 1, 30, id="5x9x2-k2-simd1"),
    pytest.param(3, 3, 4, 3, 1, 2, 1, 40, id="k-eq-ifm"),
    pytest.param(32, 32, 3, 3, 1, 3, 8, 4, id="cnv-first-layer"),
    pytest.param(8, 11, 2, 3, 2, 1, 1, 30, id="stride2-tail-row-and-col"),
    pytest.param(7, 7, 4, 3, 2, 4, 1, 30, id="stride2-exact"),
    pytest.param(6, 6, 2, 2, 2, 2, 4, 30, id="k2-stride2"),
    pytest.param(3, 5, 2, 1, 1, 1, 1, 30, id="k1-pointwise-3x5"),
    pytest.param(9, 4, 2, 3, 3, 1, 1, 30, id="9x4-k3-stride3"),
    pytest.param(11, 8, 2, 5, 3, 2, 1, 20, id="11x8-k5-stride3"),
    pytest.param(9, 10, 2, 4, 2, 2, 1, 20, id="9x10-k4-stride2"),
    pytest.param(9, 8, 2, 7, 1, 1, 2, 10, id="9x8-k7"),
    pytest.param(5, 9, 3, 5, 1, 3, 8, 20, id="5x9-k5-eq-height-8bit"),
]


@pytest.mark.rtlsim
@pytest.mark.parametrize("h,w,ch,k,stride,simd,eb,n_img", SWG_CASES)
def test_swg(build, tmp_path, h, w, ch, k, stride, simd, eb, n_img):
    exe = build("hwflow_swg", IFM_H=h, IFM_W=w, IFM_CH=ch, K=k, STRIDE=stride, SIMD=simd,
                ELEM_BITS=eb)
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    cf = ch // simd
    rng = np.random.default_rng(h * 1000 + w * 100 + ch * 10 + k)
    x = rng.integers(0, 1 << eb, (n_img, h, w, ch))
    ref = swg_ref(x, k, stride)
    in_beats = rtlsim.pack_beats(x.reshape(n_img, -1), eb, simd)
    ib, ob = h * w * cf, oh * ow * k * k * cf
    model = max(h * w, oh * ow * k * k) * cf
    for p_in, p_out in MODES:
        out, st = rtlsim.run_sim(exe, in_beats, n_img, ib, ob, out_width=simd * eb, cwd=tmp_path,
                                 seed=5, p_in=p_in, p_out=p_out)
        got = rtlsim.unpack_beats(out, eb, simd, ref.shape[1], signed=False)
        bad = np.argwhere(got != ref)
        assert bad.size == 0, f"p={p_in},{p_out}: first mismatch (image, element) {bad[0]}"
        if p_in == 1.0:
            cpi = steady_cycles_per_image(st)
            lat = st["first_out"][0] - st["first_in"][0]
            print(f"SWG {h}x{w}x{ch} K={k} S={stride} SIMD={simd}: {cpi:.1f} cycles/image, "
                  f"model max(H*W, OFM_H*OFM_W*K^2)*CF = {model} ({100 * (cpi / model - 1):+.2f}%), "
                  f"first-output latency {lat}")
            assert cpi <= 1.10 * model, (cpi, model)


# --------------------------------------------------------------------------- max-pool

def maxpool_ref(x, pool: int):
    """x[n, H, W, C] -> [n, OFM_H*OFM_W*C], floor mode (trailing rows/cols dropped); 1-bit
    elements are bits (max = OR), others integers compared as such."""
    n, h, w, c = x.shape
    oh, ow = h // pool, w // pool
    y = x[:, :oh * pool, :ow * pool, :].reshape(n, oh, pool, ow, pool, c).max(axis=(2, 4))
    return y.reshape(n, -1)


MAXPOOL_CASES = [
    # (IFM_H, IFM_W, CH, POOL, PE, ELEM_BITS, SIGNED)
    (28, 28, 64, 2, 8, 1, 0), (5, 7, 4, 2, 2, 1, 0), (4, 4, 2, 2, 1, 1, 0), (10, 7, 6, 3, 3, 1, 0),
    (7, 5, 4, 2, 2, 4, 1),
]


@pytest.mark.rtlsim
@pytest.mark.parametrize("h,w,ch,pool,pe,eb,sg", MAXPOOL_CASES)
def test_maxpool(build, tmp_path, h, w, ch, pool, pe, eb, sg):
    exe = build("hwflow_maxpool", IFM_H=h, IFM_W=w, CH=ch, POOL=pool, PE=pe, ELEM_BITS=eb, SIGNED=sg)
    oh, ow = h // pool, w // pool
    n_img = max(8, 4000 // (h * w * ch // pe))
    rng = np.random.default_rng(h * 100 + w * 10 + ch)
    if eb == 1:
        # Biased towards 0 so that the OR over a window is not almost always 1.
        x = (rng.random((n_img, h, w, ch)) < 0.3).astype(np.int64)
    else:
        lo, hi = (-(1 << (eb - 1)), 1 << (eb - 1)) if sg else (0, 1 << eb)
        x = rng.integers(lo, hi, (n_img, h, w, ch))
    ref = maxpool_ref(x, pool)
    in_beats = rtlsim.pack_beats(x.reshape(n_img, -1), eb, pe)
    ib, ob = h * w * ch // pe, oh * ow * ch // pe
    for p_in, p_out in MODES + ((1.0, 0.3),):
        out, st = rtlsim.run_sim(exe, in_beats, n_img, ib, ob, out_width=pe * eb, cwd=tmp_path,
                                 seed=9, p_in=p_in, p_out=p_out)
        got = rtlsim.unpack_beats(out, eb, pe, ref.shape[1], signed=bool(sg))
        bad = np.argwhere(got != ref)
        assert bad.size == 0, f"p={p_in},{p_out}: first mismatch (image, element) {bad[0]}"
        if p_in == 1.0 and p_out == 1.0:
            cpi = steady_cycles_per_image(st)
            print(f"maxpool {h}x{w}x{ch} P={pool} PE={pe}: {cpi:.1f} cycles/image "
                  f"(H*W*CH/PE = {ib})")
            assert cpi == ib
            assert st["cycles"] <= n_img * ib + 2


# --------------------------------------------------------------------------- multi-bit MVAU

MVAU_MB_CASES = [
    # (MW, MH, SIMD, PE, IN_SIGNED, THRESH)
    pytest.param(27, 64, 3, 4, 1, 1, id="s8-thr-simd3"),
    pytest.param(27, 64, 3, 4, 0, 0, id="u8-dot-simd3"),
    pytest.param(27, 10, 27, 5, 1, 0, id="s8-dot-simd27"),
    pytest.param(27, 10, 27, 5, 0, 1, id="u8-thr-simd27"),
]


@pytest.mark.rtlsim
@pytest.mark.parametrize("mw,mh,simd,pe,signed,thresh", MVAU_MB_CASES)
def test_mvau_multibit(build, tmp_path, mw, mh, simd, pe, signed, thresh):
    ib = 8
    sf, nf = mw // simd, mh // pe
    widths = mvau_widths(mw, thresh, ib, signed)
    acc_w, tw, ob = widths["ACC_W"], widths["TW"], widths["OUT_BITS"]
    exe = build("hwflow_mvau", MW=mw, MH=mh, SIMD=simd, PE=pe, THRESH=thresh, IN_BITS=ib,
                IN_SIGNED=signed, **widths)
    rng = np.random.default_rng(mw * 100 + mh + signed)
    n_img = 150
    lo, hi = (-(1 << (ib - 1)), 1 << (ib - 1)) if signed else (0, 1 << ib)
    W = rng.integers(0, 2, (mh, mw))
    W[1:4] = W[0]                                 # neurons 0..3 share the extreme images
    X = rng.integers(lo, hi, (n_img, mw))
    X[0] = np.where(W[0] == 1, hi - 1, lo)        # largest possible acc for neurons 0..3
    X[1] = np.where(W[0] == 1, lo, hi - 1)        # smallest
    acc = X @ (2 * W - 1).T                       # weight bit 1 -> +1, 0 -> -1
    T = None
    ref = acc
    if thresh:
        amax, amin = int(acc[0, 0]), int(acc[1, 0])
        T = rng.integers(-300, 300, mh)           # near the mean: both outcomes
        T[0] = amax                               # fires for image 0 only
        T[1] = amax + 1                           # never fires
        T[2] = amin                               # always fires
        T[3] = amin + 1                           # all but image 1
        T[4] = -(1 << (tw - 1))                   # representable extremes
        T[-1] = (1 << (tw - 1)) - 1
        ref = (acc >= T[None, :]).astype(np.int64)
        assert ref[0, 0] == 1 and ref[1:, 0].sum() == 0 and ref[:, 1].sum() == 0
        assert ref[:, 2].all() and ref[1, 3] == 0 and ref[:, 4].all() and not ref[:, -1].any()
    write_mvau_mem(tmp_path, W, T, simd, pe, tw)
    in_beats = rtlsim.pack_beats(X, ib, simd)
    for p_in, p_out in MODES:
        out, st = rtlsim.run_sim(exe, in_beats, n_img, sf, nf, out_width=pe * ob, cwd=tmp_path,
                                 seed=3, p_in=p_in, p_out=p_out)
        got = rtlsim.unpack_beats(out, ob, pe, mh, signed=not thresh)
        bad = np.argwhere(got != ref)
        assert bad.size == 0, f"p={p_in},{p_out}: first mismatch (image, neuron) {bad[0]}"
        if p_in == 1.0 and p_out == 1.0:
            ii = np.diff(st["last_out"])
            assert np.all(ii == nf * sf), np.unique(ii)


# --------------------------------------------------------------------------- lint

LINT_CASES = [
    ("hwflow_swg.v", []),
    ("hwflow_swg.v", ["-GIFM_H=30", "-GIFM_W=30", "-GIFM_CH=64", "-GK=3", "-GSIMD=32", "-GELEM_BITS=1"]),
    ("hwflow_swg.v", ["-GIFM_H=3", "-GIFM_W=3", "-GIFM_CH=4", "-GK=3", "-GSIMD=4", "-GELEM_BITS=1"]),
    ("hwflow_swg.v", ["-GIFM_H=8", "-GIFM_W=8", "-GIFM_CH=2", "-GK=3", "-GSTRIDE=2", "-GSIMD=1",
                      "-GELEM_BITS=1"]),
    ("hwflow_swg.v", ["-GIFM_H=1", "-GIFM_W=1", "-GIFM_CH=1", "-GK=1", "-GSIMD=1", "-GELEM_BITS=1"]),
    *[("hwflow_swg.v", [f"-G{n}={v}" for n, v in zip(("IFM_H", "IFM_W", "IFM_CH", "K", "STRIDE", "SIMD", "ELEM_BITS"),
                                                     c.values[:7])]) for c in SWG_CASES[8:]],
    ("hwflow_swg.v", ["-GIFM_H=1", "-GIFM_W=40", "-GIFM_CH=8", "-GK=1", "-GSIMD=8", "-GELEM_BITS=2"]),
    ("hwflow_swg.v", ["-GIFM_H=40", "-GIFM_W=3", "-GIFM_CH=8", "-GK=3", "-GSTRIDE=3", "-GSIMD=2", "-GELEM_BITS=2"]),
    ("hwflow_maxpool.v", []),
    ("hwflow_maxpool.v", ["-GIFM_H=5", "-GIFM_W=5", "-GCH=4", "-GPOOL=2", "-GPE=2"]),
    ("hwflow_maxpool.v", ["-GIFM_H=10", "-GIFM_W=10", "-GCH=128", "-GPOOL=2", "-GPE=128"]),
    ("hwflow_maxpool.v", ["-GIFM_H=3", "-GIFM_W=3", "-GCH=8", "-GPOOL=3", "-GPE=8"]),
    *[("hwflow_maxpool.v", [f"-G{n}={v}" for n, v in zip(("IFM_H", "IFM_W", "CH", "POOL", "PE", "ELEM_BITS", "SIGNED"),
                                                         c)]) for c in MAXPOOL_CASES[1:]],
    ("hwflow_maxpool.v", ["-GIFM_H=2", "-GIFM_W=9", "-GCH=3", "-GPOOL=2", "-GPE=1", "-GELEM_BITS=8"]),
    ("hwflow_maxpool.v", ["-GIFM_H=9", "-GIFM_W=1", "-GCH=2", "-GPOOL=1", "-GPE=2", "-GELEM_BITS=1",
                          "-GSIGNED=1"]),
    ("hwflow_mvau.v", mvau_lint_params(MW=27, MH=64, SIMD=3, PE=4, IN_BITS=8)),
    ("hwflow_mvau.v", mvau_lint_params(MW=27, MH=10, SIMD=27, PE=5, IN_BITS=8, IN_SIGNED=0, THRESH=0)),
    # wider than needed is legal: the caller may round widths up
    ("hwflow_mvau.v", mvau_lint_params(MW=40, MH=8, SIMD=40, PE=2, IN_BITS=8, THRESH=0, ACC_W=20, OUT_BITS=20)),
    ("hwflow_mvau.v", mvau_lint_params(MW=8, MH=4, SIMD=1, PE=1, IN_BITS=4, ACC_W=8, TW=8)),
    # integer weights: ternary x 2-bit, 4-bit x bipolar, 8-bit x unsigned 8-bit (dot)
    ("hwflow_mvau.v", mvau_lint_params(MW=36, MH=8, SIMD=6, PE=4, IN_BITS=2, W_BITS=2)),
    ("hwflow_mvau.v", mvau_lint_params(MW=32, MH=6, SIMD=32, PE=3, IN_BITS=1, W_BITS=4)),
    ("hwflow_mvau.v", mvau_lint_params(MW=27, MH=4, SIMD=9, PE=2, IN_BITS=8, IN_SIGNED=0, W_BITS=8, THRESH=0)),
]


@pytest.mark.rtlsim
@pytest.mark.parametrize("src,params", LINT_CASES, ids=lambda v: v if isinstance(v, str) else None)
def test_lint(verilator, src, params):
    assert_lint_clean(verilator, *params, src)


@pytest.mark.rtlsim
@pytest.mark.parametrize("params,name", [
    (["-GSTRIDE=4"], "STRIDE_must_be_1_to_K"),
    (["-GIFM_CH=4", "-GSIMD=3"], "IFM_CH_not_multiple_of_SIMD"),
    (["-GIFM_H=2"], "K_must_be_1_to_min_IFM_H_IFM_W"),
    (["-GIFM_W=2"], "K_must_be_1_to_min_IFM_H_IFM_W"),
])
def test_swg_rejects_illegal_parameters(verilator, params, name):
    assert_lint_rejects(verilator, "hwflow_swg", params, name)


@pytest.mark.rtlsim
@pytest.mark.parametrize("params,name", [
    (["-GCH=6", "-GPE=4"], "CH_not_multiple_of_PE"),
    (["-GIFM_H=1", "-GIFM_W=8"], "POOL_must_be_1_to_min_IFM_H_IFM_W"),
    (["-GIFM_H=8", "-GIFM_W=1"], "POOL_must_be_1_to_min_IFM_H_IFM_W"),
])
def test_maxpool_rejects_illegal_parameters(verilator, params, name):
    assert_lint_rejects(verilator, "hwflow_maxpool", params, name)
