"""What every hardware layer is: typed streams in and out, and the questions the flow asks it.

A stream type is an element DataType (qonnx), a number of elements per image and a
number of elements per beat (the folding).  Streams hold the hardware's encoding of
each element: a BIPOLAR element is one bit (1 means +1), a k-bit integer is two's
complement when its DataType is signed.  Stitching, FIFO and width-converter insertion,
the simulators, the reports and the driver only ask layers these questions; none of
them switches on a layer's kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil, log2
from pathlib import Path
from typing import ClassVar

import numpy as np
from qonnx.core.datatype import DataType

from hwflow.errors import HwflowError

BIPOLAR = DataType["BIPOLAR"]


def clog2(n: int) -> int:
    return max(1, ceil(log2(n))) if n > 1 else 1


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def int_type(bits: int, signed: bool) -> DataType:
    """The DataType of a k-bit integer element (1 bit unsigned is a plain BINARY bit)."""
    if bits == 1 and not signed:
        return DataType["BINARY"]
    return DataType[f"{'INT' if signed else 'UINT'}{bits}"]


def range_type(lo: int, hi: int) -> DataType:
    """The narrowest integer DataType holding every value in [lo, hi]."""
    if lo >= 0:
        return int_type(max(1, int(hi).bit_length()), False)
    bits = max((-lo - 1).bit_length(), int(hi).bit_length()) + 1
    return int_type(bits, True)


def follow_width(ch: int, producer: "Layer | None", consumer: "Layer | None") -> int:
    """Elements per beat for a layer without a folding of its own, over `ch` channels: a
    folded consumer's (so that the consumer is not starved), else its producer's (no width
    converter), else its consumer's, else 1; the first that divides ch."""
    cands = []
    if consumer is not None and consumer.fold_choices():
        cands.append(consumer.in_epb)
    if producer is not None:
        cands.append(producer.out_epb)
    if consumer is not None:
        cands.append(consumer.in_epb)
    return next((w for w in cands if ch % w == 0), 1)


def signed_encoding(dtype: DataType) -> bool:
    """Whether the stream stores the element in two's complement (BIPOLAR is a bit: no)."""
    return dtype != BIPOLAR and dtype.signed()


@dataclass(frozen=True)
class StreamType:
    """Elements of one image on a stream: their type, how many, how many per beat."""

    dtype: DataType
    elems: int
    epb: int

    @property
    def elem_bits(self) -> int:
        return self.dtype.bitwidth()

    @property
    def signed(self) -> bool:
        return signed_encoding(self.dtype)

    @property
    def width(self) -> int:
        return self.epb * self.elem_bits

    @property
    def beats(self) -> int:
        return self.elems // self.epb

    def to_json(self) -> dict:
        return {"dtype": self.dtype.name, "elems": self.elems, "elems_per_beat": self.epb}


