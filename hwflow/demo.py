"""`make demo`'s last step: a trained model's test set through its RTL, with accuracy and speed.

Usage: python -m hwflow.demo RUN_DIR BUILD_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from hwflow.errors import HwflowError
from hwflow.sim import simulate_build


def run(run_dir: Path, build_dir: Path) -> dict:
    try:
        x = np.load(run_dir / "test_x.npy")
        y = np.load(run_dir / "test_y.npy")
        metrics = json.loads((run_dir / "metrics.json").read_text())
    except FileNotFoundError as e:
        raise HwflowError(f"{e.filename} is missing: run `python -m hwflow train --out {run_dir}` first") from None
    out, info = simulate_build(build_dir, x)
    acc = float(np.mean(np.argmax(out, axis=1) == y))
    print(f"test images:          {len(x)}")
    print(f"accuracy (torch):     {metrics['test_accuracy']:.2%}")
    print(f"accuracy (rtlsim):    {acc:.2%}")
    print(f"rtlsim throughput:    {info['images_per_s']:,.0f} images/s at {info['clock_mhz']:g} MHz "
          f"({info['cycles_per_image']:.1f} cycles/image)")
    print(f"rtlsim latency:       {info['latency_cycles']} cycles = {info['latency_cycles'] / info['clock_mhz']:.2f} us")
    return {"accuracy_rtlsim": acc, **info}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m hwflow.demo RUN_DIR BUILD_DIR", file=sys.stderr)
        return 2
    try:
        run(Path(argv[0]), Path(argv[1]))
    except HwflowError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
