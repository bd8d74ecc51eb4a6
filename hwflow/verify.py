"""The build's bit-exact checks of the RTL against the dataflow model, in bounded memory.

A conv net's intermediate streams are large (a window generator repeats each pixel up to
K*K times: CNV's second window stream is 451,584 elements per image), so no stream is
ever held unpacked for a whole batch.  Images go through the numpy model in chunks; each
layer's input beats and expected output beats are appended, packed, to files; the
simulators read and write files; outputs are compared beat for beat.  Memory then grows
with the chunk, not with the number of check images.

Simulations are independent processes and run in parallel, one per core.
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwflow import rtlsim
from hwflow.dataflow import walk_chunks
from hwflow.errors import HwflowError
from hwflow.streams import StreamGraph

# Simulated cycles one per-layer check may spend (at the layer's own rate).  A layer whose
# image takes longer is checked on fewer images, never fewer than MIN_LAYER_IMAGES; the
# whole-network check always runs on every check image.
LAYER_CHECK_CYCLES = 4_000_000
MIN_LAYER_IMAGES = 64
_COMPARE_BEATS = 1 << 18  # beats compared per block


@dataclass
class LayerCheck:
    name: str
    images: int                  # images this layer was simulated on (each run)
    cycles_per_image: float      # full-speed initiation interval from rtlsim


def layer_images(layer, n: int, budget: int = LAYER_CHECK_CYCLES) -> int:
    """Images to simulate `layer` alone on: all n while that fits the cycle budget."""
    return min(n, max(MIN_LAYER_IMAGES, budget // max(1, layer.cycles())))


def default_jobs() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class _StreamFile:
    """Packed beats of one stream, appended chunk by chunk."""

    def __init__(self, path: Path, elem_bits: int, epb: int):
        self.path, self.elem_bits, self.epb = path, elem_bits, epb
        self.f = open(path, "wb")

    def append(self, values: np.ndarray) -> None:
        if len(values):
            rtlsim.pack_beats(values, self.elem_bits, self.epb).astype("<u4").tofile(self.f)

    def close(self) -> None:
        self.f.close()


def check_layers(net, rtl_dir: Path, x: np.ndarray, seed: int, *,
                 jobs: int | None = None) -> tuple[list[LayerCheck], np.ndarray | None]:
    """Simulate every layer of a stream graph (or chain) alone on its own inputs (the numpy
    model's stream into it), with random stalls and at full speed; name the first layer
    whose output differs.  Returns the checks and, when the numpy model ran on all of x
    (it does while some layer is checked on every image), the network's outputs for x."""
    from hwflow.codegen_rtl import write_rtl
    from hwflow.sim import RtlSim
    net = StreamGraph.of(net)
    rtl_dir = Path(rtl_dir)
    # layers with several streams on a side (fan-out, add, concat) are checked in the whole network
    layers = [lay for lay in net.layers if len(lay.in_types) == 1 and len(lay.out_types) == 1]
    jobs = jobs or default_jobs()
    counts = [layer_images(layer, len(x)) for layer in layers]
    tops = [f"hwflow_{layer.name}" for layer in layers]
    sources = [write_rtl([layer], rtl_dir, top) for layer, top in zip(layers, tops)]
    with tempfile.TemporaryDirectory(prefix="hwflow_check_") as td, ThreadPoolExecutor(jobs) as pool:
        # Verilator builds run while numpy computes the expected streams.
        builds = [pool.submit(RtlSim, [layer], rtl_dir, top, write=False, sources=src, jobs=1)
                  for layer, top, src in zip(layers, tops, sources)]
        files, net_out = _expected_streams(net, layers, x, counts, Path(td))
        sims = [b.result() for b in builds]
        runs = []
        for i, (sim, layer, n) in enumerate(zip(sims, layers, counts)):
            for stalled in (True, False):
                out = Path(td) / f"{i}_{'stalled' if stalled else 'full'}.out"
                runs.append((i, stalled, out, pool.submit(
                    rtlsim.run_sim_files, sim.exe, files[i][0], out, n, layer.in_beats, layer.out_beats,
                    seed=seed, p_in=0.7 if stalled else 1.0, p_out=0.6 if stalled else 1.0, cwd=rtl_dir)))
        results, errors = {}, {}
        for i, stalled, out, fut in runs:
            try:
                stats = fut.result()
                bad = _first_difference(out, files[i][1], layers[i])
                if bad:
                    raise HwflowError(f"rtlsim of layer {layers[i].name}{' under random stalls' if stalled else ''} "
                                      f"differs from the dataflow model, {bad}")
                if not stalled:
                    results[i] = stats
            except HwflowError as e:
                errors.setdefault(i, e)
        if errors:
            raise errors[min(errors)]  # the first layer that disagrees explains the rest
    from hwflow.sim import initiation_interval
    checks = {layer.name: LayerCheck(layer.name, n, initiation_interval(results[i]["last_out"]))
              for i, (layer, n) in enumerate(zip(layers, counts))}
    return [checks.get(layer.name) for layer in net.layers], net_out


def _expected_streams(net, layers: list, x: np.ndarray, counts: list[int],
                      td: Path) -> tuple[list[tuple[Path, Path]], np.ndarray | None]:
    """One pass of the numpy model over x in chunks: per checked layer, its input beats and
    its expected output beats (first counts[i] images) as files; and the network's outputs
    when the pass covered all of x (None otherwise)."""
    net = StreamGraph.of(net)
    last = net.last if len(net.outputs) == 1 and net.outs(net.last)[0] == net.outputs[0] else None
    net_out = []
    index = {layer.name: i for i, layer in enumerate(layers)}
    ins = [_StreamFile(td / f"{i}.in", la.in_elem_bits, la.in_epb) for i, la in enumerate(layers)]
    want = [_StreamFile(td / f"{i}.want", la.out_elem_bits, la.out_epb) for i, la in enumerate(layers)]
    for s, layer, y_in, y_out in walk_chunks(net, x, max(counts)):
        if layer is last:
            net_out.append(y_out)
        if layer.name not in index:
            continue
        i = index[layer.name]
        keep = max(0, min(len(y_in), counts[i] - s))
        ins[i].append(y_in[:keep])
        want[i].append(y_out[:keep])
    for f in ins + want:
        f.close()
    covered = last is not None and max(counts) == len(x) and len(x) > 0
    return [(a.path, b.path) for a, b in zip(ins, want)], np.concatenate(net_out) if covered else None


def _first_difference(got_path: Path, want_path: Path, layer) -> str | None:
    """None if the two beat files are equal, else where they first differ (image, element)."""
    words = -(-layer.out_width // 32)
    got = np.memmap(got_path, dtype="<u4", mode="r").reshape(-1, words)
    want = np.memmap(want_path, dtype="<u4", mode="r").reshape(-1, words)
    if got.shape != want.shape:
        return f"{got.shape[0]} output beats instead of {want.shape[0]}"
    for s in range(0, len(want), _COMPARE_BEATS):
        diff = np.flatnonzero(np.any(got[s:s + _COMPARE_BEATS] != want[s:s + _COMPARE_BEATS], axis=1))
        if diff.size:
            img = (s + int(diff[0])) // layer.out_beats
            rows = slice(img * layer.out_beats, (img + 1) * layer.out_beats)
            a, b = (rtlsim.unpack_beats(np.array(v[rows]), layer.out_elem_bits, layer.out_epb, layer.out_elems,
                                        signed=layer.out_signed)[0] for v in (got, want))
            e = int(np.flatnonzero(a != b)[0])
            return f"first at image {img}, output {e}: {a[e]} vs {b[e]}"
    return None


def first_mismatch(got: np.ndarray, want: np.ndarray) -> str:
    """Where two [images, elements] arrays first differ, as the checks report it."""
    img, e = np.argwhere(got != want)[0]
    return f"first at image {img}, output {e}: {got[img, e]} vs {want[img, e]}"


def check_network(sim, x: np.ndarray, want: np.ndarray, seed: int):
    """The whole network (a built RtlSim) on every check image, under random stalls and at
    full speed (in parallel); returns the full-speed SimResult (its cycles are the network's)."""
    with ThreadPoolExecutor(2) as pool:
        stalled = pool.submit(sim.run, x, seed=seed, p_in=0.7, p_out=0.6)
        full = pool.submit(sim.run, x)
        for res, what in ((stalled.result(), "the whole network under random stalls"),
                          (full.result(), "the whole network")):
            if not np.array_equal(res.outputs, want):
                raise HwflowError(f"rtlsim of {what} differs from the dataflow model, "
                                  f"{first_mismatch(res.outputs, want)}")
    return full.result()
