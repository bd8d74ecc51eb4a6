"""Simulating the generated hardware: RTL in Verilator on numpy arrays in, numpy arrays out.

The low-level Verilator driving lives in hwflow.rtlsim; this module knows about
layers: how many beats an image takes, how to pack bits and unpack integers,
and how to turn the harness's timestamps into cycles per image and latency.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwflow import rtlsim
from hwflow.codegen_rtl import write_rtl
from hwflow.streams import StreamGraph


@dataclass
class SimResult:
    outputs: np.ndarray          # [N, MH_last] integers as the hardware produced them
    cycles_per_image: float      # steady-state initiation interval
    latency_cycles: int          # first input beat to last output beat of the first image
    total_cycles: int
    seconds: float               # wall time of the simulation run (not the compile)

    @property
    def sim_rate(self) -> float:
        """Simulated cycles per wall-clock second."""
        return self.total_cycles / self.seconds if self.seconds > 0 else 0.0


class RtlSim:
    """A compiled Verilator model of a stream graph (one layer, a chain or a whole network)."""

    def __init__(self, layers, rtl_dir: Path, top: str = "hwflow_top",
                 obj_dir: Path | None = None, write: bool = True, sources: list[str] | None = None,
                 jobs: int = 2):
        """write=False uses the RTL already in rtl_dir: `sources`, or every hwflow_*.v there."""
        self.net, self.rtl_dir, self.top = StreamGraph.of(layers), Path(rtl_dir), top
        self.layers = self.net.layers
        if write:
            self.sources = write_rtl(self.net, self.rtl_dir, top)
        else:
            self.sources = sources or [p.name for p in sorted(self.rtl_dir.glob("hwflow_*.v"))]
        self.obj_dir = Path(obj_dir) if obj_dir else self.rtl_dir / f"obj_{top}"
        self.exe = rtlsim.build_sim(self.rtl_dir, top, self.sources, self.obj_dir, jobs=jobs)

    def run(self, bits: np.ndarray, *, seed: int = 0, p_in: float = 1.0, p_out: float = 1.0) -> SimResult:
        first, last = self.net.first, self.net.last
        bits = np.asarray(bits, dtype=np.int64)
        n = len(bits)
        beats = rtlsim.pack_beats(bits, first.in_elem_bits, first.in_epb)
        t0 = time.perf_counter()
        out, stats = rtlsim.run_sim(
            self.exe, beats, n, first.in_beats, last.out_beats, out_width=last.out_width, seed=seed,
            p_in=p_in, p_out=p_out, cwd=self.rtl_dir,
            fifo_names=[f"{s} ({prod.name} -> {cons.name}{', a join: its FIFO is too shallow' if len(cons.in_types) > 1 else ''})"
                        for s, prod, cons in self.net.edges()])
        seconds = time.perf_counter() - t0
        ints = rtlsim.unpack_beats(out, last.out_elem_bits, last.out_epb, last.out_elems, signed=last.out_signed)
        return SimResult(ints, initiation_interval(stats["last_out"]),
                         int(stats["last_out"][0] - stats["first_in"][0]) + 1,
                         int(stats["cycles"]), seconds)


def initiation_interval(last_out) -> float:
    """Average spacing of output completions over the second half of the batch (steady state)."""
    last_out = np.asarray(last_out, dtype=np.int64)
    n = len(last_out)
    if n < 2:
        return float("nan")
    start = n // 2 if n >= 4 else 0
    return float(last_out[-1] - last_out[start]) / (n - 1 - start)


def simulate_build(build_dir: Path, x: np.ndarray, *, raw: bool = False, stalls: bool = False,
                   mode: str = "rtlsim"):
    """Run model inputs through a build's RTL: host head, Verilator, host tail.

    Returns (outputs, info) where outputs are the model's outputs (or the
    hardware's integers with raw=True).
    """
    import json

    from hwflow.dataflow import Dataflow
    from hwflow.errors import HwflowError

    build_dir = Path(build_dir)
    if not (build_dir / "report.json").exists() or not (build_dir / "rtl").is_dir():
        raise HwflowError(f"{build_dir} is not a finished hwflow build (no report.json and rtl/): "
                          "run `python -m hwflow build` first")
    df = Dataflow.load(build_dir)
    report = json.loads((build_dir / "report.json").read_text())
    if not report.get("finished"):
        raise HwflowError(f"{build_dir} is an unfinished or failed hwflow build: run `python -m hwflow build` again")
    x = np.asarray(x)
    given = tuple(x.shape)
    if x.ndim == len(df.input_shape):
        x = x[None]
    if tuple(x.shape[1:]) != tuple(df.input_shape) or len(x) == 0:
        raise HwflowError(f"input has shape {given}; this build takes "
                          f"[N, {', '.join(map(str, df.input_shape))}] (N >= 1 images)")
    clock = report["clock_mhz"]
    if mode == "cppsim":  # the HLS C++ compiled with g++: outputs only, no cycles
        from hwflow.cppsim import CppSim
        outputs = CppSim(df.net, build_dir / "hls").run(df.run_head(x))
        info = {"cycles_per_image": float("nan"), "latency_cycles": 0, "clock_mhz": clock, "images_per_s": float("nan")}
    elif mode == "rtlsim":
        rtl = RtlSim(df.net, build_dir / "rtl", write=False)
        p = 0.7 if stalls else 1.0
        res = rtl.run(df.run_head(x), seed=1, p_in=p, p_out=p)
        outputs = res.outputs
        info = {"cycles_per_image": res.cycles_per_image, "latency_cycles": res.latency_cycles, "clock_mhz": clock,
                "images_per_s": clock * 1e6 / res.cycles_per_image if len(x) > 1 else float("nan")}
    else:
        raise HwflowError(f"--mode must be rtlsim or cppsim, not '{mode}'")
    return (outputs if raw else df.run_tail(outputs)), info
