"""Folding: choose PE and SIMD per layer for a throughput target, a board budget, or a file."""

from __future__ import annotations

import json
from math import ceil
from pathlib import Path

from hwflow.boards import Board
from hwflow.dataflow import Dataflow, divisors, tie_widths
from hwflow.errors import HwflowError

# Bits per cycle the host can stream into the accelerator (DMA through the PS's HP ports).
IO_BITS = {"ps7": 64, "ps8": 128}
# What a BRAM18 is worth in LUTs when trading one for the other (xc7z020: 53,200 LUT / 280 BRAM18).
LUT_PER_BRAM18 = 190


def fold_layer(layer, target_cycles: int, max_simd: int | None = None) -> None:
    """The cheapest (estimated LUTs) PE/SIMD whose cycles meet the target; the fastest allowed if none does."""
    best = None
    base = layer.simd_base or layer.mw
    simds = [d for d in divisors(layer.mw) if base % d == 0 and (max_simd is None or d <= max_simd)] or [1]
    for simd in simds:
        for pe in divisors(layer.mh):
            layer.pe, layer.simd = pe, simd
            if layer.cycles() > target_cycles:
                continue
            res = layer.resources()
            cost = (res["lut"] + LUT_PER_BRAM18 * res["bram18"], -simd)
            if best is None or cost < best[0]:
                best = (cost, pe, simd)
    layer.pe, layer.simd = (best[1], best[2]) if best else (layer.mh, simds[-1])


def fold_to_cycles(df: Dataflow, target_cycles: int, max_in_width: int | None = None) -> None:
    """Fold every layer to the target; `max_in_width` caps the first layer's input stream."""
    for layer in df.mvaus:
        cap = max_in_width // layer.in_bits if max_in_width and layer is df.layers[0] else None
        fold_layer(layer, max(1, int(target_cycles)), cap)
    tie_widths(df.layers)


def fold_to_fps(df: Dataflow, fps: float, clock_mhz: float) -> None:
    if fps <= 0:
        raise HwflowError(f"--target-fps must be positive, got {fps}")
    fold_to_cycles(df, int(clock_mhz * 1e6 // fps))


def fold_for_board(df: Dataflow, board: Board, lut_fraction: float = 0.5, bram_fraction: float = 0.8) -> int:
    """Default folding: as fast as the host link can feed it, within a share of the board's LUTs.

    The input stream is kept no wider than the link (so the DMA feeds it without a width
    converter).  Returns the target cycles per image that was chosen.
    """
    io_bits = IO_BITS[board.ps]
    first = df.layers[0]
    io_cycles = ceil(first.in_elems * first.in_elem_bits / io_bits)
    def fits() -> bool:
        res = df.resources()
        return res["lut"] <= lut_fraction * board.lut and res["bram18"] <= bram_fraction * board.bram18
    lo, hi = io_cycles, max(io_cycles, max(lay.vectors * lay.mw * lay.mh for lay in df.mvaus))
    while lo < hi:  # smallest target whose estimate fits the budget (resources fall as cycles rise)
        mid = (lo + hi) // 2
        fold_to_cycles(df, mid, io_bits)
        if fits():
            hi = mid
        else:
            lo = mid + 1
    fold_to_cycles(df, lo, io_bits)
    if df.cycles() > lo:  # the slowest layer could not reach the target: let the others use the slack
        lo = df.cycles()
        fold_to_cycles(df, lo, io_bits)
    return lo


def apply_folding_file(df: Dataflow, path: Path) -> None:
    """Folding from JSON: {"mvau0": {"pe": 4, "simd": 16, "ram_style": "block"}, ...}."""
    try:
        spec = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise HwflowError(f"folding file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HwflowError(f"folding file {path} is not valid JSON: {e}") from None
    spec = spec.get("layers", spec) if isinstance(spec, dict) else None
    if not isinstance(spec, dict):
        raise HwflowError(f"folding file {path}: expected an object mapping layer names to {{\"pe\", \"simd\"}}")
    by_name = {lay.name: lay for lay in df.mvaus}
    for name, cfg in spec.items():
        if name not in by_name:
            raise HwflowError(f"folding file {path}: unknown layer '{name}'; layers are {', '.join(by_name)}")
        layer = by_name[name]
        layer.pe = int(cfg.get("pe", layer.pe))
        layer.simd = int(cfg.get("simd", layer.simd))
        layer.ram_style = cfg.get("ram_style", layer.ram_style)
        if layer.ram_style not in ("auto", "block", "distributed"):
            raise HwflowError(f"folding file {path}: layer {name}: ram_style must be auto, block or distributed")
    tie_widths(df.layers)
    for layer in df.layers:
        layer.check_folding()


def folding_json(df: Dataflow) -> dict:
    return {lay.name: {"pe": lay.pe, "simd": lay.simd, "ram_style": lay.ram_style} for lay in df.mvaus}
