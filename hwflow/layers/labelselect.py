"""LabelSelect: the index of the largest of a vector's N integers, ties to the lowest index
(numpy.argmax; core hwflow_labelselect.v, kernel label_select), or the indices of its K
largest, largest first and equal values in index order (ONNX TopK; core hwflow_topk.v,
kernel top_k, one element per beat).  Both kernels are in hwflow_labelselect.h.

When a model ends in ArgMax or TopK after an increasing map that treats every class alike
(a positive scale, an offset, softmax), the labels are taken on chip from the last layer's
integers, and the output stream carries K indices per image.
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
    k: int = 1                          # labels out per vector

    kind = "LabelSelect"
    rtl_cores = ("hwflow_labelselect.v", "hwflow_topk.v")
    hls_headers = ("hwflow_labelselect.h",)

    idx_bits = property(lambda self: clog2(self.n))

    @property
    def in_type(self) -> StreamType:
        return StreamType(self.in_dtype, self.n, self.pe)

    @property
    def out_type(self) -> StreamType:
        return StreamType(int_type(self.idx_bits, False), self.k, 1)

    def execute(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x).reshape(len(x), self.n)
        if self.k == 1:
            return np.argmax(x, axis=1).astype(np.int64)[:, None]
        return np.argsort(-x, axis=1, kind="stable")[:, :self.k].astype(np.int64)

    def need(self, out_idx: np.ndarray) -> np.ndarray:
        return (out_idx // self.k + 1) * self.n - 1   # every label of a vector waits for all of it

    def tie(self, producer, consumer) -> None:
        # top-K inserts one element per cycle: a wider producer goes through a width converter
        self.pe = follow_width(self.n, producer, None) if self.k == 1 else 1

    def check_folding(self) -> None:
        if not 1 <= self.k <= self.n:
            raise HwflowError(f"layer {self.name}: cannot select {self.k} of {self.n} labels")
        if self.n % self.pe or (self.k > 1 and self.pe != 1):
            raise HwflowError(f"layer {self.name}: {self.pe} labels per beat must divide its {self.n} labels "
                              "(top-K with K > 1 reads one per beat)")

    def cycles(self) -> int:
        return self.n // self.pe if self.k == 1 else self.n + (self.k == self.n)

    def resources(self) -> dict:
        b, x = self.in_dtype.bitwidth(), self.idx_bits
        if self.k > 1:  # K compare-and-shift slots plus the output shift register
            return {"lut": 20 + self.k * (b + 2 * x), "ff": 20 + self.k * (b + 2 * x), "bram18": 0}
        return {"lut": 20 + self.pe * (b + x), "ff": 20 + 2 * (b + x), "bram18": 0}

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "n": self.n, "in_dtype": self.in_dtype.name, "pe": self.pe,
                "k": self.k}

    @classmethod
    def from_json(cls, d: dict, arrays: dict) -> "LabelSelect":
        return cls(d["name"], d["n"], DataType[d["in_dtype"]], d["pe"], d.get("k", 1))

    def rtl_instance(self) -> tuple[str, dict]:
        common = {"IN_BITS": self.in_dtype.bitwidth(), "IN_SIGNED": int(self.in_signed), "IDX_BITS": self.idx_bits}
        if self.k > 1:
            return "hwflow_topk", {"N": self.n, "K": self.k, **common}
        return "hwflow_labelselect", {"NF": self.n // self.pe, "PE": self.pe, **common}

    def hls_code(self, ident: str) -> tuple[list[str], list[str]]:
        args = f"{self.in_dtype.bitwidth()}, {str(self.in_signed).lower()}, {self.idx_bits}>(in, out, 1);"
        if self.k > 1:
            return [], [f"hwflow::top_k<{self.n}, {self.k}, {args}"]
        return [], [f"hwflow::label_select<{self.n // self.pe}, {self.pe}, {args}"]

    def describe(self) -> str:
        return f"top-{self.k} of {self.n}"
