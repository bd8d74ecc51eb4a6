"""Pool (core hwflow_winpool.v, kernel window_pool in hwflow_pool.h): the max or the sum of
each channel over the KK positions of a window.

Its input is a sliding-window generator's output (KK = K*K: max-pool with any stride and
padding, average pooling) or a whole NHWC image (KK = H*W: global pooling), so the core
needs no image geometry.  An average is a sum here; its division is a scale that the
streamlining folds into the next layer's thresholds or into the tail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qonnx.core.datatype import DataType

from hwflow.errors import HwflowError
from hwflow.layers.base import BIPOLAR, Layer, StreamType, ChannelFolded, range_type

MODES = ("max", "sum")


def sum_type(dtype: DataType, kk: int) -> DataType:
    """The element type of a sum of kk elements of `dtype` (+-1 for BIPOLAR)."""
    return range_type(kk * int(dtype.min()), kk * int(dtype.max()))


@dataclass
class Pool(ChannelFolded, Layer):
    name: str
    windows: int                        # windows per image (output pixels)
    kk: int                             # positions per window
    ch: int
    mode: str = "max"
    pe: int = 1
    in_dtype: DataType = BIPOLAR

    kind = "Pool"
    width_key = "pe"
    rtl_cores = ("hwflow_winpool.v",)
    hls_headers = ("hwflow_pool.h",)

    @property
    def out_dtype(self) -> DataType:
        return self.in_dtype if self.mode == "max" else sum_type(self.in_dtype, self.kk)

    @property
    def in_type(self) -> StreamType:
        return StreamType(self.in_dtype, self.windows * self.kk * self.ch, self.pe)

    @property
    def out_type(self) -> StreamType:
        return StreamType(self.out_dtype, self.windows * self.ch, self.pe)

    def execute(self, x: np.ndarray) -> np.ndarray:
        win = np.asarray(x, dtype=np.int64).reshape(len(x), self.windows, self.kk, self.ch)
        if self.mode == "max":      # on bits too: the max of +-1 values is the OR of their bits
            return win.max(axis=2).reshape(len(x), -1)
        if self.in_dtype == BIPOLAR:
            win = 2 * win - 1
        return win.sum(axis=2).reshape(len(x), -1)

    def need(self, out_idx: np.ndarray) -> np.ndarray:
        return (out_idx // self.ch + 1) * self.kk * self.ch - 1

    def check_folding(self) -> None:
        if self.mode not in MODES:
            raise HwflowError(f"layer {self.name}: pool mode {self.mode!r} is not one of {', '.join(MODES)}")
        if self.ch % self.pe:
            raise HwflowError(f"layer {self.name}: {self.pe} channels per beat must divide its {self.ch} channels")

    def cycles(self) -> int:
        return self.windows * self.kk * self.ch // self.pe

    def resources(self) -> dict:
        ob = self.out_dtype.bitwidth()
        acc_bits = self.ch * ob
        return {"lut": 30 + 3 * self.pe * ob + (acc_bits // 64 if acc_bits <= 4096 else 0),
                "ff": 40 + 2 * self.pe * ob, "bram18": -(-acc_bits // 18432) if acc_bits > 4096 else 0}

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "windows": self.windows, "kk": self.kk, "ch": self.ch,
                "mode": self.mode, "pe": self.pe, "in_dtype": self.in_dtype.name}

    @classmethod
    def from_json(cls, d: dict, arrays: dict) -> "Pool":
        return cls(d["name"], d["windows"], d["kk"], d["ch"], d["mode"], d["pe"], DataType[d["in_dtype"]])

    def rtl_instance(self) -> tuple[str, dict]:
        return "hwflow_winpool", {"KK": self.kk, "CH": self.ch, "PE": self.pe, "IN_BITS": self.in_dtype.bitwidth(),
                                  "IN_SIGNED": int(self.in_signed), "IN_BIPOLAR": int(self.in_dtype == BIPOLAR),
                                  "MODE": MODES.index(self.mode), "OUT_BITS": self.out_dtype.bitwidth()}

    def hls_code(self, ident: str) -> tuple[list[str], list[str]]:
        p = self.rtl_instance()[1]
        args = ", ".join(str(p[k]) for k in ("KK", "CH", "PE", "IN_BITS"))
        return [], [f"hwflow::window_pool<{args}, {str(bool(p['IN_SIGNED'])).lower()}, "
                    f"{str(bool(p['IN_BIPOLAR'])).lower()}, {p['MODE']}, {p['OUT_BITS']}>(in, out, {self.windows});"]

    def describe(self) -> str:
        return f"{self.mode} of {self.kk} x{self.windows}x{self.ch}"
