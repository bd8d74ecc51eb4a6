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


def fold_for_board(df: Dataflow, board: Board, lut_fraction: float = 0.5,
                   bram_fraction: float = 0.8) -> tuple[int, str]:
    """Default folding: the fastest the host link can feed whose estimate keeps within a share of
    the board (half its LUTs, 80% of its BRAM), each layer's weights in block RAM or in LUTs to
    fit, as `--target-fps max` does with its larger budget.  Returns the target cycles per image
    and what stops a faster folding.

    The input stream is kept no wider than the link (so the DMA feeds it without a width
    converter).  Placing weights matters: CNV-W1A1 at 7,086 images/s took 30,432 LUTs by Yosys
    with every ROM in LUTs, 22,296 with idle BRAM holding the 72-word ROMs of its two big
    layers.  When no folding fits the share, the cheapest one is taken and the build's fit check
    reports it.
    """
    try:
        return fold_max(df, board, lut_fraction, bram_fraction)
    except HwflowError:
        slowest = max(lay.max_cycles() for lay in df.layers)
        fold_to_cycles(df, slowest, _link(df, board)[0])
        return max(slowest, df.cycles()), f"the budget: no folding fits {lut_fraction:.0%} of the LUTs"


def _link(df: Dataflow, board: Board) -> tuple[int, int]:
    """The host link's bits per cycle, and the cycles it needs to bring in one image."""
    io_bits, first = IO_BITS[board.ps], df.net.first
    return io_bits, ceil(first.in_elems * first.in_elem_bits / io_bits)


def fold_max(df: Dataflow, board: Board, lut_fraction: float = 0.85,
             bram_fraction: float = 0.9) -> tuple[int, str]:
    """`--target-fps max`: the fastest folding whose estimate fits the budget (shares of the board's
    LUTs and BRAM).  Returns its target cycles per image, and what stops the next faster one.

    Every cycle count a layer can reach is a candidate, tried fastest first.  Resources need not
    fall as the target rises (a layer trades BRAM for LUTs, LUTs alone can go up), so no bisection.
    At each target every layer takes its cheapest folding; then, while BRAM is over budget, the
    layers whose weights move into LUTs at the least LUT cost per BRAM18 saved do so (and the
    other way round while LUTs are over).
    """
    if not (0 < lut_fraction <= 1 and 0 < bram_fraction <= 1):
        raise HwflowError(f"resource budget must be shares of the board in (0, 1], got LUT {lut_fraction:g}, "
                          f"BRAM {bram_fraction:g}")
    io_bits, io_cycles = _link(df, board)
    first = df.net.first
    layers = [lay for lay in df.layers if lay.fold_choices()]
    tables = [_choice_table(lay, io_bits if lay is first else None) for lay in layers]
    caps = {"lut": lut_fraction * board.lut, "bram18": bram_fraction * board.bram18}
    targets = sorted({row[0] for t in tables for row in t if row[0] >= io_cycles} | {io_cycles})
    limit = (f"the host link: {io_bits} bits per cycle bring an image in {io_cycles:,} cycles"
             if any(row[0] < io_cycles for t in tables for row in t) else "every layer is at its fastest folding")
    for target in targets:
        options = [_per_style(t, target) for t in tables]
        slow = [(min(row[0] for row in t), lay.name) for lay, t, o in zip(layers, tables, options) if not o]
        if slow:
            cycles, name = max(slow)
            capped = name == first.name and min(_fold_cycles(first)) < cycles
            held = f" with its input no wider than the host link ({io_bits} bits)" if capped else ""
            limit = f"{name}: its fastest folding{held} takes {cycles:,} cycles per image"
            continue
        # the streams' FIFOs and width converters (set by the layers' widths) share the budget
        for lay, o in zip(layers, options):
            lay.set_folding(min(o.values(), key=_cost)[3])
        df.net.tie_widths()
        picks, total = _place_weights(options, caps, df.net.stream_resources())
        if picks is not None:
            for lay, row in zip(layers, picks):
                lay.set_folding(row[3])
            df.net.tie_widths()
            total = df.resources()
            if all(total[k] <= caps[k] for k in caps):
                return max(target, df.cycles()), limit
        limit = (f"at {target:,} cycles per image the estimate needs {total['lut']:,.0f} LUT and "
                 f"{total['bram18']:,.0f} BRAM18 (budget {caps['lut']:,.0f} and {caps['bram18']:,.0f})")
    raise HwflowError(f"no folding of this network fits {lut_fraction:.1%} of {board.name}'s LUTs and "
                      f"{bram_fraction:.1%} of its BRAM by the estimate: raise the budget or pick a bigger board")


