"""Benchmark: build a zoo model (default TFC-w1a1) for a board at its default folding.

Prints the build time (QONNX -> verified rtlsim, Yosys off) per step, its peak memory (the
build's process and its simulators), the simulator's speed, and the simulated hardware's
images/s and latency at the board clock.  Numbers, not asserts.

    python benchmarks/bench_build.py [--zoo tfc-w1a1 | --onnx MODEL.onnx] [--board Pynq-Z1] [--images N]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path


from hwflow import export, zoo
from hwflow.build import DEFAULT_MODEL, BuildOptions, random_hw_inputs, build
from hwflow.sim import RtlSim


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--onnx", help="a QONNX model to build instead of a zoo model")
    ap.add_argument("--zoo", default="tfc-w1a1", help="zoo model (random weights; the bundled trained "
                    "TFC-w1a1 for tfc-w1a1)")
    ap.add_argument("--board", default="Pynq-Z1")
    ap.add_argument("--images", type=int, default=20000, help="images for the simulator-speed run")
    ap.add_argument("--verify-images", type=int, default=1000, help="images for the build's own checks")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = Path(a.onnx) if a.onnx else (DEFAULT_MODEL if a.zoo == "tfc-w1a1" else None)
        if model is None or not model.exists():
            import torch
            torch.manual_seed(0)
            model = export.export_brevitas(zoo.build_model(a.zoo).eval(), zoo.input_shape(a.zoo),
                                           tmp / f"{a.zoo}.onnx")
        t0 = time.perf_counter()
        res = build(model, tmp / "build", BuildOptions(board=a.board, verify_images=a.verify_images, synth="none"), quiet=True)
        build_s = time.perf_counter() - t0
        net = res.report["network"]
        rtl = RtlSim(res.dataflow.layers, res.out / "rtl")
        first = res.dataflow.layers[0]
        bits = random_hw_inputs(first, (a.images, first.in_elems), 0)
        big = rtl.run(bits)
        clock = res.report["clock_mhz"]
        print(f"model                      {model}")
        print(f"board                      {a.board} at {clock:g} MHz, folding {res.report['folding']}")
        print(f"build (QONNX -> verified)  {build_s:.1f} s  (steps: "
              + ", ".join(f"{k.split(' ')[0]} {v:.1f}" for k, v in res.steps.items()) + ")")
        peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                   resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 2**20
        print(f"peak memory                {peak:.2f} GB (largest of this process and its simulators; "
              f"{a.verify_images} check images)")
        print(f"rtlsim speed               {big.sim_rate / 1e6:.2f} M cycles/s ({a.images} images, "
              f"{big.total_cycles} cycles, {big.seconds:.2f} s)")
        print(f"simulated throughput       {clock * 1e6 / big.cycles_per_image:,.0f} images/s "
              f"({big.cycles_per_image:.2f} cycles/image; estimate {net['est_cycles_per_image']})")
        print(f"simulated latency          {net['sim_latency_cycles']} cycles = {net['latency_us']:.2f} us")
        r = res.report["resources_estimate"]
        print(f"estimated resources        {r['lut']:,} LUT, {r['ff']:,} FF, {r['bram18']} BRAM18")


if __name__ == "__main__":
    main()
