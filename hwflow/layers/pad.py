"""Pad (core hwflow_pad.v, kernel hwflow_pad.h): a constant border around an NHWC image.

Zero padding of +-1 activations (what a padded Brevitas conv computes) is not a bit: the
padded stream then carries 2-bit {-1, 0, +1} integers (BIPOLAR in, INT2 out) and the conv
after it takes the integer datapath.  Padding with +-1 (ConstantPad2d, Larq's pad_values)
stays a stream of bits; k-bit streams are padded with a level of their own type (0, or a
max-pool's lowest level).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qonnx.core.datatype import DataType

from hwflow.errors import HwflowError
from hwflow.layers.base import BIPOLAR, Layer, StreamType, ChannelFolded


@dataclass
class Pad(ChannelFolded, Layer):
    name: str
    ifm_h: int
    ifm_w: int
    ch: int
    pads: tuple                         # (top, left, bottom, right) pixels
    in_dtype: DataType = BIPOLAR
    out_dtype: DataType = BIPOLAR       # INT2 when +-1 bits are padded with zeros
    value: int = 0                      # the border elements' value (+-1 for BIPOLAR)
    simd: int = 1

    kind = "Pad"
    rtl_cores = ("hwflow_pad.v",)
    hls_headers = ("hwflow_pad.h",)

    def __post_init__(self):
        self.pads = tuple(int(p) for p in self.pads)

    ofm_h = property(lambda self: self.pads[0] + self.ifm_h + self.pads[2])
    ofm_w = property(lambda self: self.pads[1] + self.ifm_w + self.pads[3])
    widen = property(lambda self: self.in_dtype == BIPOLAR and self.out_dtype != BIPOLAR)

    @property
    def in_type(self) -> StreamType:
        return StreamType(self.in_dtype, self.ifm_h * self.ifm_w * self.ch, self.simd)

    @property
    def out_type(self) -> StreamType:
        return StreamType(self.out_dtype, self.ofm_h * self.ofm_w * self.ch, self.simd)

    @property
    def pad_code(self) -> int:
        """The border element as the stream encodes it."""
        if self.out_dtype == BIPOLAR:
            return int(self.value > 0)
        return self.value & ((1 << self.out_dtype.bitwidth()) - 1)

    def execute(self, x: np.ndarray) -> np.ndarray:
        img = np.asarray(x, dtype=np.int64).reshape(len(x), self.ifm_h, self.ifm_w, self.ch)
        if self.widen:
            img = 2 * img - 1
        fill = self.pad_code if self.out_dtype == BIPOLAR else self.value
        t, left, b, r = self.pads
        return np.pad(img, ((0, 0), (t, b), (left, r), (0, 0)), constant_values=fill).reshape(len(x), -1)

    def need(self, out_idx: np.ndarray) -> np.ndarray:
        # interior pixels at or before each output pixel in raster order (at least the first)
        y, x = np.divmod(out_idx // self.ch, self.ofm_w)
        t, left = self.pads[0], self.pads[1]
        rows = np.clip(y - t, 0, self.ifm_h)
        cols = np.where((y >= t) & (y < t + self.ifm_h), np.clip(x - left + 1, 0, self.ifm_w), 0)
        return np.maximum((rows * self.ifm_w + cols) * self.ch - 1, self.ch - 1)

    def check_folding(self) -> None:
        if self.ch % self.simd:
            raise HwflowError(f"layer {self.name}: {self.simd} channels per beat must divide its {self.ch} channels")
        if not self.widen and self.in_dtype != self.out_dtype:
            raise HwflowError(f"layer {self.name}: pads {self.in_dtype.name} elements into {self.out_dtype.name}")
        if not self.out_dtype.allowed(self.value):
            raise HwflowError(f"layer {self.name}: pad value {self.value} is not a {self.out_dtype.name} element")

    def cycles(self) -> int:
        return self.ofm_h * self.ofm_w * self.ch // self.simd

    def resources(self) -> dict:
        ob = self.out_dtype.bitwidth()
        return {"lut": 40 + 2 * self.simd * ob, "ff": 40 + self.simd * ob, "bram18": 0}

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "ifm_h": self.ifm_h, "ifm_w": self.ifm_w, "ch": self.ch,
                "pads": list(self.pads), "in_dtype": self.in_dtype.name, "out_dtype": self.out_dtype.name,
                "value": self.value, "simd": self.simd}

    @classmethod
    def from_json(cls, d: dict, arrays: dict) -> "Pad":
        return cls(d["name"], d["ifm_h"], d["ifm_w"], d["ch"], tuple(d["pads"]), DataType[d["in_dtype"]],
                   DataType[d["out_dtype"]], d["value"], d["simd"])

    def rtl_instance(self) -> tuple[str, dict]:
        t, left, b, r = self.pads
        return "hwflow_pad", {"IFM_H": self.ifm_h, "IFM_W": self.ifm_w, "CH": self.ch, "SIMD": self.simd,
                              "PAD_T": t, "PAD_L": left, "PAD_B": b, "PAD_R": r,
                              "IN_BITS": self.in_dtype.bitwidth(), "OUT_BITS": self.out_dtype.bitwidth(),
                              "IN_BIPOLAR": int(self.widen), "PAD_VALUE": self.pad_code}

    def hls_code(self, ident: str) -> tuple[list[str], list[str]]:
        t, left, b, r = self.pads
        return [], [f"hwflow::pad<{self.ifm_h}, {self.ifm_w}, {self.ch}, {self.simd}, {t}, {left}, {b}, {r}, "
                    f"{self.in_dtype.bitwidth()}, {self.out_dtype.bitwidth()}, {str(self.widen).lower()}, "
                    f"{self.pad_code}>(in, out, 1);"]

    def describe(self) -> str:
        return f"{self.ifm_h}x{self.ifm_w}x{self.ch} +{'/'.join(map(str, self.pads))} ({self.value})"
