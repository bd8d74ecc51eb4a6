"""Dataflow IR: typed hardware layers, each with a numpy meaning, folding, cycles and resources.

A `Dataflow` is a host-side head (float input -> bits, an ONNX sub-model), a
chain of hardware layers that streams bits in and integers out, and a host-side
tail (integers -> the model's float outputs, an ONNX sub-model).  The hardware
part is what the RTL implements and what rtlsim is checked against, bit for bit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from math import ceil, log2
from pathlib import Path

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes

from hwflow.errors import HwflowError
from hwflow.graph import extract, node_label

HEAD_OPS = {"Reshape", "Flatten", "Mul", "Add", "Sub", "Div", "MultiThreshold", "Identity"}
TAIL_OPS = {"Mul", "Add", "Sub", "Div", "BatchNormalization", "Softmax", "LogSoftmax", "Identity",
            "Reshape", "Flatten"}


def clog2(n: int) -> int:
    return max(1, ceil(log2(n))) if n > 1 else 1


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@dataclass
class MVAU:
    """XNOR-popcount matrix-vector unit: MW input bits -> MH outputs.

    With thresholds, output n is the bit (popcount_n >= T[n]); without, it is the
    signed dot product 2*popcount_n - MW.  Folding: SIMD input bits and PE
    neurons per cycle, so one vector takes (MH/PE) * (MW/SIMD) cycles.
    """

    name: str
    weights: np.ndarray                 # uint8 [MH, MW], 1 = +1
    thresholds: np.ndarray | None       # int64 [MH] in 0..MW+1, or None for the dot-product output
    pe: int = 1
    simd: int = 1
    ram_style: str = "auto"

    kind = "MVAU"

    @property
    def mw(self) -> int:
        return self.weights.shape[1]

    @property
    def mh(self) -> int:
        return self.weights.shape[0]

    @property
    def sf(self) -> int:
        return self.mw // self.simd

    @property
    def nf(self) -> int:
        return self.mh // self.pe

    @property
    def acc_bits(self) -> int:
        return clog2(self.mw + 1)

    @property
    def thresh_bits(self) -> int:
        return clog2(self.mw + 2)

    @property
    def out_bits(self) -> int:
        return 1 if self.thresholds is not None else self.acc_bits + 1

    @property
    def in_elems(self) -> int:
        return self.mw

    @property
    def out_elems(self) -> int:
        return self.mh

    @property
    def in_bits(self) -> int:
        return 1

    @property
    def out_signed(self) -> bool:
        return self.thresholds is None

    @property
    def in_width(self) -> int:
        return self.simd

    @property
    def out_width(self) -> int:
        return self.pe * self.out_bits

    def check_folding(self) -> None:
        if self.mw % self.simd or self.mh % self.pe:
            raise HwflowError(
                f"layer {self.name}: SIMD={self.simd} must divide MW={self.mw} and PE={self.pe} must divide "
                f"MH={self.mh}; valid SIMD: {divisors(self.mw)}, valid PE: {divisors(self.mh)}")

    def cycles(self) -> int:
        """Cycles per image at full throughput (the layer's initiation interval)."""
        return self.nf * self.sf

    def execute(self, x: np.ndarray) -> np.ndarray:
        """x: bits [N, MW] -> bits or signed dot products [N, MH] (int64)."""
        x = np.asarray(x, dtype=np.int64)
        w = self.weights.astype(np.int64)
        # matches = x.w + (1-x).(1-w), done as two integer matmuls
        pc = x @ w.T + (1 - x) @ (1 - w).T
        if self.thresholds is None:
            return 2 * pc - self.mw
        return (pc >= self.thresholds[None, :]).astype(np.int64)

    def resources(self) -> dict:
        """Analytic LUT/FF/BRAM18 estimate (7-series); calibrated against synthesis later."""
        pe, simd = self.pe, self.simd
        # XNOR folds into the popcount's first LUT level: about one LUT per synapse bit,
        # plus the accumulator and comparator per PE and a fixed control cost.
        lut = pe * (simd + 2 * self.acc_bits + (self.thresh_bits if self.thresholds is not None else 0)) + 40
        ff = pe * (2 * self.acc_bits + ceil(simd / 2)) + self.mw + 40
        depth, width = self.nf * self.sf, pe * simd
        bram = 0
        if self._weights_in_bram():
            bram = ceil(width / 36) * ceil(depth / 512)
        else:
            lut += width * ceil(depth / 64)
        return {"lut": int(lut), "ff": int(ff), "bram18": int(bram)}

    def _weights_in_bram(self) -> bool:
        if self.ram_style in ("block", "distributed"):
            return self.ram_style == "block"
        return self.nf * self.sf >= 128 and self.pe * self.simd * self.nf * self.sf >= 16384

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "mw": self.mw, "mh": self.mh, "pe": self.pe,
                "simd": self.simd, "thresholded": self.thresholds is not None, "ram_style": self.ram_style}


