"""Hardware layer kinds, one module each, and the registry that maps kind names to classes.

Adding a kind: a module here with a `Layer` subclass (see base.py for what it answers),
its RTL core under hwflow/rtl and HLS kernel under hwflow/hls, its tests, and one line
in KINDS below.  Nothing else in the flow names layer kinds.
"""

from __future__ import annotations

from hwflow.errors import HwflowError
from hwflow.layers.base import Layer, StreamType, clog2, divisors
from hwflow.layers.graph import AddStreams, Concat, Dup
from hwflow.layers.labelselect import LabelSelect
from hwflow.layers.maxpool import MaxPool
from hwflow.layers.mvau import MVAU
from hwflow.layers.pad import Pad
from hwflow.layers.pool import Pool
from hwflow.layers.swg import SWG
from hwflow.layers.threshold import Threshold

KINDS: dict[str, type[Layer]] = {cls.kind: cls for cls in (MVAU, SWG, MaxPool, Pad, Pool, LabelSelect, Threshold, Dup,
                                                       AddStreams, Concat)}


def layer_from_json(d: dict, arrays: dict) -> Layer:
    try:
        cls = KINDS[d["kind"]]
    except KeyError:
        raise HwflowError(f"unknown layer kind {d.get('kind')!r} in a saved dataflow; known: {', '.join(KINDS)}") \
            from None
    return cls.from_json(d, arrays)


def all_rtl_cores() -> tuple[str, ...]:
    """Every core file: the layer kinds' and the stitcher's (FIFO, width converter)."""
    cores = [c for cls in KINDS.values() for c in cls.rtl_cores]
    return tuple(dict.fromkeys([*cores, "hwflow_fifo.v", "hwflow_dwc.v"]))


__all__ = ["AddStreams", "Concat", "Dup", "KINDS", "LabelSelect", "Threshold", "Layer", "MVAU", "MaxPool", "Pad", "Pool", "SWG", "StreamType", "all_rtl_cores", "clog2", "divisors",
           "layer_from_json"]
