"""Benchmark: TFC-w1a1 on Pynq-Z1 at the default folding.

Prints the build time (QONNX -> verified rtlsim), the simulator's speed, and the
simulated hardware's images/s and latency at the board clock.  Numbers, not asserts.

    python benchmarks/bench_tfc.py [MODEL.onnx] [--images N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from hwflow import export, zoo
from hwflow.build import DEFAULT_MODEL, BuildOptions, build
from hwflow.sim import RtlSim


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?", help="QONNX model (default: the bundled TFC-w1a1, else a random one)")
    ap.add_argument("--board", default="Pynq-Z1")
    ap.add_argument("--images", type=int, default=20000, help="images for the simulator-speed run")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = Path(a.model) if a.model else DEFAULT_MODEL
        if not model.exists():
            import torch
            torch.manual_seed(0)
            model = export.export_brevitas(zoo.build_model("tfc-w1a1").eval(), zoo.input_shape("tfc-w1a1"),
                                           tmp / "tfc.onnx")
        t0 = time.perf_counter()
        res = build(model, tmp / "build", BuildOptions(board=a.board), quiet=True)
        build_s = time.perf_counter() - t0
        net = res.report["network"]
        rtl = RtlSim(res.dataflow.layers, res.out / "rtl")
        bits = np.random.default_rng(0).integers(0, 2, (a.images, res.dataflow.layers[0].mw))
        big = rtl.run(bits)
        clock = res.report["clock_mhz"]
        print(f"model                      {model}")
        print(f"board                      {a.board} at {clock:g} MHz, folding {res.report['folding']}")
        print(f"build (QONNX -> verified)  {build_s:.1f} s  (steps: "
              + ", ".join(f"{k.split(' ')[0]} {v:.1f}" for k, v in res.steps.items()) + ")")
        print(f"rtlsim speed               {big.sim_rate / 1e6:.2f} M cycles/s ({a.images} images, "
              f"{big.total_cycles} cycles, {big.seconds:.2f} s)")
        print(f"simulated throughput       {clock * 1e6 / big.cycles_per_image:,.0f} images/s "
              f"({big.cycles_per_image:.2f} cycles/image; estimate {net['est_cycles_per_image']})")
        print(f"simulated latency          {net['sim_latency_cycles']} cycles = {net['latency_us']:.2f} us")
        r = res.report["resources_estimate"]
        print(f"estimated resources        {r['lut']:,} LUT, {r['ff']:,} FF, {r['bram18']} BRAM18")


if __name__ == "__main__":
    main()
