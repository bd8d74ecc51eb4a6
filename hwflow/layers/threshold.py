"""Threshold (core hwflow_thresh.v, kernel threshold in hwflow_threshold.h): a standalone
multi-threshold activation on a stream of integers, the requantization after an add or a
pooling: out = out_bias + #{j : x >= T[c, j]} (one threshold per channel and no bias: the
bit x >= T[c], a BIPOLAR activation), as the MVAU's thresholded output and qonnx's
MultiThreshold compute it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from qonnx.core.datatype import DataType

from hwflow.layers.base import BIPOLAR, ChannelFolded, Layer, StreamType
from hwflow.layers.memfiles import c_array, hex_words, write_lines


@dataclass
class Threshold(ChannelFolded, Layer):
    name: str
    thresholds: np.ndarray              # int64 [CH, NT]
    pixels: int
    in_dtype: DataType
    out_act: DataType | None = None     # a k-bit activation's type (None: BIPOLAR bits)
    out_bias: int = 0
    pe: int = 1

    kind = "Threshold"
    width_key = "pe"
    rtl_cores = ("hwflow_thresh.v",)
    hls_headers = ("hwflow_threshold.h",)

    ch = property(lambda self: self.thresholds.shape[0])
    nt = property(lambda self: self.thresholds.shape[1])
    out_dtype = property(lambda self: self.out_act or BIPOLAR)

    @property
    def thresh_bits(self) -> int:
        """Signed, two bits wider than the input: every threshold that matters fits."""
        return self.in_dtype.bitwidth() + 2

    @property
    def in_type(self) -> StreamType:
        return StreamType(self.in_dtype, self.pixels * self.ch, self.pe)

    @property
    def out_type(self) -> StreamType:
        return StreamType(self.out_dtype, self.pixels * self.ch, self.pe)

    def execute(self, x: np.ndarray) -> np.ndarray:
        v = np.asarray(x, dtype=np.int64).reshape(len(x), self.pixels, self.ch)
        y = self.out_bias + (v[..., None] >= self.thresholds[None, None]).sum(axis=3, dtype=np.int64)
        return y.reshape(len(x), -1)

    def hw_thresholds(self) -> np.ndarray:
        """Clipped just outside the input's range: the same comparisons, in thresh_bits."""
        lo, hi = int(self.in_dtype.min()), int(self.in_dtype.max())
        return np.clip(self.thresholds, lo, hi + 1)

    def cycles(self) -> int:
        return self.pixels * self.ch // self.pe

    def resources(self) -> dict:
        tb = self.thresh_bits
        return {"lut": 20 + self.pe * self.nt * (tb + 2), "ff": 20 + self.pe * self.out_dtype.bitwidth() * 2,
                "bram18": 0}

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "pixels": self.pixels, "in_dtype": self.in_dtype.name,
                "out_act": self.out_act.name if self.out_act else None, "out_bias": self.out_bias, "pe": self.pe}

    def arrays(self) -> dict[str, np.ndarray]:
        return {"thresholds": self.thresholds}

    @classmethod
    def from_json(cls, d: dict, arrays: dict) -> "Threshold":
        act = d.get("out_act")
        return cls(d["name"], arrays["thresholds"], d["pixels"], DataType[d["in_dtype"]],
                   DataType[act] if act else None, d["out_bias"], d["pe"])

    def rtl_instance(self) -> tuple[str, dict]:
        return "hwflow_thresh", {"CH": self.ch, "PE": self.pe, "IN_BITS": self.in_dtype.bitwidth(),
                                 "IN_SIGNED": int(self.in_signed), "NT": self.nt, "TW": self.thresh_bits,
                                 "OUT_BITS": self.out_dtype.bitwidth(), "OUT_BIAS": self.out_bias,
                                 "THRESH_FILE": f'"{self.name}_thresh.mem"'}

    def write_rtl_data(self, out: Path) -> None:
        # line cf holds T[cf*PE+p][j] at bits [(p*NT+j)*TW +: TW]
        rows = self.hw_thresholds().reshape(self.ch // self.pe, self.pe * self.nt)
        write_lines(out / f"{self.name}_thresh.mem", hex_words(rows, self.thresh_bits))

    def hls_code(self, ident: str) -> tuple[list[str], list[str]]:
        nf = self.ch // self.pe
        # thresh[p][cf][j] = T[cf*PE+p][j]
        t = self.hw_thresholds().reshape(nf, self.pe, self.nt).transpose(1, 0, 2)
        rows = [["{" + ", ".join(str(int(v)) for v in cell) + "}" for cell in row] for row in t]
        decl = f"static const ap_int<{self.thresh_bits}> {ident}_thresh[{self.pe}][{nf}][{self.nt}] = {c_array(rows)};"
        return [decl], [f"hwflow::threshold<{nf}, {self.pe}, {self.in_dtype.bitwidth()}, "
                        f"{str(self.in_signed).lower()}, {self.nt}, {self.out_dtype.bitwidth()}, "
                        f"ap_int<{self.thresh_bits}>, {self.out_bias}>(in, out, {ident}_thresh, {self.pixels});"]

    def describe(self) -> str:
        return f"{self.nt} thr x{self.pixels}x{self.ch}"
