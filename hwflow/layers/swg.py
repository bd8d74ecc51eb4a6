"""SWG: sliding-window generator (core hwflow_swg.v, kernel hwflow_swg.h).

An NHWC image (H x W, W = H unless given) in, each output pixel's KxKxC window out in
(ky, kx, c) order: the im2col rows a conv MVAU reads (or a window pool reduces).  Its width
(SIMD channels per beat) is its consumer's.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

import numpy as np
from qonnx.core.datatype import DataType

from hwflow.errors import HwflowError
from hwflow.layers.base import BIPOLAR, Layer, StreamType, follow_width


@dataclass
class SWG(Layer):
    name: str
    ifm_dim: int
    ch: int
    k: int
    stride: int = 1
    simd: int = 1
    dtype: DataType = BIPOLAR
    ifm_width: int = 0                  # image width (0: square, ifm_dim)

    kind = "SWG"
    rtl_cores = ("hwflow_swg.v",)
    hls_headers = ("hwflow_swg.h",)

    ifm_h = property(lambda self: self.ifm_dim)
    ifm_w = property(lambda self: self.ifm_width or self.ifm_dim)
    ofm_h = property(lambda self: (self.ifm_h - self.k) // self.stride + 1)
    ofm_w = property(lambda self: (self.ifm_w - self.k) // self.stride + 1)
    windows = property(lambda self: self.ofm_h * self.ofm_w)

    @property
    def in_type(self) -> StreamType:
        return StreamType(self.dtype, self.ifm_h * self.ifm_w * self.ch, self.simd)

    @property
    def out_type(self) -> StreamType:
        return StreamType(self.dtype, self.windows * self.k ** 2 * self.ch, self.simd)

    def execute(self, x: np.ndarray) -> np.ndarray:
        n, k, st = len(x), self.k, self.stride
        img = np.asarray(x).reshape(n, self.ifm_h, self.ifm_w, self.ch)
        # a view [n, oy, ox, c, ky, kx]; one copy when reordered to (oy, ox, ky, kx, c)
        win = np.lib.stride_tricks.sliding_window_view(img, (k, k), axis=(1, 2))[:, ::st, ::st]
        win = win[:, :self.ofm_h, :self.ofm_w]
        return np.ascontiguousarray(win.transpose(0, 1, 2, 4, 5, 3)).reshape(n, -1)

    def need(self, out_idx: np.ndarray) -> np.ndarray:
        # a window row starts once its K input rows are complete (the core is row-granular)
        oy = out_idx // (self.k * self.k * self.ch) // self.ofm_w
        return (oy * self.stride + self.k) * self.ifm_w * self.ch - 1

    def tie(self, producer, consumer) -> None:
        self.simd = follow_width(self.ch, producer, consumer)

    def check_folding(self) -> None:
        if self.ch % self.simd:
            raise HwflowError(f"layer {self.name}: {self.simd} channels per beat must divide its {self.ch} channels")
        if not 1 <= self.stride <= self.k <= min(self.ifm_h, self.ifm_w):
            raise HwflowError(f"layer {self.name}: need 1 <= stride <= K <= image height and width (stride="
                              f"{self.stride}, K={self.k}, image {self.ifm_h}x{self.ifm_w})")

    def cycles(self) -> int:
        return max(self.ifm_h * self.ifm_w, self.windows * self.k ** 2) * self.ch // self.simd

    def resources(self) -> dict:
        eb = self.dtype.bitwidth()
        bits = (self.k + 1) * self.ifm_w * self.ch * eb
        # fitted to Yosys on CNV's six window generators (within 20%)
        return {"lut": 75 + round(1.35 * self.simd * eb), "ff": 55 + self.simd * eb,
                "bram18": ceil(bits / 18432) if bits > 4096 else 0}

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "ifm_dim": self.ifm_dim, "ifm_w": self.ifm_w, "ch": self.ch,
                "k": self.k, "stride": self.stride, "simd": self.simd, "dtype": self.dtype.name}

    @classmethod
    def from_json(cls, d: dict, arrays: dict) -> "SWG":
        return cls(d["name"], d["ifm_dim"], d["ch"], d["k"], d["stride"], d["simd"], DataType[d["dtype"]],
                   d.get("ifm_w", 0))

    def rtl_instance(self) -> tuple[str, dict]:
        return "hwflow_swg", {"IFM_H": self.ifm_h, "IFM_W": self.ifm_w, "IFM_CH": self.ch, "K": self.k,
                              "STRIDE": self.stride, "SIMD": self.simd, "ELEM_BITS": self.dtype.bitwidth()}

    def fifo_depth(self) -> int:
        # it stops reading while it emits windows: hold a row of pixels
        return self.ifm_w * self.ch // self.simd + 2

    def hls_code(self, ident: str) -> tuple[list[str], list[str]]:
        return [], [f"hwflow::swg<{self.ifm_h}, {self.ifm_w}, {self.ch}, {self.k}, {self.stride}, {self.simd}, "
                    f"{self.dtype.bitwidth()}>(in, out, 1);"]

    def describe(self) -> str:
        st = f" s{self.stride}" if self.stride > 1 else ""
        return f"{self.ifm_h}x{self.ifm_w}x{self.ch} k{self.k}{st}"
