"""Folding: choose PE and SIMD per layer for a throughput target, a board budget, or a file."""

from __future__ import annotations

import json
from math import ceil
from pathlib import Path

from hwflow.boards import Board
from hwflow.dataflow import Dataflow
from hwflow.errors import HwflowError

# Bits per cycle the host can stream into the accelerator (DMA through the PS's HP ports).
IO_BITS = {"ps7": 64, "ps8": 128}
# What a BRAM18 is worth in LUTs when trading one for the other (xc7z020: 53,200 LUT / 280 BRAM18).
LUT_PER_BRAM18 = 190


def fold_layer(layer, target_cycles: int, max_in_width: int | None = None) -> None:
    """The cheapest (estimated LUTs, BRAM weighed in) folding whose cycles meet the target;
    the fastest allowed if none does."""
    best, fastest = None, None
    for choice in layer.fold_choices(max_in_width):
        layer.set_folding(choice)
        cycles = layer.cycles()
        if fastest is None or cycles < fastest[0]:
            fastest = (cycles, choice)
        if cycles > target_cycles:
            continue
        res = layer.resources()
        # ties go to the widest input (fewer, wider beats)
        cost = (res["lut"] + LUT_PER_BRAM18 * res["bram18"], -layer.in_epb)
        if best is None or cost < best[0]:
            best = (cost, choice)
    if fastest is not None:
        layer.set_folding(best[1] if best else fastest[1])


def fold_to_cycles(df: Dataflow, target_cycles: int, max_in_width: int | None = None) -> None:
    """Fold every layer to the target; `max_in_width` caps the network's input stream."""
    first = df.net.first
    for layer in df.layers:
        fold_layer(layer, max(1, int(target_cycles)), max_in_width if layer is first else None)
    df.net.tie_widths()


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
    first = df.net.first
    io_cycles = ceil(first.in_elems * first.in_elem_bits / io_bits)
    def fits() -> bool:
        res = df.resources()
        return res["lut"] <= lut_fraction * board.lut and res["bram18"] <= bram_fraction * board.bram18
    lo, hi = io_cycles, max(io_cycles, max(lay.max_cycles() for lay in df.layers))
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
    by_name = {lay.name: lay for lay in df.layers if lay.fold_choices()}
    for name, cfg in spec.items():
        if name not in by_name:
            raise HwflowError(f"folding file {path}: unknown layer '{name}'; layers are {', '.join(by_name)}")
        if not isinstance(cfg, dict):
            raise HwflowError(f"folding file {path}: layer {name}: expected an object like {{\"pe\": 4, \"simd\": 16}}")
        try:
            by_name[name].set_folding(cfg)
        except HwflowError as e:
            raise HwflowError(f"folding file {path}: {e}") from None
    df.net.tie_widths()
    for layer in df.layers:
        layer.check_folding()


def folding_json(df: Dataflow) -> dict:
    """The folding of every layer that has its own, in the format apply_folding_file reads."""
    return {lay.name: lay.folding() for lay in df.layers if lay.folding()}