class Layer:
    """Base of every hardware layer kind (one module per kind under hwflow.layers).

    A kind subclasses this (as a dataclass with a `name` field), sets `kind`, the RTL
    cores and HLS headers it needs, and answers:
      - semantics:   in_type, out_type, execute(x)
      - folding:     fold_choices(), folding(), set_folding(), check_folding(), tie()
      - models:      cycles(), max_cycles(), resources()
      - persistence: to_json(), arrays(), from_json()
      - hardware:    rtl_instance(), write_rtl_data(), fifo_depth(), hls_code()
      - reports:     describe()
    and registers itself with `@register` in hwflow.layers.
    """

    kind: ClassVar[str] = "?"
    rtl_cores: ClassVar[tuple[str, ...]] = ()
    hls_headers: ClassVar[tuple[str, ...]] = ()
    name: str

    # --- streams ------------------------------------------------------------------
    @property
    def in_type(self) -> StreamType:
        raise NotImplementedError

    @property
    def out_type(self) -> StreamType:
        raise NotImplementedError

    @property
    def in_types(self) -> list[StreamType]:
        """Every input stream's type, in port order (one for most kinds)."""
        return [self.in_type]

    @property
    def out_types(self) -> list[StreamType]:
        return [self.out_type]

    # shorthands the stitcher, the simulators and the driver use
    in_width = property(lambda self: self.in_type.width)
    out_width = property(lambda self: self.out_type.width)
    in_beats = property(lambda self: self.in_type.beats)
    out_beats = property(lambda self: self.out_type.beats)
    in_elems = property(lambda self: self.in_type.elems)
    out_elems = property(lambda self: self.out_type.elems)
    in_epb = property(lambda self: self.in_type.epb)
    out_epb = property(lambda self: self.out_type.epb)
    in_elem_bits = property(lambda self: self.in_type.elem_bits)
    out_elem_bits = property(lambda self: self.out_type.elem_bits)
    in_signed = property(lambda self: self.in_type.signed)
    out_signed = property(lambda self: self.out_type.signed)

    # --- semantics ----------------------------------------------------------------
    def execute(self, x: np.ndarray) -> np.ndarray:
        """[N, in elems] encoded elements -> [N, out elems] encoded elements (int64)."""
        raise NotImplementedError

    def need(self, out_idx: np.ndarray) -> np.ndarray:
        """For output elements (indices within an image), the last input element the layer
        must have read to write each (the FIFO analysis of hwflow.streams); elementwise by
        default."""
        return out_idx

    def join_unit(self, port: int) -> int:
        """Elements of input `port` a join consumes together with the same unit of its other
        inputs (1: element by element, as an add; a pixel's channels for a concatenation)."""
        return 1

    def run(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        """Every input stream's elements -> every output stream's (kinds with several streams
        override this; the others execute their one input)."""
        return [self.execute(xs[0])]

    # --- folding ------------------------------------------------------------------
    def fold_choices(self, max_in_width: int | None = None) -> list[dict]:
        """Foldings this layer may take (empty: its folding follows its neighbours, see tie)."""
        return []

    def folding(self) -> dict:
        """The folding parameters a folding file holds for this layer (empty: none of its own)."""
        return {}

    def set_folding(self, cfg: dict) -> None:
        if cfg:
            raise HwflowError(f"layer {self.name} ({self.kind}) has no folding of its own; its width follows "
                              "its neighbours")

    def tie(self, producer: "Layer | None", consumer: "Layer | None") -> None:
        """Take the folding that follows from the neighbours (for layers with none of their own)."""

    def check_folding(self) -> None:
        pass

    # --- models -------------------------------------------------------------------
    def cycles(self) -> int:
        """Cycles per image at full throughput (the layer's initiation interval)."""
        raise NotImplementedError

    def max_cycles(self) -> int:
        """Cycles per image at the slowest folding (bounds a folding search)."""
        return self.cycles()

    def resources(self) -> dict:
        """Analytic {"lut", "ff", "bram18"} estimate (7-series)."""
        raise NotImplementedError

    # --- persistence --------------------------------------------------------------
    def to_json(self) -> dict:
        raise NotImplementedError

    def arrays(self) -> dict[str, np.ndarray]:
        """Constant tensors (weights, thresholds) saved beside the JSON."""
        return {}

    @classmethod
    def from_json(cls, d: dict, arrays: dict[str, np.ndarray]) -> "Layer":
        return cls(**d)

    # --- hardware -----------------------------------------------------------------
    def rtl_instance(self) -> tuple[str, dict]:
        """(core module, its parameters as Verilog literals)."""
        raise NotImplementedError

    def write_rtl_data(self, out: Path) -> None:
        """ROM files the core reads with $readmemh."""

    def fifo_depth(self) -> int:
        """Beats the FIFO in front of this layer must hold so that its bursty reads never
        stall its producer (0: no more than the default)."""
        return 0

    def hls_code(self, ident: str) -> tuple[list[str], list[str]]:
        """(declarations, body): C++ constants (weights, thresholds) and the statements of
        `<ident>_compute(in, out)`, which processes one image (see hwflow.codegen_hls)."""
        raise NotImplementedError

    # --- reports ------------------------------------------------------------------
    def describe(self) -> str:
        """A short shape for tables, e.g. '576x64 x784'."""
        return self.kind


class ChannelFolded:
    """Mixin for a layer whose one folding parameter (`width_key`: elements per beat on both
    sides) divides its `ch` channels, chosen like an MVAU's to meet the cycle target."""

    width_key: ClassVar[str] = "simd"

    def fold_choices(self, max_in_width: int | None = None) -> list[dict]:
        cap = max_in_width // self.in_elem_bits if max_in_width else None
        return [{self.width_key: d} for d in divisors(self.ch) if cap is None or d <= cap] or [{self.width_key: 1}]

    def folding(self) -> dict:
        return {self.width_key: getattr(self, self.width_key)}

    def set_folding(self, cfg: dict) -> None:
        unknown = set(cfg) - {self.width_key}
        if unknown:
            raise HwflowError(f"layer {self.name}: unknown folding keys {sorted(unknown)}; use {self.width_key}")
        setattr(self, self.width_key, int(cfg.get(self.width_key, getattr(self, self.width_key))))

    def max_cycles(self) -> int:
        return self.cycles() * getattr(self, self.width_key)     # cycles fall as 1/width
