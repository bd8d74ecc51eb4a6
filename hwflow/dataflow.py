"""Dataflow IR: typed hardware layers, each with a numpy meaning, folding, cycles and resources.

A `Dataflow` is a host-side head (float input -> bits, an ONNX sub-model), a
chain of hardware layers that streams bits in and integers out, and a host-side
tail (integers -> the model's float outputs, an ONNX sub-model).  The hardware
part is what the RTL implements and what rtlsim is checked against, bit for bit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from math import ceil, log2
from pathlib import Path

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes

from hwflow.errors import HwflowError
from hwflow.graph import extract, node_label

HEAD_OPS = {"Reshape", "Flatten", "Mul", "Add", "Sub", "Div", "MultiThreshold", "Identity", "Quant", "Round"}
TAIL_OPS = {"Mul", "Add", "Sub", "Div", "BatchNormalization", "Softmax", "LogSoftmax", "Identity",
            "Reshape", "Flatten"}


def clog2(n: int) -> int:
    return max(1, ceil(log2(n))) if n > 1 else 1


def _exact_matmul(a: np.ndarray, b: np.ndarray, bound: int) -> np.ndarray:
    """Integer-valued a @ b on BLAS, exactly: float32 while every partial sum stays below
    2^24 in magnitude (|sums| <= bound), float64 otherwise."""
    if bound >= 1 << 24:
        a, b = a.astype(np.float64), b.astype(np.float64)
    return np.rint(a @ b).astype(np.int64)


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


class StreamLayer:
    """What every hardware layer tells the stitcher and the simulator about its streams.

    Elements of one image stream LSB-first; `*_elems` per image, `*_epb` elements per
    beat, `*_elem_bits` bits per element.
    """

    kind = "?"

    @property
    def in_width(self) -> int:
        return self.in_epb * self.in_elem_bits

    @property
    def out_width(self) -> int:
        return self.out_epb * self.out_elem_bits

    @property
    def in_beats(self) -> int:
        return self.in_elems // self.in_epb

    @property
    def out_beats(self) -> int:
        return self.out_elems // self.out_epb

    out_signed = False

    def check_folding(self) -> None:
        width = getattr(self, "simd", None) or getattr(self, "pe", 1)
        if self.ch % width:
            raise HwflowError(f"layer {self.name}: {width} channels per beat must divide its {self.ch} channels")


@dataclass
class MVAU(StreamLayer):
    """Matrix-vector unit with binary weights: MW inputs -> MH outputs, `vectors` times per image.

    1-bit inputs (in_bits == 1): XNOR-popcount; thresholded output n is the bit
    (popcount_n >= T[n]), otherwise the signed dot product 2*popcount_n - MW.
    Multi-bit inputs (the first layer of a conv net): acc_n = sum(w ? a : -a), output
    bit (acc_n >= T[n]) or acc_n itself.  Folding: SIMD inputs and PE neurons per
    cycle, so one vector takes (MH/PE) * (MW/SIMD) cycles.  A conv layer is an MVAU
    with one vector per output pixel, fed by a sliding-window generator.
    """

    name: str
    weights: np.ndarray                 # uint8 [MH, MW], 1 = +1
    thresholds: np.ndarray | None       # int64 [MH], or None for the integer output
    pe: int = 1
    simd: int = 1
    ram_style: str = "auto"
    in_bits: int = 1
    in_signed: bool = True
    vectors: int = 1                    # input vectors per image (output pixels for a conv)
    simd_base: int = 0                  # SIMD must also divide this (input channels of a conv)

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
        return clog2(self.mw + 1) if self.in_bits == 1 else self.in_bits + clog2(self.mw) + 2

    @property
    def thresh_bits(self) -> int:
        return clog2(self.mw + 2) if self.in_bits == 1 else self.acc_bits

    @property
    def out_bits(self) -> int:
        if self.thresholds is not None:
            return 1
        return self.acc_bits + 1 if self.in_bits == 1 else self.acc_bits

    in_elem_bits = property(lambda self: self.in_bits)
    out_elem_bits = property(lambda self: self.out_bits)
    in_epb = property(lambda self: self.simd)
    out_epb = property(lambda self: self.pe)
    in_elems = property(lambda self: self.vectors * self.mw)
    out_elems = property(lambda self: self.vectors * self.mh)

    @property
    def out_signed(self) -> bool:
        return self.thresholds is None

    def check_folding(self) -> None:
        base = self.simd_base or self.mw
        if self.mw % self.simd or base % self.simd or self.mh % self.pe:
            simds = [d for d in divisors(self.mw) if base % d == 0]
            raise HwflowError(
                f"layer {self.name}: SIMD={self.simd} must divide {base} and PE={self.pe} must divide "
                f"MH={self.mh}; valid SIMD: {simds}, valid PE: {divisors(self.mh)}")

    def cycles(self) -> int:
        """Cycles per image at full throughput (the layer's initiation interval)."""
        return self.vectors * self.nf * self.sf

    def execute(self, x: np.ndarray) -> np.ndarray:
        """x: [N, vectors*MW] bits or integers -> [N, vectors*MH] bits or integers (int64)."""
        n = len(x)
        w = self.weights.astype(np.float32)
        x = np.asarray(x, dtype=np.float32).reshape(n * self.vectors, self.mw)
        if self.in_bits == 1:
            # matches = x.w + (1-x).(1-w) = 2 x.w - sum(x) - sum(w) + MW; the dot product is 2*matches - MW
            xw = _exact_matmul(x, w.T, self.mw)
            acc = 2 * xw - x.sum(axis=1, dtype=np.int64)[:, None] - w.sum(axis=1, dtype=np.int64)[None, :] + self.mw
            dot = 2 * acc - self.mw
        else:
            acc = dot = _exact_matmul(x, (2 * w - 1).T, self.mw << (self.in_bits - 1 + (not self.in_signed)))
        y = dot if self.thresholds is None else (acc >= self.thresholds[None, :]).astype(np.int64)
        return y.reshape(n, self.vectors * self.mh)

    def resources(self) -> dict:
        """Analytic LUT/FF/BRAM18 estimate (7-series); calibrated against synthesis later."""
        pe, simd = self.pe, self.simd
        # 1-bit: the XNOR folds into the popcount's first LUT level, about one LUT per
        # synapse; multi-bit: an adder tree of in_bits-wide operands per PE.
        per_syn = 1 if self.in_bits == 1 else self.in_bits
        thr = self.thresh_bits if self.thresholds is not None else 0
        lut = pe * (per_syn * simd + 2 * self.acc_bits + thr) + 40
        ff = pe * (2 * self.acc_bits + ceil(simd / 2)) + self.mw * self.in_bits + 40
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
                "simd": self.simd, "thresholded": self.thresholds is not None, "ram_style": self.ram_style,
                "in_bits": self.in_bits, "in_signed": self.in_signed, "vectors": self.vectors,
                "simd_base": self.simd_base}


