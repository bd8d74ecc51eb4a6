"""SWG: sliding-window generator (core hwflow_swg.v, kernel hwflow_swg.h).

An NHWC image in, each output pixel's KxKxC window out in (ky, kx, c) order: the im2col
rows a conv MVAU reads.  Its width (SIMD channels per beat) is its consumer's.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

import numpy as np
from qonnx.core.datatype import DataType

from hwflow.errors import HwflowError
from hwflow.layers.base import BIPOLAR, Layer, StreamType


@dataclass
class SWG(Layer):
    name: str
    ifm_dim: int
    ch: int
    k: int
    stride: int = 1
    simd: int = 1
    dtype: DataType = BIPOLAR

    kind = "SWG"
    rtl_cores = ("hwflow_swg.v",)
    hls_headers = ("hwflow_swg.h",)

    @property
    def ofm_dim(self) -> int:
        return (self.ifm_dim - self.k) // self.stride + 1

    @property
    def in_type(self) -> StreamType:
        return StreamType(self.dtype, self.ifm_dim ** 2 * self.ch, self.simd)

    @property
    def out_type(self) -> StreamType:
        return StreamType(self.dtype, self.ofm_dim ** 2 * self.k ** 2 * self.ch, self.simd)

    def execute(self, x: np.ndarray) -> np.ndarray:
        n, d, o, k, st = len(x), self.ifm_dim, self.ofm_dim, self.k, self.stride
        img = np.asarray(x).reshape(n, d, d, self.ch)
        # a view [n, oy, ox, c, ky, kx]; one copy when reordered to (oy, ox, ky, kx, c)
        win = np.lib.stride_tricks.sliding_window_view(img, (k, k), axis=(1, 2))[:, ::st, ::st][:, :o, :o]
        return np.ascontiguousarray(win.transpose(0, 1, 2, 4, 5, 3)).reshape(n, -1)

    def tie(self, producer, consumer) -> None:
        if consumer is not None:
            self.simd = consumer.in_epb

    def check_folding(self) -> None:
        if self.ch % self.simd:
            raise HwflowError(f"layer {self.name}: {self.simd} channels per beat must divide its {self.ch} channels")
        if not 1 <= self.stride <= self.k <= self.ifm_dim:
            raise HwflowError(f"layer {self.name}: need 1 <= stride <= K <= IFM_DIM (stride={self.stride}, "
                              f"K={self.k}, IFM_DIM={self.ifm_dim})")

    def cycles(self) -> int:
        return max(self.ifm_dim ** 2, self.ofm_dim ** 2 * self.k ** 2) * self.ch // self.simd

    def resources(self) -> dict:
        eb = self.dtype.bitwidth()
        bits = (self.k + 1) * self.ifm_dim * self.ch * eb
        return {"lut": 60 + 4 * self.simd * eb, "ff": 80 + 2 * self.simd * eb,
                "bram18": ceil(bits / 18432) if bits > 4096 else 0}

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "ifm_dim": self.ifm_dim, "ch": self.ch, "k": self.k,
                "stride": self.stride, "simd": self.simd, "dtype": self.dtype.name}

    @classmethod
    def from_json(cls, d: dict, arrays: dict) -> "SWG":
        return cls(d["name"], d["ifm_dim"], d["ch"], d["k"], d["stride"], d["simd"], DataType[d["dtype"]])

    def rtl_instance(self) -> tuple[str, dict]:
        return "hwflow_swg", {"IFM_DIM": self.ifm_dim, "IFM_CH": self.ch, "K": self.k, "STRIDE": self.stride,
                              "SIMD": self.simd, "ELEM_BITS": self.dtype.bitwidth()}

    def fifo_depth(self) -> int:
        # it stops reading while it emits windows: hold a row of pixels
        return self.ifm_dim * self.ch // self.simd + 2

    def hls_code(self, ident: str) -> tuple[list[str], list[str]]:
        return [], [f"hwflow::swg<{self.ifm_dim}, {self.ch}, {self.k}, {self.stride}, {self.simd}, "
                    f"{self.dtype.bitwidth()}>(in, out, 1);"]

    def describe(self) -> str:
        return f"{self.ifm_dim}^2x{self.ch} k{self.k}"