def _fold_cycles(layer) -> list[int]:
    """The cycles per image of each folding the layer allows (its folding is kept)."""
    keep = layer.folding()
    cycles = [(layer.set_folding(c), layer.cycles())[1] for c in layer.fold_choices()]
    layer.set_folding(keep)
    return cycles


def _cost(row) -> tuple:
    return (row[2]["lut"] + LUT_PER_BRAM18 * row[2]["bram18"], *row[1])


def _per_style(table: list[tuple], target: int) -> dict:
    """A layer's cheapest row meeting the target, per place for its weights (empty: none meets it)."""
    best: dict = {}
    for row in table:
        style = row[3].get("ram_style")
        if row[0] <= target and (style not in best or _cost(row) < _cost(best[style])):
            best[style] = row
    return best


def _place_weights(options: list[dict], caps: dict, base: dict) -> tuple[list[tuple] | None, dict]:
    """One row per layer within the caps (with `base`, what the streams take, on top): the cheapest
    of each, then weights moved between BRAM and LUTs where a resource is over, cheapest moves
    first.  Returns the rows (None when they cannot fit) and their totals."""
    picks = [min(o.values(), key=_cost) for o in options]
    total = lambda k: base[k] + sum(r[2][k] for r in picks)  # noqa: E731
    for over, to, other in (("bram18", "distributed", "lut"), ("lut", "block", "bram18")):
        if total(over) <= caps[over]:
            continue
        moves = []  # (cost in the other resource per unit saved, layer)
        for i, (o, p) in enumerate(zip(options, picks)):
            if to in o and o[to][2][over] < p[2][over]:
                saved = p[2][over] - o[to][2][over]
                moves.append(((o[to][2][other] - p[2][other]) / saved, i))
        for _, i in sorted(moves):
            if total(over) <= caps[over]:
                break
            picks[i] = options[i][to]
    if not all(total(k) <= caps[k] for k in caps):
        return None, {k: total(k) for k in caps}
    # Within the budget, idle block RAM takes weights off the LUTs while that lowers the larger of
    # the two shares (CNV-W1A1's 72-word ROMs: 8,136 LUTs by Yosys for 87 of the board's 280 BRAM18).
    share = lambda: max(total(k) / caps[k] for k in caps)  # noqa: E731
    moves = []  # (BRAM18 per LUT saved, layer): the best trades first
    for i, (o, p) in enumerate(zip(options, picks)):
        if "block" in o and o["block"][2]["lut"] < p[2]["lut"]:
            moves.append(((o["block"][2]["bram18"] - p[2]["bram18"]) / (p[2]["lut"] - o["block"][2]["lut"]), i))
    for _, i in sorted(moves):
        before, keep = share(), picks[i]
        picks[i] = options[i]["block"]
        if share() >= before or total("bram18") > caps["bram18"]:
            picks[i] = keep
    return picks, {k: total(k) for k in caps}


def _placed_choices(layer, max_in_width: int | None) -> list[dict]:
    """The layer's foldings, each with its weights in block RAM and in LUTs where it has weights."""
    choices = layer.fold_choices(max_in_width)
    if "ram_style" in layer.folding():
        return [{**c, "ram_style": style} for c in choices for style in ("block", "distributed")]
    return choices


def _choice_table(layer, max_in_width: int | None) -> list[tuple]:
    """(cycles, tie-break key, resources, choice) of each folding choice, weights placed either
    way; ties break as in fold_layer (widest input, then the first choice)."""
    keep = layer.folding()
    rows = []
    for i, choice in enumerate(_placed_choices(layer, max_in_width)):
        layer.set_folding(choice)
        rows.append((layer.cycles(), (-layer.in_epb, i), layer.resources(), choice))
    layer.set_folding(keep)
    return rows


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
