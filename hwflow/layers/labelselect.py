"""LabelSelect (core hwflow_labelselect.v, kernel label_select in hwflow_labelselect.h): the
index of the largest of a vector's N integers, ties to the lowest index (numpy.argmax).

When a model ends in ArgMax after an increasing map that treats every class alike (a
positive scale, an offset, softmax), the label is taken on chip from the last layer's
integers, and the output stream carries one index per image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qonnx.core.datatype import DataType

from hwflow.errors import HwflowError
from hwflow.layers.base import Layer, StreamType, clog2, follow_width, int_type


@dataclass
class LabelSelect(Layer):
    name: str
    n: int                              # labels (integers per vector)
    in_dtype: DataType
    pe: int = 1

    kind = "LabelSelect"
    rtl_cores = ("hwflow_labelselect.v",)
    hls_headers = ("hwflow_labelselect.h",)

    idx_bits = property(lambda self: clog2(self.n))

    @property
    def in_type(self) -> StreamType:
        return StreamType(self.in_dtype, self.n, self.pe)

    @property
    def out_type(self) -> StreamType:
        return StreamType(int_type(self.idx_bits, False), 1, 1)

    def execute(self, x: np.ndarray) -> np.ndarray:
        return np.argmax(np.asarray(x).reshape(len(x), self.n), axis=1).astype(np.int64)[:, None]

    def need(self, out_idx: np.ndarray) -> np.ndarray:
        return (out_idx + 1) * self.n - 1

    def tie(self, producer, consumer) -> None:
        self.pe = follow_width(self.n, producer, None)

    def check_folding(self) -> None:
        if self.n % self.pe:
            raise HwflowError(f"layer {self.name}: {self.pe} labels per beat must divide its {self.n} labels")

    def cycles(self) -> int:
        return self.n // self.pe

    def resources(self) -> dict:
        b = self.in_dtype.bitwidth()
        return {"lut": 20 + self.pe * (b + self.idx_bits), "ff": 20 + 2 * (b + self.idx_bits), "bram18": 0}

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "n": self.n, "in_dtype": self.in_dtype.name, "pe": self.pe}

    @classmethod
    def from_json(cls, d: dict, arrays: dict) -> "LabelSelect":
        return cls(d["name"], d["n"], DataType[d["in_dtype"]], d["pe"])

    def rtl_instance(self) -> tuple[str, dict]:
        return "hwflow_labelselect", {"NF": self.n // self.pe, "PE": self.pe, "IN_BITS": self.in_dtype.bitwidth(),
                                      "IN_SIGNED": int(self.in_signed), "IDX_BITS": self.idx_bits}

    def hls_code(self, ident: str) -> tuple[list[str], list[str]]:
        return [], [f"hwflow::label_select<{self.n // self.pe}, {self.pe}, {self.in_dtype.bitwidth()}, "
                    f"{str(self.in_signed).lower()}, {self.idx_bits}>(in, out, 1);"]

    def describe(self) -> str:
        return f"top-1 of {self.n}"