@dataclass
class Dataflow:
    """Host head + hardware layers + host tail, executable end to end in numpy/qonnx."""

    layers: list[MVAU]
    head: ModelWrapper
    tail: ModelWrapper
    input_shape: tuple            # per-image shape of the model input
    tail_offset: np.ndarray = field(default=None)  # popcount = (dot + MW) / 2 feeds the tail

    # --- execution -----------------------------------------------------------------
    def run_head(self, x: np.ndarray) -> np.ndarray:
        """Float model inputs [N, *input_shape] -> bits [N, MW0] as the hardware takes them."""
        return _run_batched(self.head, x).reshape(len(x), -1).astype(np.int64)

    def execute_hw(self, bits: np.ndarray) -> np.ndarray:
        """The hardware part in numpy: bits [N, MW0] -> integers [N, MH_last]."""
        y = bits
        for layer in self.layers:
            y = layer.execute(y)
        return y

    def run_tail(self, dots: np.ndarray) -> np.ndarray:
        """Integer outputs of the last layer -> the model's float outputs."""
        pc = (dots + self.layers[-1].mw) // 2
        return _run_batched(self.tail, pc.astype(np.float32))

    def execute(self, x: np.ndarray) -> np.ndarray:
        return self.run_tail(self.execute_hw(self.run_head(x)))

    # --- analysis ------------------------------------------------------------------
    def cycles(self) -> int:
        return max(layer.cycles() for layer in self.layers)

    def resources(self) -> dict:
        total = {"lut": 0, "ff": 0, "bram18": 0}
        for layer in self.layers:
            for k, v in layer.resources().items():
                total[k] += v
        return total

    # --- persistence ---------------------------------------------------------------
    def save(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        arrays = {}
        for i, layer in enumerate(self.layers):
            arrays[f"w{i}"] = layer.weights
            if layer.thresholds is not None:
                arrays[f"t{i}"] = layer.thresholds
        np.savez_compressed(out / "dataflow.npz", **arrays)
        (out / "dataflow.json").write_text(json.dumps(
            {"input_shape": list(self.input_shape), "layers": [lay.to_json() for lay in self.layers]}, indent=1))
        self.head.save(str(out / "head.onnx"))
        self.tail.save(str(out / "tail.onnx"))

    @classmethod
    def load(cls, out: Path) -> "Dataflow":
        meta = json.loads((out / "dataflow.json").read_text())
        arrays = np.load(out / "dataflow.npz")
        layers = []
        for i, d in enumerate(meta["layers"]):
            t = arrays[f"t{i}"] if d["thresholded"] else None
            layers.append(MVAU(d["name"], arrays[f"w{i}"], t, d["pe"], d["simd"], d.get("ram_style", "auto")))
        return cls(layers, ModelWrapper(str(out / "head.onnx")), ModelWrapper(str(out / "tail.onnx")),
                   tuple(meta["input_shape"]))


def _run_batched(model: ModelWrapper, x: np.ndarray) -> np.ndarray:
    """Execute a (small) sub-model on a whole batch by giving its input the batch size."""
    iname, oname = model.graph.input[0].name, model.graph.output[0].name
    shape = list(model.get_tensor_shape(iname))
    batched = ModelWrapper(model.model.__deepcopy__())
    batched.set_tensor_shape(iname, [len(x)] + shape[1:])
    # intermediate shapes carry the old batch size: infer them afresh
    del batched.graph.value_info[:]
    for o in batched.graph.output:
        o.type.tensor_type.ClearField("shape")
    batched = batched.transform(InferShapes())
    return execute_onnx(batched, {iname: np.asarray(x, dtype=np.float32)})[oname]


# --- lowering ------------------------------------------------------------------------

def lower(model: ModelWrapper) -> Dataflow:
    """Map a streamlined graph onto hardware layers; anything that does not fit is named."""
    xnors = [n for n in model.graph.node if n.op_type == "XnorPopcountMatMul"]
    _check_all_binary(model)
    if not xnors:
        raise HwflowError("the model has no binary matrix product: hwflow needs QuantLinear layers with 1-bit "
                          "weights fed by 1-bit activations")
    inp = model.graph.input[0].name
    head = extract(model, [inp], [xnors[0].input[0]])
    for n in head.graph.node:
        if n.op_type not in HEAD_OPS:
            raise HwflowError(f"unsupported op before the first layer: {node_label(n)}")
    layers = []
    for i, xn in enumerate(xnors):
        w01 = model.get_initializer(xn.input[1])
        consumer = model.find_consumers(xn.output[0])
        is_last = i == len(xnors) - 1
        if not is_last:
            mt = consumer[0] if len(consumer) == 1 else None
            if mt is None or mt.op_type != "MultiThreshold" or model.find_consumers(mt.output[0])[0] is not xnors[i + 1]:
                what = node_label(consumer[0]) if consumer else "nothing"
                raise HwflowError(f"unsupported structure after layer {i} ({node_label(xn)}): found {what}; "
                                  "hidden layers must be QuantLinear -> BatchNorm -> 1-bit QuantIdentity")
            t = model.get_initializer(mt.input[1])
            if t is None or t.shape[1] != 1:
                raise HwflowError(f"{node_label(mt)}: only 1-bit activations are supported between layers")
            thresholds = t[:, 0].astype(np.int64)
        else:
            thresholds = None
        layers.append(MVAU(f"mvau{i}", w01.T.astype(np.uint8).copy(), thresholds))
    tail = extract(model, [xnors[-1].output[0]], [model.graph.output[0].name])
    for n in tail.graph.node:
        if n.op_type not in TAIL_OPS:
            raise HwflowError(f"unsupported op after the last layer: {node_label(n)}")
    in_shape = tuple(model.get_tensor_shape(inp))[1:]
    return Dataflow(layers, head, tail, in_shape)


def _check_all_binary(model: ModelWrapper) -> None:
    """Every matrix product must have become XNOR-popcount; say why one did not."""
    for n in model.graph.node:
        if n.op_type in ("MatMul", "Gemm", "Conv"):
            if n.op_type == "Conv":
                raise HwflowError(f"{node_label(n)}: convolutions are not supported yet; "
                                  "hwflow builds binary MLPs (QuantLinear + BatchNorm1d + 1-bit QuantIdentity)")
            w = model.get_initializer(n.input[1])
            if w is None:
                raise HwflowError(f"{node_label(n)}: weights are not constant")
            vals = np.unique(np.abs(w))
            if vals.size != 1:
                raise HwflowError(f"{node_label(n)}: weights are not binary ({np.unique(w).size} distinct values); "
                                  "use QuantLinear with weight_bit_width=1 (SignedBinaryWeightPerTensorConst)")
            prod = model.find_producer(n.input[0])
            what = node_label(prod) if prod is not None else "the graph input"
            raise HwflowError(f"{node_label(n)}: input is not a 1-bit activation (it comes from {what}); "
                              "put a 1-bit QuantIdentity (SignedBinaryActPerTensorConst) before every QuantLinear")
    for n in model.graph.node:
        if n.op_type in ("Quant", "BipolarQuant", "Relu", "Sigmoid", "Tanh", "HardTanh", "Clip", "MaxPool",
                         "AveragePool", "Trunc"):
            raise HwflowError(f"unsupported op {node_label(n)}: hwflow supports 1-bit activations "
                              "(BipolarQuant) and binary weights only")
