"""MaxPool (core hwflow_maxpool.v, kernel hwflow_pool.h) of 1-bit or k-bit activations.

Max of +-1 values is an OR of their bits; k-bit integers are compared as such (signed when
their type is).  Pool size = stride, NHWC, PE channels per beat (its producer's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwflow.errors import HwflowError
from qonnx.core.datatype import DataType

from hwflow.layers.base import BIPOLAR, Layer, StreamType


@dataclass
class MaxPool(Layer):
    name: str
    ifm_dim: int
    ch: int
    pool: int = 2
    pe: int = 1
    dtype: DataType = BIPOLAR
    ifm_width: int = 0                  # image width (0: square, ifm_dim)

    kind = "MaxPool"
    rtl_cores = ("hwflow_maxpool.v",)
    hls_headers = ("hwflow_pool.h",)

    ifm_h = property(lambda self: self.ifm_dim)
    ifm_w = property(lambda self: self.ifm_width or self.ifm_dim)
    ofm_h = property(lambda self: self.ifm_h // self.pool)
    ofm_w = property(lambda self: self.ifm_w // self.pool)

    @property
    def in_type(self) -> StreamType:
        return StreamType(self.dtype, self.ifm_h * self.ifm_w * self.ch, self.pe)

    @property
    def out_type(self) -> StreamType:
        return StreamType(self.dtype, self.ofm_h * self.ofm_w * self.ch, self.pe)

    def execute(self, x: np.ndarray) -> np.ndarray:
        n, oh, ow, p = len(x), self.ofm_h, self.ofm_w, self.pool
        img = np.asarray(x).reshape(n, self.ifm_h, self.ifm_w, self.ch)[:, :oh * p, :ow * p, :]
        return img.reshape(n, oh, p, ow, p, self.ch).max(axis=(2, 4)).reshape(n, -1)

    def need(self, out_idx: np.ndarray) -> np.ndarray:
        oy, ox = np.divmod(out_idx // self.ch, self.ofm_w)
        p = self.pool
        return ((oy * p + p - 1) * self.ifm_w + ox * p + p) * self.ch - 1

    def tie(self, producer, consumer) -> None:
        if producer is not None and producer.fold_choices():
            self.pe = producer.out_epb

    def check_folding(self) -> None:
        if self.ch % self.pe:
            raise HwflowError(f"layer {self.name}: {self.pe} channels per beat must divide its {self.ch} channels")
        if self.pool > min(self.ifm_h, self.ifm_w):
            raise HwflowError(f"layer {self.name}: pool {self.pool} larger than the {self.ifm_h}x{self.ifm_w} "
                              "image")

    def cycles(self) -> int:
        return self.ifm_h * self.ifm_w * self.ch // self.pe

    def resources(self) -> dict:
        eb = self.dtype.bitwidth()
        # fitted to Yosys on CNV's two pools
        return {"lut": 30 + 2 * self.pe * eb + self.ofm_w * self.ch * eb // 64, "ff": 20 + 2 * self.pe * eb,
                "bram18": 0}

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "ifm_dim": self.ifm_dim, "ifm_w": self.ifm_w, "ch": self.ch,
                "pool": self.pool, "pe": self.pe, "dtype": self.dtype.name}

    @classmethod
    def from_json(cls, d: dict, arrays: dict) -> "MaxPool":
        return cls(d["name"], d["ifm_dim"], d["ch"], d["pool"], d["pe"], DataType[d.get("dtype", "BIPOLAR")],
                   d.get("ifm_w", 0))

    def rtl_instance(self) -> tuple[str, dict]:
        return "hwflow_maxpool", {"IFM_H": self.ifm_h, "IFM_W": self.ifm_w, "CH": self.ch, "POOL": self.pool,
                                  "PE": self.pe, "ELEM_BITS": self.dtype.bitwidth(), "SIGNED": int(self.in_signed)}

    def hls_code(self, ident: str) -> tuple[list[str], list[str]]:
        dims = f"{self.ifm_h}, {self.ifm_w}, {self.ch}, {self.pool}, {self.pe}"
        if self.dtype == BIPOLAR:
            return [], [f"hwflow::maxpool_1bit<{dims}>(in, out, 1);"]
        return [], [f"hwflow::maxpool<{dims}, {self.dtype.bitwidth()}, {str(self.in_signed).lower()}>(in, out, 1);"]

    def describe(self) -> str:
        return f"{self.ifm_h}x{self.ifm_w}x{self.ch} /{self.pool}" + ("" if self.dtype == BIPOLAR else f" {self.dtype.name}")
