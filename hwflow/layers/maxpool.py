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

    kind = "MaxPool"
    rtl_cores = ("hwflow_maxpool.v",)
    hls_headers = ("hwflow_pool.h",)

    @property
    def ofm_dim(self) -> int:
        return self.ifm_dim // self.pool

    @property
    def in_type(self) -> StreamType:
        return StreamType(self.dtype, self.ifm_dim ** 2 * self.ch, self.pe)

    @property
    def out_type(self) -> StreamType:
        return StreamType(self.dtype, self.ofm_dim ** 2 * self.ch, self.pe)

    def execute(self, x: np.ndarray) -> np.ndarray:
        n, o, p = len(x), self.ofm_dim, self.pool
        img = np.asarray(x).reshape(n, self.ifm_dim, self.ifm_dim, self.ch)[:, :o * p, :o * p, :]
        return img.reshape(n, o, p, o, p, self.ch).max(axis=(2, 4)).reshape(n, -1)

    def tie(self, producer, consumer) -> None:
        if producer is not None and producer.fold_choices():
            self.pe = producer.out_epb

    def check_folding(self) -> None:
        if self.ch % self.pe:
            raise HwflowError(f"layer {self.name}: {self.pe} channels per beat must divide its {self.ch} channels")
        if self.pool > self.ifm_dim:
            raise HwflowError(f"layer {self.name}: pool {self.pool} larger than the {self.ifm_dim}x{self.ifm_dim} "
                              "image")

    def cycles(self) -> int:
        return self.ifm_dim ** 2 * self.ch // self.pe

    def resources(self) -> dict:
        eb = self.dtype.bitwidth()
        return {"lut": 30 + 3 * self.pe * eb + self.ofm_dim * self.ch * eb // 64, "ff": 40 + 2 * self.pe * eb,
                "bram18": 0}

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "ifm_dim": self.ifm_dim, "ch": self.ch,
                "pool": self.pool, "pe": self.pe, "dtype": self.dtype.name}

    @classmethod
    def from_json(cls, d: dict, arrays: dict) -> "MaxPool":
        return cls(d["name"], d["ifm_dim"], d["ch"], d["pool"], d["pe"], DataType[d.get("dtype", "BIPOLAR")])

    def rtl_instance(self) -> tuple[str, dict]:
        return "hwflow_maxpool", {"IFM_DIM": self.ifm_dim, "CH": self.ch, "POOL": self.pool, "PE": self.pe,
                                  "ELEM_BITS": self.dtype.bitwidth(), "SIGNED": int(self.in_signed)}

    def hls_code(self, ident: str) -> tuple[list[str], list[str]]:
        dims = f"{self.ifm_dim}, {self.ifm_dim}, {self.ch}, {self.pool}, {self.pe}"
        if self.dtype == BIPOLAR:
            return [], [f"hwflow::maxpool_1bit<{dims}>(in, out, 1);"]
        return [], [f"hwflow::maxpool<{dims}, {self.dtype.bitwidth()}, {str(self.in_signed).lower()}>(in, out, 1);"]

    def describe(self) -> str:
        return f"{self.ifm_dim}^2x{self.ch} /{self.pool}" + ("" if self.dtype == BIPOLAR else f" {self.dtype.name}")