@dataclass
class SWG(StreamLayer):
    """Sliding-window generator: an NHWC image in, each output pixel's KxKxC window out
    in (ky, kx, c) order: the im2col rows a conv MVAU reads."""

    name: str
    ifm_dim: int
    ch: int
    k: int
    stride: int = 1
    simd: int = 1
    elem_bits: int = 1
    signed: bool = True               # multi-bit elements are two's complement

    kind = "SWG"

    @property
    def ofm_dim(self) -> int:
        return (self.ifm_dim - self.k) // self.stride + 1

    in_elem_bits = out_elem_bits = property(lambda self: self.elem_bits)
    in_epb = out_epb = property(lambda self: self.simd)
    in_elems = property(lambda self: self.ifm_dim ** 2 * self.ch)
    out_elems = property(lambda self: self.ofm_dim ** 2 * self.k ** 2 * self.ch)

    @property
    def out_signed(self) -> bool:
        return self.elem_bits > 1 and self.signed

    def cycles(self) -> int:
        return max(self.ifm_dim ** 2, self.ofm_dim ** 2 * self.k ** 2) * self.ch // self.simd

    def execute(self, x: np.ndarray) -> np.ndarray:
        n, d, o, k, st = len(x), self.ifm_dim, self.ofm_dim, self.k, self.stride
        img = np.asarray(x).reshape(n, d, d, self.ch)
        # a view [n, oy, ox, c, ky, kx]; one copy when reordered to (oy, ox, ky, kx, c)
        win = np.lib.stride_tricks.sliding_window_view(img, (k, k), axis=(1, 2))[:, ::st, ::st][:, :o, :o]
        return np.ascontiguousarray(win.transpose(0, 1, 2, 4, 5, 3)).reshape(n, -1)

    def resources(self) -> dict:
        bits = (self.k + 1) * self.ifm_dim * self.ch * self.elem_bits
        return {"lut": 60 + 4 * self.simd * self.elem_bits, "ff": 80 + 2 * self.simd * self.elem_bits,
                "bram18": ceil(bits / 18432) if bits > 4096 else 0}

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "ifm_dim": self.ifm_dim, "ch": self.ch, "k": self.k,
                "stride": self.stride, "simd": self.simd, "elem_bits": self.elem_bits, "signed": self.signed}


