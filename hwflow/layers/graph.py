"""Layers that make the stream graph a DAG: Dup (fan-out), AddStreams (a residual add),
Concat (channel concatenation); cores hwflow_dup.v, hwflow_addstreams.v, hwflow_concat.v,
kernels in hwflow_streams.h.  Their streams are lanes of one port (see hwflow.codegen_rtl).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qonnx.core.datatype import DataType

from hwflow.errors import HwflowError
from hwflow.layers.base import Layer, StreamType, follow_width, range_type


@dataclass
class Dup(Layer):
    """One stream to n_out identical streams."""
    name: str
    dtype: DataType
    elems: int                          # per image
    ch: int                             # channels (the width must divide them)
    n_out: int = 2
    epb: int = 1

    kind = "Dup"
    rtl_cores = ("hwflow_dup.v",)
    hls_headers = ("hwflow_streams.h",)

    @property
    def in_type(self) -> StreamType:
        return StreamType(self.dtype, self.elems, self.epb)

    @property
    def out_type(self) -> StreamType:
        return self.in_type

    @property
    def out_types(self) -> list[StreamType]:
        return [self.in_type] * self.n_out

    def execute(self, x: np.ndarray) -> np.ndarray:
        return x

    def run(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        return [xs[0]] * self.n_out

    def tie(self, producer, consumer) -> None:
        self.epb = follow_width(self.ch, producer, None)

    def check_folding(self) -> None:
        if self.ch % self.epb:
            raise HwflowError(f"layer {self.name}: {self.epb} elements per beat must divide its {self.ch} channels")

    def cycles(self) -> int:
        return self.elems // self.epb

    def resources(self) -> dict:
        w = self.in_type.width
        return {"lut": 10 + self.n_out * (w // 2 + 4), "ff": self.n_out * (2 * w + 2), "bram18": 0}

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "dtype": self.dtype.name, "elems": self.elems, "ch": self.ch,
                "n_out": self.n_out, "epb": self.epb}

    @classmethod
    def from_json(cls, d: dict, arrays: dict) -> "Dup":
        return cls(d["name"], DataType[d["dtype"]], d["elems"], d["ch"], d["n_out"], d["epb"])

    def rtl_instance(self) -> tuple[str, dict]:
        return "hwflow_dup", {"WIDTH": self.in_type.width, "N_OUT": self.n_out}

    def hls_code(self, ident: str) -> tuple[list[str], list[str]]:
        w, beats = self.in_type.width, self.in_type.beats
        if self.n_out == 2:
            return [], [f"hwflow::dup2<{w}>(in, out0, out1, {beats});"]
        writes = " ".join(f"out{k}.write(v);" for k in range(self.n_out))
        return [], [f"for (unsigned i = 0; i < {beats}; i++) {{", "#pragma HLS PIPELINE II=1",
                    f"    const ap_uint<{w}> v = in.read(); {writes}", "}"]

    def describe(self) -> str:
        return f"x{self.n_out} {self.elems}"


@dataclass
class AddStreams(Layer):
    """Elementwise sum of two integer streams of the same type and shape (a residual add
    whose inputs share a quantizer, hence a scale)."""
    name: str
    in_dtype: DataType
    elems: int
    ch: int
    pe: int = 1

    kind = "AddStreams"
    rtl_cores = ("hwflow_addstreams.v",)
    hls_headers = ("hwflow_streams.h",)

    @property
    def out_dtype(self) -> DataType:
        return range_type(2 * int(self.in_dtype.min()), 2 * int(self.in_dtype.max()))

    @property
    def in_type(self) -> StreamType:
        return StreamType(self.in_dtype, self.elems, self.pe)

    @property
    def in_types(self) -> list[StreamType]:
        return [self.in_type] * 2

    @property
    def out_type(self) -> StreamType:
        return StreamType(self.out_dtype, self.elems, self.pe)

    def execute(self, x: np.ndarray) -> np.ndarray:
        raise HwflowError(f"layer {self.name} adds two streams")

    def run(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.asarray(xs[0], dtype=np.int64) + np.asarray(xs[1], dtype=np.int64)]

    def tie(self, producer, consumer) -> None:
        self.pe = follow_width(self.ch, producer, consumer)

    def check_folding(self) -> None:
        if self.in_dtype.bitwidth() < 2 or not self.in_dtype.is_integer() or self.in_dtype.name == "BIPOLAR":
            raise HwflowError(f"layer {self.name}: adds integer streams (2 bits or more), not {self.in_dtype.name}")
        if self.ch % self.pe:
            raise HwflowError(f"layer {self.name}: {self.pe} elements per beat must divide its {self.ch} channels")

    def cycles(self) -> int:
        return self.elems // self.pe

    def resources(self) -> dict:
        ob = self.out_dtype.bitwidth()
        return {"lut": 10 + self.pe * ob, "ff": 10 + 2 * self.pe * ob, "bram18": 0}

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "in_dtype": self.in_dtype.name, "elems": self.elems,
                "ch": self.ch, "pe": self.pe}

    @classmethod
    def from_json(cls, d: dict, arrays: dict) -> "AddStreams":
        return cls(d["name"], DataType[d["in_dtype"]], d["elems"], d["ch"], d["pe"])

    def rtl_instance(self) -> tuple[str, dict]:
        return "hwflow_addstreams", {"PE": self.pe, "IN_BITS": self.in_dtype.bitwidth(),
                                     "IN_SIGNED": int(self.in_signed), "OUT_BITS": self.out_dtype.bitwidth()}

    def hls_code(self, ident: str) -> tuple[list[str], list[str]]:
        return [], [f"hwflow::add_streams<{self.pe}, {self.in_dtype.bitwidth()}, {str(self.in_signed).lower()}, "
                    f"{self.out_dtype.bitwidth()}>(in0, in1, out, {self.in_type.beats});"]

    def describe(self) -> str:
        return f"+ {self.elems} {self.in_dtype.name}"


@dataclass
class Concat(Layer):
    """Channel concatenation of two NHWC streams with the same pixels: per pixel ch0
    channels of the first, then ch1 of the second."""
    name: str
    dtype: DataType
    pixels: int
    ch0: int
    ch1: int
    simd: int = 1

    kind = "Concat"
    rtl_cores = ("hwflow_concat.v",)
    hls_headers = ("hwflow_streams.h",)

    @property
    def in_types(self) -> list[StreamType]:
        return [StreamType(self.dtype, self.pixels * c, self.simd) for c in (self.ch0, self.ch1)]

    @property
    def in_type(self) -> StreamType:
        return self.in_types[0]

    @property
    def out_type(self) -> StreamType:
        return StreamType(self.dtype, self.pixels * (self.ch0 + self.ch1), self.simd)

    def execute(self, x: np.ndarray) -> np.ndarray:
        raise HwflowError(f"layer {self.name} concatenates two streams")

    def run(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        a = np.asarray(xs[0]).reshape(len(xs[0]), self.pixels, self.ch0)
        b = np.asarray(xs[1]).reshape(len(xs[1]), self.pixels, self.ch1)
        return [np.concatenate([a, b], axis=2).reshape(len(a), -1)]

    def join_unit(self, port: int) -> int:
        return (self.ch0, self.ch1)[port]

    def tie(self, producer, consumer) -> None:
        self.simd = follow_width(int(np.gcd(self.ch0, self.ch1)), producer, consumer)

    def check_folding(self) -> None:
        if self.ch0 % self.simd or self.ch1 % self.simd:
            raise HwflowError(f"layer {self.name}: {self.simd} elements per beat must divide both inputs' channels "
                              f"({self.ch0}, {self.ch1})")

    def cycles(self) -> int:
        return self.out_type.beats

    def resources(self) -> dict:
        w = self.out_type.width
        return {"lut": 20 + w, "ff": 20 + 2 * w, "bram18": 0}

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "dtype": self.dtype.name, "pixels": self.pixels,
                "ch0": self.ch0, "ch1": self.ch1, "simd": self.simd}

    @classmethod
    def from_json(cls, d: dict, arrays: dict) -> "Concat":
        return cls(d["name"], DataType[d["dtype"]], d["pixels"], d["ch0"], d["ch1"], d["simd"])

    def rtl_instance(self) -> tuple[str, dict]:
        return "hwflow_concat", {"PIXELS": self.pixels, "CH0": self.ch0, "CH1": self.ch1, "SIMD": self.simd,
                                 "ELEM_BITS": self.dtype.bitwidth()}

    def hls_code(self, ident: str) -> tuple[list[str], list[str]]:
        return [], [f"hwflow::concat<{self.pixels}, {self.ch0}, {self.ch1}, {self.simd}, "
                    f"{self.dtype.bitwidth()}>(in0, in1, out, 1);"]

    def describe(self) -> str:
        return f"{self.ch0}+{self.ch1} x{self.pixels}"