@dataclass
class MaxPool(StreamLayer):
    """Max-pool of 1-bit values (OR), pool size = stride, NHWC, PE channels per beat."""

    name: str
    ifm_dim: int
    ch: int
    pool: int = 2
    pe: int = 1

    kind = "MaxPool"

    @property
    def ofm_dim(self) -> int:
        return self.ifm_dim // self.pool

    in_elem_bits = out_elem_bits = property(lambda self: 1)
    in_epb = out_epb = property(lambda self: self.pe)
    in_elems = property(lambda self: self.ifm_dim ** 2 * self.ch)
    out_elems = property(lambda self: self.ofm_dim ** 2 * self.ch)

    def cycles(self) -> int:
        return self.ifm_dim ** 2 * self.ch // self.pe

    def execute(self, x: np.ndarray) -> np.ndarray:
        n, o, p = len(x), self.ofm_dim, self.pool
        img = np.asarray(x).reshape(n, self.ifm_dim, self.ifm_dim, self.ch)[:, :o * p, :o * p, :]
        return img.reshape(n, o, p, o, p, self.ch).max(axis=(2, 4)).reshape(n, -1)

    def resources(self) -> dict:
        return {"lut": 30 + 3 * self.pe + self.ofm_dim * self.ch // 64, "ff": 40 + 2 * self.pe, "bram18": 0}

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "ifm_dim": self.ifm_dim, "ch": self.ch,
                "pool": self.pool, "pe": self.pe}


def tie_widths(layers: list) -> None:
    """SWGs take their consumer MVAU's SIMD, max-pools their producer's PE."""
    for i, layer in enumerate(layers):
        if isinstance(layer, SWG):
            layer.simd = layers[i + 1].simd
        elif isinstance(layer, MaxPool):
            layer.pe = layers[i - 1].pe if i > 0 and isinstance(layers[i - 1], MVAU) else layer.pe


# elements of the widest intermediate stream held at once by a chunked execution (~32 MB as int64)
CHUNK_ELEMS = 1 << 22


def images_per_chunk(layers: list, budget: int = CHUNK_ELEMS) -> int:
    """How many images a chunked execution of `layers` takes at once."""
    widest = max(max(lay.in_elems, lay.out_elems) for lay in layers)
    return max(1, budget // widest)


def execute_chunked(layers: list, x: np.ndarray) -> np.ndarray:
    """Run a chain of layers on x [N, E] in chunks of images; the outputs are concatenated."""
    x = np.asarray(x)
    step = images_per_chunk(layers)
    outs = []
    for s in range(0, len(x), step):
        y = x[s:s + step]
        for layer in layers:
            y = layer.execute(y)
        outs.append(y)
    if not outs:
        return np.zeros((0, layers[-1].out_elems), dtype=np.int64)
    return np.concatenate(outs)


@dataclass
class Dataflow:
    """Host head + hardware layers + host tail, executable end to end in numpy/qonnx."""

    layers: list
    head: ModelWrapper
    tail: ModelWrapper
    input_shape: tuple            # per-image shape of the model input

    @property
    def mvaus(self) -> list[MVAU]:
        return [lay for lay in self.layers if isinstance(lay, MVAU)]

    # --- execution -----------------------------------------------------------------
    def run_head(self, x: np.ndarray) -> np.ndarray:
        """Float model inputs [N, *input_shape] -> the hardware's input elements [N, E]
        (images go NCHW -> NHWC: the hardware streams pixels, channels innermost)."""
        h = _run_batched(self.head, np.asarray(x, dtype=np.float32))
        if h.ndim == 4:
            h = h.transpose(0, 2, 3, 1)
        return np.rint(h.reshape(len(x), -1)).astype(np.int64)

    def execute_hw(self, bits: np.ndarray) -> np.ndarray:
        """The hardware part in numpy: input elements -> the last layer's integers.

        Runs in chunks of images so that no intermediate stream (a window generator's
        output can be 100x its input) takes more than a bounded amount of memory."""
        return execute_chunked(self.layers, bits)

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
            if isinstance(layer, MVAU):
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
            d = dict(d)
            kind = d.pop("kind", "MVAU")
            if kind == "MVAU":
                t = arrays[f"t{i}"] if d.pop("thresholded") else None
                d.pop("mw"), d.pop("mh")
                layers.append(MVAU(weights=arrays[f"w{i}"], thresholds=t, **d))
            else:
                layers.append({"SWG": SWG, "MaxPool": MaxPool}[kind](**d))
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

def _is_hw_node(model: ModelWrapper, n) -> bool:
    """A matrix product the streamlining made integer: XNOR-popcount, or a +-1 Conv on ints/+-1."""
    if n.op_type == "XnorPopcountMatMul":
        return True
    return n.op_type == "Conv" and model.get_tensor_datatype(n.input[0]).name != "FLOAT32"


def _hw_input(model: ModelWrapper, first) -> str:
    """The tensor the hardware receives: bits (before the +-1 decode of a conv) or integers."""
    src = first.input[0]
    if first.op_type == "Conv" and model.get_tensor_datatype(src).name == "BIPOLAR":
        return model.find_producer(model.find_producer(src).input[0]).input[0]
    return src


def _thresholds(model: ModelWrapper, mt) -> np.ndarray:
    t = model.get_initializer(mt.input[1])
    if t is None or t.shape[1] != 1:
        raise HwflowError(f"{node_label(mt)}: only 1-bit activations are supported between layers")
    return t[:, 0].astype(np.int64)


class _Lowering:
    """Walks a streamlined graph from the hardware input to the last matrix product."""

    def __init__(self, model: ModelWrapper):
        self.model, self.layers, self.flatten = model, [], None

    def run(self) -> list:
        m = self.model
        hw_nodes = [n for n in m.graph.node if _is_hw_node(m, n)]
        for i, node in enumerate(hw_nodes):
            last = i == len(hw_nodes) - 1
            nxt = m.find_consumers(node.output[0]) or []
            mt = nxt[0] if len(nxt) == 1 and nxt[0].op_type == "MultiThreshold" else None
            if mt is None and not last:
                what = node_label(nxt[0]) if nxt else "nothing"
                raise HwflowError(f"unsupported structure after {node_label(node)}: found {what}; hidden "
                                  "layers must be QuantLinear/QuantConv2d -> BatchNorm -> 1-bit QuantIdentity")
            if node.op_type == "Conv":
                if last:
                    raise HwflowError(f"{node_label(node)}: a convolution as the last layer is not supported; "
                                      "end the network with a QuantLinear")
                self._conv(node, mt, f"mvau{len(self.mvaus)}")
                self._between(mt.output[0], hw_nodes[i + 1])
            else:
                self._fc(node, None if last else mt)
                if not last:
                    self._between(mt.output[0], hw_nodes[i + 1])
        return self.layers

    @property
    def mvaus(self):
        return [lay for lay in self.layers if isinstance(lay, MVAU)]

    def _conv(self, node, mt, name):
        m = self.model
        w = m.get_initializer(node.input[1])                       # [OC, IC, K, K], +-1
        oc, ic, k, _ = w.shape
        _, _, dim, _ = m.get_tensor_shape(node.input[0])
        dt = m.get_tensor_datatype(node.input[0])
        bits = 1 if dt.name == "BIPOLAR" else dt.bitwidth()
        w_hw = (w.transpose(0, 2, 3, 1).reshape(oc, -1) > 0).astype(np.uint8)   # columns in (ky, kx, ic)
        t = _thresholds(m, mt)
        if bits == 1:  # the graph thresholds dot = 2*pc - MW; the hardware counts pc
            t = np.clip(np.ceil((t + w_hw.shape[1]) / 2), 0, w_hw.shape[1] + 1).astype(np.int64)
        swg = SWG(f"swg{len(self.mvaus)}", dim, ic, k, 1, 1, bits, dt.signed())
        self.layers += [swg, MVAU(name, w_hw, t, in_bits=bits, in_signed=dt.signed(), vectors=swg.ofm_dim ** 2,
                                  simd_base=ic)]
        self.shape = (oc, swg.ofm_dim, swg.ofm_dim)

    def _fc(self, node, mt):
        w01 = self.model.get_initializer(node.input[1])           # [K, N] bits, rows in graph order
        if self.flatten is not None:  # the graph flattened NCHW, the stream is NHWC: reorder rows
            c, h, wd = self.flatten
            order = np.arange(c * h * wd).reshape(c, h, wd).transpose(1, 2, 0).reshape(-1)
            w01 = w01[order]
            self.flatten = None
        t = _thresholds(self.model, mt) if mt is not None else None
        self.layers.append(MVAU(f"mvau{len(self.mvaus)}", w01.T.astype(np.uint8).copy(), t))

    def _between(self, tensor, target):
        """Max-pools and flattens between two matrix products; anything else is refused."""
        m = self.model
        while True:
            nxt = m.find_consumers(tensor) or []
            if len(nxt) != 1:
                raise HwflowError(f"unsupported fan-out of tensor {tensor}")
            n = nxt[0]
            if n is target:
                return
            if n.op_type == "MaxPool":
                attr = {a.name: helper.get_attribute_value(a) for a in n.attribute}
                ks, st = list(attr.get("kernel_shape")), list(attr.get("strides", attr.get("kernel_shape")))
                if ks[0] != ks[1] or st != ks or any(attr.get("pads", [0])) or attr.get("ceil_mode", 0):
                    raise HwflowError(f"{node_label(n)}: only square max-pools with stride = size and no "
                                      "padding are supported")
                c, dim, _ = self.shape
                pool = MaxPool(f"pool{len(self.mvaus) - 1}", dim, c, ks[0])
                self.layers.append(pool)
                self.shape = (c, pool.ofm_dim, pool.ofm_dim)
            elif n.op_type in ("Flatten", "Reshape"):
                if getattr(self, "shape", None) is not None:
                    self.flatten = self.shape
                    self.shape = None
            elif n.op_type in ("Mul", "Add") and target.op_type == "Conv":
                pass  # the +-1 decode in front of a conv: the hardware reads the bits
            else:
                raise HwflowError(f"unsupported op between layers: {node_label(n)}")
            tensor = n.output[0]


def lower(model: ModelWrapper) -> Dataflow:
    """Map a streamlined graph onto hardware layers; anything that does not fit is named."""
    _check_all_binary(model)
    hw_nodes = [n for n in model.graph.node if _is_hw_node(model, n)]
    if not hw_nodes or hw_nodes[-1].op_type != "XnorPopcountMatMul":
        raise HwflowError("the model has no binary matrix product at its end: hwflow needs QuantLinear layers "
                          "with 1-bit weights fed by 1-bit activations (the last one producing the outputs)")
    inp = model.graph.input[0].name
    head = extract(model, [inp], [_hw_input(model, hw_nodes[0])])
    for n in head.graph.node:
        if n.op_type not in HEAD_OPS:
            raise HwflowError(f"unsupported op before the first layer: {node_label(n)}")
    layers = _Lowering(model).run()
    tail = extract(model, [hw_nodes[-1].output[0]], [model.graph.output[0].name])
    for n in tail.graph.node:
        if n.op_type not in TAIL_OPS:
            raise HwflowError(f"unsupported op after the last layer: {node_label(n)}")
    in_shape = tuple(model.get_tensor_shape(inp))[1:]
    return Dataflow(layers, head, tail, in_shape)


def _check_all_binary(model: ModelWrapper) -> None:
    """Every matrix product must have become an integer one; say why one did not."""
    from hwflow.streamline import _conv_check
    for n in model.graph.node:
        if n.op_type not in ("MatMul", "Gemm", "Conv") or _is_hw_node(model, n):
            continue
        what_layer = "QuantConv2d" if n.op_type == "Conv" else "QuantLinear"
        w = model.get_initializer(n.input[1])
        if w is None:
            raise HwflowError(f"{node_label(n)}: weights are not constant")
        if np.unique(np.abs(w)).size != 1:
            raise HwflowError(f"{node_label(n)}: weights are not binary ({np.unique(w).size} distinct values); "
                              f"use {what_layer} with weight_bit_width=1 (SignedBinaryWeightPerTensorConst)")
        if n.op_type == "Conv":
            _conv_check(model, n)
        prod = model.find_producer(n.input[0])
        what = node_label(prod) if prod is not None else "the graph input"
        raise HwflowError(f"{node_label(n)}: input is not a 1-bit activation (it comes from {what}); "
                          f"put a 1-bit QuantIdentity (SignedBinaryActPerTensorConst) before every {what_layer}")
    for n in model.graph.node:
        input_quant = n.op_type == "Quant" and model.get_initializer(n.input[0]) is None and any(
            c.op_type == "Mul" for c in model.find_consumers(n.output[0]) or [])
        if n.op_type in ("Quant", "BipolarQuant", "Relu", "Sigmoid", "Tanh", "HardTanh", "Clip",
                         "AveragePool", "Trunc") and not input_quant:
            raise HwflowError(f"unsupported op {node_label(n)}: hwflow supports 1-bit activations "
                              "(BipolarQuant), an integer input quantizer and binary weights only")
