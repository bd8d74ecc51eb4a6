"""Dataflow IR and lowering: a streamlined QONNX graph -> host head + stream graph of layers + host tail.

A `Dataflow` is a host-side head (float input -> the hardware's input elements, an ONNX
sub-model), a graph of typed hardware layers (hwflow.layers) connected by named streams
(hwflow.streams), and a host-side tail (output integers -> the model's float outputs, an
ONNX sub-model).  The hardware part is what the RTL implements and what rtlsim is
checked against, bit for bit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes

from hwflow.errors import HwflowError
from hwflow.graph import extract, node_label, single_consumer
from hwflow.layers import MVAU, SWG, AddStreams, Concat, Dup, LabelSelect, MaxPool, Pad, Pool, Threshold, \
    layer_from_json
from hwflow.layers.base import BIPOLAR, int_type
from hwflow.streams import StreamGraph

HEAD_OPS = {"Reshape", "Flatten", "Mul", "Add", "Sub", "Div", "MultiThreshold", "Identity", "Quant", "Round"}
TAIL_OPS = {"Mul", "Add", "Sub", "Div", "BatchNormalization", "Softmax", "LogSoftmax", "Identity",
            "Reshape", "Flatten", "ArgMax"}


# elements of the widest intermediate stream held at once by a chunked execution (~32 MB as int64)
CHUNK_ELEMS = 1 << 22


def images_per_chunk(layers: list, budget: int = CHUNK_ELEMS) -> int:
    """How many images a chunked execution of `layers` takes at once."""
    widest = max(max(lay.in_elems, lay.out_elems) for lay in layers)
    return max(1, budget // widest)


def walk_chunks(net, x: np.ndarray, n: int | None = None):
    """Run a stream graph (or a chain of layers) on the first n images of x [N, E] in chunks,
    so that no intermediate stream (a window generator's output can be 100x its input) takes
    more than a bounded amount of memory.  Yields (first image, layer, its input, its output)
    layer by layer; a stream is dropped once its consumer has read it."""
    net = StreamGraph.of(net)
    n = len(x) if n is None else n
    step = images_per_chunk(net.layers)
    for s in range(0, n, step):
        values = {net.inputs[0]: np.asarray(x[s:min(s + step, n)])}
        for layer in net.layers:
            ys = [values.pop(i) for i in net.ins(layer)]
            outs = layer.run(ys)
            values.update(zip(net.outs(layer), outs))
            yield s, layer, ys[0], outs[0]


def execute_chunked(net, x: np.ndarray) -> np.ndarray:
    """Run a stream graph (or a chain of layers) on x [N, E] in chunks of images; the outputs
    are concatenated."""
    net = StreamGraph.of(net)
    outs = [y for _, layer, _, y in walk_chunks(net, x) if layer is net.last]
    if not outs:
        return np.zeros((0, net.last.out_elems), dtype=np.int64)
    return np.concatenate(outs)


@dataclass
class Dataflow:
    """Host head + a graph of hardware layers + host tail, executable end to end in numpy/qonnx.

    The tail reads `tail_scale * y + tail_bias` of the hardware's output integers y (the
    last layer's dot products 2*pc - MW are read back as the popcounts pc the tail graph
    starts from): one rule, used by the build, the simulators and the deployed driver.
    """

    net: StreamGraph
    head: ModelWrapper
    tail: ModelWrapper
    input_shape: tuple            # per-image shape of the model input
    tail_scale: float = 1.0
    tail_bias: float = 0.0

    @property
    def layers(self) -> list:
        return self.net.layers

    # --- execution -----------------------------------------------------------------
    def run_head(self, x: np.ndarray) -> np.ndarray:
        """Float model inputs [N, *input_shape] -> the hardware's input elements [N, E]
        (images go NCHW -> NHWC: the hardware streams pixels, channels innermost)."""
        h = _run_batched(self.head, np.asarray(x, dtype=np.float32))
        if h.ndim == 4:
            h = h.transpose(0, 2, 3, 1)
        return np.rint(h.reshape(len(x), -1)).astype(np.int64)

    def execute_hw(self, bits: np.ndarray) -> np.ndarray:
        """The hardware part in numpy, in chunks of images: input elements -> output integers."""
        return execute_chunked(self.net, bits)

    def run_tail(self, ints: np.ndarray) -> np.ndarray:
        """Integer outputs of the hardware -> the model's float outputs."""
        return _run_batched(self.tail, (ints * self.tail_scale + self.tail_bias).astype(np.float32))

    def execute(self, x: np.ndarray) -> np.ndarray:
        return self.run_tail(self.execute_hw(self.run_head(x)))

    # --- analysis ------------------------------------------------------------------
    def cycles(self) -> int:
        return max(layer.cycles() for layer in self.layers)

    def resources(self) -> dict:
        """The layers' estimates plus the FIFOs and width converters on the streams between them."""
        total = self.net.stream_resources()
        for layer in self.layers:
            for k, v in layer.resources().items():
                total[k] += v
        return total

    # --- persistence ---------------------------------------------------------------
    def save(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        arrays = {f"{lay.name}/{k}": v for lay in self.layers for k, v in lay.arrays().items()}
        np.savez_compressed(out / "dataflow.npz", **arrays)
        layers = [{**lay.to_json(), "inputs": self.net.ins(lay), "outputs": self.net.outs(lay)}
                  for lay in self.layers]
        streams = {s: self.net.stream_type(s).to_json() for s in
                   dict.fromkeys([*self.net.inputs, *(s for lay in self.layers for s in self.net.outs(lay))])}
        (out / "dataflow.json").write_text(json.dumps(
            {"input_shape": list(self.input_shape), "tail_scale": self.tail_scale, "tail_bias": self.tail_bias,
             "streams": streams, "layers": layers}, indent=1))
        self.head.save(str(out / "head.onnx"))
        self.tail.save(str(out / "tail.onnx"))

    @classmethod
    def load(cls, out: Path) -> "Dataflow":
        meta = json.loads((out / "dataflow.json").read_text())
        npz = np.load(out / "dataflow.npz")
        layers, wires = [], {}
        for d in meta["layers"]:
            arrays = {k.split("/", 1)[1]: npz[k] for k in npz.files if k.split("/", 1)[0] == d["name"]}
            layers.append(layer_from_json(d, arrays))
            wires[d["name"]] = (d["inputs"], d["outputs"])
        return cls(StreamGraph(layers, wires), ModelWrapper(str(out / "head.onnx")),
                   ModelWrapper(str(out / "tail.onnx")), tuple(meta["input_shape"]), meta["tail_scale"],
                   meta["tail_bias"])


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

# activation widths the MVAU core and kernels take between layers
MAX_ACT_BITS = 8


def _is_hw_node(model: ModelWrapper, n) -> bool:
    """A matrix product the streamlining made integer: XNOR-popcount, or a Conv/MatMul with
    integer weights on +-1 or integer inputs."""
    from hwflow.streamline import MAX_WEIGHT_BITS
    if n.op_type == "XnorPopcountMatMul":
        return True
    if n.op_type not in ("Conv", "MatMul") or model.get_tensor_datatype(n.input[0]).name == "FLOAT32":
        return False
    w = model.get_initializer(n.input[1])
    return w is not None and np.array_equal(w, np.round(w)) and bool(np.abs(w).max() < 1 << (MAX_WEIGHT_BITS - 1))


def _hw_weights(w: np.ndarray) -> dict:
    """Integer weights [MH, MW] as the MVAU holds them: bits for +-1, else the smallest signed type."""
    if np.all(np.abs(w) == 1):
        return {"weights": (w > 0).astype(np.uint8), "w_dtype": BIPOLAR}
    bits = max(2, int(np.abs(w).max()).bit_length() + 1)
    return {"weights": w.astype(np.int8), "w_dtype": int_type(bits, True)}


def _hw_input(model: ModelWrapper, first) -> str:
    """The tensor the hardware receives: bits (before a +-1 decode) or integers."""
    src = first.input[0]
    if first.op_type in ("Conv", "MatMul") and model.get_tensor_datatype(src).name == "BIPOLAR":
        return model.find_producer(model.find_producer(src).input[0]).input[0]
    return src


def _activation(model: ModelWrapper, mt) -> dict:
    """A MultiThreshold as MVAU arguments: thresholds [C] (1-bit) or [C, NT] with the k-bit
    activation's type and lowest level."""
    from qonnx.util.basic import get_by_name
    t = model.get_initializer(mt.input[1])
    if t is None:
        raise HwflowError(f"{node_label(mt)}: thresholds are not constant")
    if not np.array_equal(t, np.round(t)):
        raise HwflowError(f"{node_label(mt)}: thresholds are not integers after folding; the activation must "
                          "follow an integer matrix product through BatchNorm/scale/offset only")
    out = get_by_name(mt.attribute, "out_dtype")
    act = DataType[out.s.decode()] if out is not None else DataType["BINARY"]
    if act in (DataType["BINARY"], DataType["BIPOLAR"]) and t.shape[1] == 1:
        return {"thresholds": t[:, 0].astype(np.int64)}
    if act.bitwidth() > MAX_ACT_BITS or not act.is_integer():
        raise HwflowError(f"{node_label(mt)}: {act.name} activations are not supported between layers: use "
                          f"at most {MAX_ACT_BITS}-bit integer activations")
    bias = get_by_name(mt.attribute, "out_bias")
    return {"thresholds": t.astype(np.int64), "out_act": act, "out_bias": int(bias.f) if bias is not None else 0}


def _is_pm_decode(model: ModelWrapper, n) -> bool:
    """One of the two nodes (Mul, Add) that turn bits b into 2b - 1 (typed BIPOLAR): the
    hardware keeps streaming the bits."""
    bip = DataType["BIPOLAR"]
    if n.op_type == "Add":
        return model.get_tensor_datatype(n.output[0]) == bip
    nxt = model.find_consumers(n.output[0]) or []
    return n.op_type == "Mul" and len(nxt) == 1 and nxt[0].op_type == "Add" and \
        model.get_tensor_datatype(nxt[0].output[0]) == bip


@dataclass
class _Ref:
    """Where an ONNX tensor of the streamlined graph is in the hardware: its stream, shape
    (C, H, W) or None once flattened (`flat` keeps the (C, H, W) the flatten came from, for
    the next FC's rows) and the stream's element type."""
    stream: str
    shape: tuple | None
    elem: DataType
    flat: tuple | None = None


class _Lowering:
    """Walks a streamlined graph from the hardware input to the last matrix product, node by
    node in graph order, building a stream graph: every tensor the hardware carries has a
    _Ref; a tensor read by several nodes goes through a Dup.  The helpers work on a cursor
    (stream, shape, elem, flatten) that `_at` loads from a _Ref and `_ref` saves."""

    def __init__(self, model: ModelWrapper):
        self.model, self.layers, self.wires = model, [], {}
        self.refs: dict[str, _Ref] = {}
        self.ports: dict[str, list[_Ref]] = {}   # a fanned-out tensor's unread Dup outputs
        self.stream, self.shape, self.elem, self.flatten = None, None, None, None

    # --- the cursor and the stream graph ------------------------------------------------
    def _at(self, ref: _Ref) -> None:
        self.stream, self.shape, self.elem, self.flatten = ref.stream, ref.shape, ref.elem, ref.flat

    def _ref(self) -> _Ref:
        return _Ref(self.stream, self.shape, self.elem, self.flatten)

    def _append(self, layer, ins: list[str] | None = None) -> list[str]:
        """Add a layer reading `ins` (default: the cursor's stream); returns its output streams
        and moves the cursor to the first."""
        outs = [f"{layer.name}_out{k}" if len(layer.out_types) > 1 else f"{layer.name}_out"
                for k in range(len(layer.out_types))]
        self.layers.append(layer)
        self.wires[layer.name] = (ins or [self.stream], outs)
        self.stream = outs[0]
        return outs

    def _take(self, tensor: str) -> _Ref:
        """The stream of `tensor` for one of its readers: a tensor read by several nodes is
        duplicated once, and each reader takes one copy."""
        ref = self.refs[tensor]
        readers = len(self.model.find_consumers(tensor) or [])
        if readers <= 1:
            return ref
        if tensor not in self.ports:
            self._at(ref)
            elems = int(np.prod(ref.shape if ref.shape is not None else ref.flat))
            ch = ref.shape[0] if ref.shape is not None else elems
            outs = self._append(Dup(f"dup{len(self.layers)}", ref.elem, elems, ch, readers))
            self.ports[tensor] = [_Ref(o, ref.shape, ref.elem, ref.flat) for o in outs]
        return self.ports[tensor].pop(0)

    # --- the walk -----------------------------------------------------------------------
    def run(self) -> tuple[list, dict]:
        m = self.model
        hw_nodes = [n for n in m.graph.node if _is_hw_node(m, n)]
        first = _hw_input(m, hw_nodes[0])
        shape = tuple(m.get_tensor_shape(first)[1:])
        dt = m.get_tensor_datatype(first)
        elem = BIPOLAR if dt.bitwidth() == 1 else int_type(dt.bitwidth(), dt.signed())
        self.refs[first] = _Ref("in", shape if len(shape) == 3 else None, elem, None if len(shape) == 3 else shape)
        done: set[str] = set()
        for node in m.graph.node:
            if node.name in done or not any(i in self.refs for i in node.input):
                continue
            if node is hw_nodes[-1]:
                self._product(node, None, last=True)
                break
            absorbed = self._node(node)
            done.update(n.name for n in absorbed)
        return self.layers, self.wires

    def _node(self, n) -> list:
        """Lower one node whose input the hardware carries; returns the nodes it absorbed."""
        from hwflow.streamline import pad_spec, sum_pool_output
        m = self.model
        if _is_hw_node(m, n):
            nxt = m.find_consumers(n.output[0]) or []
            mt = nxt[0] if len(nxt) == 1 and nxt[0].op_type == "MultiThreshold" else None
            if mt is None:
                what = node_label(nxt[0]) if nxt else "nothing"
                raise HwflowError(f"unsupported structure after {node_label(n)}: found {what}; hidden "
                                  "layers must be QuantLinear/QuantConv2d -> BatchNorm -> quantized activation")
            self._product(n, mt, last=False)
            return [mt]
        if n.op_type == "Add" and all(i in self.refs for i in n.input):
            self._add(n)
            return []
        if n.op_type == "Concat":
            self._concat(n)
            return []
        self._at(self._take(n.input[0]))
        out = n.output[0]
        if n.op_type == "MultiThreshold":
            self._threshold(n)
        elif n.op_type == "MaxPool":
            self._maxpool(n)
        elif n.op_type == "Pad" and pad_spec(m, n) is not None and self.shape is not None:
            pads, v = pad_spec(m, n)
            if m.get_tensor_datatype(n.input[0]).name == "BINARY":
                self._pad(pads, 2 * int(v) - 1)                     # bits padded with bits
            elif m.get_tensor_datatype(n.input[0]) == BIPOLAR:
                self._pad(pads, 0, int_type(2, True))              # +-1 padded with zeros
            else:
                self._pad(pads, int(v))
        elif n.op_type == "ReduceSum" and self.shape is not None:
            c, h, w = self.shape
            self._sum_pool(1, h * w)
            self.shape = (c, 1, 1)
        elif sum_pool_output(m, n) is not None and self.shape is not None:
            self._avg_pool(n)
            out = sum_pool_output(m, n)
            self.refs[out] = self._ref()
            return [m.find_producer(out), single_consumer(m, n.output[0])]
        elif n.op_type in ("Flatten", "Reshape"):
            if self.shape is not None:
                self.flatten, self.shape = self.shape, None
        elif n.op_type in ("Mul", "Add") and _is_pm_decode(m, n):
            pass  # the +-1 decode in front of an integer product: the hardware reads the bits
        else:
            raise HwflowError(f"unsupported op between layers: {node_label(n)}")
        self.refs[out] = self._ref()
        return []

    def _product(self, node, mt, last: bool) -> None:
        """A matrix product (and the activation after it) as an MVAU, with the window
        generator (and padding) of a convolution."""
        self._at(self._take(node.input[0]))
        if node.op_type == "Conv":
            if last:
                raise HwflowError(f"{node_label(node)}: a convolution as the last layer is not supported; "
                                  "end the network with a QuantLinear")
            self._conv(node, mt)
        else:
            self._fc(node, mt)
        if not last:
            self.elem = self.layers[-1].out_dtype
            self.refs[mt.output[0]] = self._ref()

    def _add(self, n) -> None:
        a, b = self._take(n.input[0]), self._take(n.input[1])
        if a.shape != b.shape or a.elem != b.elem:
            raise HwflowError(f"{node_label(n)}: adds streams of different shapes or types ({a.shape} "
                              f"{a.elem.name}, {b.shape} {b.elem.name}); both inputs need the same quantizer")
        if a.shape is None:
            raise HwflowError(f"{node_label(n)}: only adds of feature maps (before flattening) are supported")
        self._at(a)
        c, h, w = a.shape
        self._append(AddStreams(f"add{len(self.layers)}", a.elem, c * h * w, c), [a.stream, b.stream])
        self.elem = self.layers[-1].out_dtype
        self.refs[n.output[0]] = self._ref()

    def _concat(self, n) -> None:
        attr = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        if len(n.input) != 2 or attr.get("axis", 1) not in (1, -3):
            raise HwflowError(f"{node_label(n)}: only channel concatenations of two feature maps are supported")
        a, b = self._take(n.input[0]), self._take(n.input[1])
        if a.shape is None or b.shape is None or a.shape[1:] != b.shape[1:] or a.elem != b.elem:
            raise HwflowError(f"{node_label(n)}: concatenates feature maps of different sizes or element types")
        self._at(a)
        c0, h, w = a.shape
        self._append(Concat(f"concat{len(self.layers)}", a.elem, h * w, c0, b.shape[0]), [a.stream, b.stream])
        self.shape = (c0 + b.shape[0], h, w)
        self.refs[n.output[0]] = self._ref()

    def _threshold(self, mt) -> None:
        """A requantization (an activation on an add's or a pooling's integers)."""
        act = _activation(self.model, mt)
        t = act["thresholds"]
        t = t.reshape(len(t), -1)
        c = t.shape[0]
        elems = int(np.prod(self.shape)) if self.shape is not None else int(np.prod(self.flatten))
        lay = Threshold(f"thresh{len(self.layers)}", t, elems // c, self.elem, act.get("out_act"), act.get("out_bias", 0))
        self._append(lay)
        self.elem = lay.out_dtype

    def _pad(self, pads, value: int, out: DataType | None = None) -> None:
        c, h, w = self.shape
        pad = Pad(f"pad{len(self.layers)}", h, w, c, tuple(pads), self.elem, out or self.elem, value)
        self._append(pad)
        self.shape, self.elem = (c, pad.ofm_h, pad.ofm_w), pad.out_dtype

    def _windows(self, k: int, stride: int) -> SWG:
        c, h, w = self.shape
        swg = SWG(f"swg{len(self.layers)}", h, c, k, stride, 1, self.elem, ifm_width=w)
        self._append(swg)
        return swg

    @property
    def mvaus(self):
        return [lay for lay in self.layers if isinstance(lay, MVAU)]

    def _conv(self, node, mt):
        from hwflow.streamline import conv_geometry
        m = self.model
        w = m.get_initializer(node.input[1])                       # [OC, IC, K, K], integers
        oc, ic, k, _ = w.shape
        _, stride, pads = conv_geometry(node)
        if any(pads):  # zeros: +-1 bits become {-1, 0, +1} integers
            self._pad(pads, 0, int_type(2, True) if self.elem == BIPOLAR else self.elem)
        elem = self.elem
        wts = _hw_weights(w.transpose(0, 2, 3, 1).reshape(oc, -1))   # columns in (ky, kx, ic)
        act = _activation(m, mt)
        mw = wts["weights"].shape[1]
        if elem == BIPOLAR and wts["w_dtype"] == BIPOLAR:  # the graph thresholds dot = 2*pc - MW; XNOR counts pc
            act["thresholds"] = np.clip(np.ceil((act["thresholds"] + mw) / 2), 0, mw + 1).astype(np.int64)
        swg = self._windows(k, stride or 1)
        self._append(MVAU(f"mvau{len(self.mvaus)}", in_dtype=elem, vectors=swg.windows, simd_base=ic, **wts, **act))
        self.shape = (oc, swg.ofm_h, swg.ofm_w)

    def _fc(self, node, mt):
        m = self.model
        w = m.get_initializer(node.input[1])                      # [K, N], rows in graph order
        if node.op_type == "XnorPopcountMatMul":                  # bits: 1 = +1
            w = 2 * w - 1
        dt = m.get_tensor_datatype(node.input[0])
        in_dtype = BIPOLAR if node.op_type == "XnorPopcountMatMul" or dt == BIPOLAR else \
            int_type(dt.bitwidth(), dt.signed())
        if self.flatten is not None and len(self.flatten) == 3:  # the graph flattened NCHW, the stream is NHWC
            c, h, wd = self.flatten
            order = np.arange(c * h * wd).reshape(c, h, wd).transpose(1, 2, 0).reshape(-1)
            w = w[order]
        act = _activation(m, mt) if mt is not None else {"thresholds": None}
        wts = _hw_weights(np.ascontiguousarray(w.T))
        self._append(MVAU(f"mvau{len(self.mvaus)}", in_dtype=in_dtype, **wts, **act))
        self.shape, self.flatten = None, (wts["weights"].shape[0],)

    def _avg_pool(self, n) -> None:
        from hwflow.streamline import conv_geometry, pool_window
        kk, _ = pool_window(self.model, n)
        k, stride, _ = conv_geometry(n)
        swg = self._windows(k, stride or k)
        self._sum_pool(swg.windows, kk)
        self.shape = (self.shape[0], swg.ofm_h, swg.ofm_w)

    def _sum_pool(self, windows: int, kk: int) -> None:
        pool = Pool(f"pool{len(self.layers)}", windows, kk, self.shape[0], "sum", 1, self.elem)
        self._append(pool)
        self.elem = pool.out_dtype

    def _maxpool(self, n) -> None:
        """A max-pool: the line-buffered core when its stride is its size and it has no padding,
        else padding with the lowest element, a window generator and a window max."""
        from hwflow.streamline import conv_geometry
        attr = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        ks = list(attr.get("kernel_shape"))
        k, stride, pads = conv_geometry(n)
        c, h, w = self.shape
        strides = list(attr.get("strides", [1, 1]))
        if ks[0] != ks[1] or strides[0] != strides[1] or any(d != 1 for d in attr.get("dilations", [1, 1])) or \
                any(p >= k for p in pads) or stride > k:
            raise HwflowError(f"{node_label(n)}: unsupported max-pool (kernel {ks}, strides {strides}, pads "
                              f"{pads}); hwflow supports square kernels, equal strides up to the kernel size and "
                              "pads smaller than the kernel")
        if attr.get("ceil_mode", 0):  # extra rows/columns at the end, as PyTorch counts them
            pads = [pads[0], pads[1], pads[2] + _ceil_extra(h, k, stride, pads[0], pads[2]),
                    pads[3] + _ceil_extra(w, k, stride, pads[1], pads[3])]
        if stride == k and not any(pads):
            pool = MaxPool(f"pool{len(self.layers)}", h, c, k, dtype=self.elem, ifm_width=w)
            self._append(pool)
            self.shape = (c, pool.ofm_h, pool.ofm_w)
            return
        if any(pads):
            self._pad(pads, -1 if self.elem == BIPOLAR else int(self.elem.min()))
        swg = self._windows(k, stride)
        self._append(Pool(f"pool{len(self.layers)}", swg.windows, k * k, c, "max", 1, self.elem))
        self.shape = (c, swg.ofm_h, swg.ofm_w)


def _ceil_extra(size: int, k: int, stride: int, lo: int, hi: int) -> int:
    """Padding ceil_mode adds at the end of an axis (PyTorch: the last window must start
    inside the image or its leading padding)."""
    span = size + lo + hi - k
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + lo:
        out -= 1
    return max(0, (out - 1) * stride + k - (size + lo + hi))


def lower(model: ModelWrapper) -> Dataflow:
    """Map a streamlined graph onto hardware layers; anything that does not fit is named."""
    _check_all_binary(model)
    hw_nodes = [n for n in model.graph.node if _is_hw_node(model, n)]
    if not hw_nodes or hw_nodes[-1].op_type not in ("XnorPopcountMatMul", "MatMul"):
        raise HwflowError("the model has no binary matrix product at its end: hwflow needs QuantLinear layers "
                          "with 1-bit weights fed by quantized activations (the last one producing the outputs)")
    inp = model.graph.input[0].name
    head = extract(model, [inp], [_hw_input(model, hw_nodes[0])])
    for n in head.graph.node:
        if n.op_type not in HEAD_OPS:
            raise HwflowError(f"unsupported op before the first layer: {node_label(n)}")
    layers, wires = _Lowering(model).run()
    in_shape = tuple(model.get_tensor_shape(inp))[1:]
    argmax, k = _argmax_after(model, hw_nodes[-1])
    tail = None if argmax is not None else extract(model, [hw_nodes[-1].output[0]], [model.graph.output[0].name])
    for n in tail.graph.node if tail is not None else ():
        if n.op_type == "TopK":
            raise HwflowError(f"{node_label(n)} cannot run on chip: it needs the largest values, sorted, along the "
                              "last axis, its indices as the only output, and before it only a positive scalar "
                              "scale, a scalar offset or softmax")
        if n.op_type not in TAIL_OPS:
            raise HwflowError(f"unsupported op after the last layer: {node_label(n)}")
    if argmax is not None:  # the labels on chip: the stream carries k indices per image
        label = LabelSelect("labels", layers[-1].mh, layers[-1].out_dtype, k=k)
        wires[label.name] = (wires[layers[-1].name][1], ["labels_out"])
        layers.append(label)
        return Dataflow(StreamGraph(layers, wires), head, _label_tail(model, argmax, k), in_shape)
    if hw_nodes[-1].op_type == "XnorPopcountMatMul":
        # the tail starts from the last popcount pc; the hardware outputs 2*pc - MW
        return Dataflow(StreamGraph(layers, wires), head, tail, in_shape, 0.5, layers[-1].mw / 2)
    return Dataflow(StreamGraph(layers, wires), head, tail, in_shape)  # the dot product itself


def _argmax_after(model: ModelWrapper, last):
    """(node, k): the ArgMax (k = 1) or TopK (largest first, sorted, its indices the model's
    output) that ends the model over the last product's classes, when every op between them
    is increasing and alike for all classes (a positive scalar scale, a scalar offset,
    softmax), so the largest integers give the labels; else (None, 0)."""
    t = last.output[0]
    while (nxt := model.find_consumers(t) or []) and len(nxt) == 1:
        n = nxt[0]
        const = next((model.get_initializer(i) for i in n.input[1:] if model.get_initializer(i) is not None), None)
        scalar = const is not None and np.asarray(const).size == 1 and n.input[0] == t
        attr = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        last_axis = attr.get("axis", 0 if n.op_type == "ArgMax" else -1) % len(model.get_tensor_shape(t)) \
            == len(model.get_tensor_shape(t)) - 1
        if n.op_type == "ArgMax":
            ok = last_axis and not attr.get("select_last_index", 0)
            return (n, 1) if ok and n.output[0] == model.graph.output[0].name else (None, 0)
        if n.op_type == "TopK":
            k = int(np.asarray(const).reshape(-1)[0]) if scalar else 0
            values_unused = not model.find_consumers(n.output[0]) and \
                n.output[0] not in [o.name for o in model.graph.output]
            ok = (last_axis and attr.get("largest", 1) and attr.get("sorted", 1) and values_unused
                  and len(model.graph.output) == 1 and n.output[1] == model.graph.output[0].name
                  and 1 <= k <= model.get_tensor_shape(t)[-1])
            return (n, k) if ok else (None, 0)
        if n.op_type in ("Mul", "Div") and scalar and float(np.asarray(const).reshape(())) > 0:
            pass
        elif n.op_type in ("Add", "Sub") and scalar:
            pass
        elif n.op_type in ("Softmax", "LogSoftmax", "Identity", "Flatten"):
            pass
        else:
            return None, 0
        t = n.output[0]
    return None, 0


def _label_tail(model: ModelWrapper, select, k: int) -> ModelWrapper:
    """The host tail after an on-chip label select: the indices as the ArgMax or TopK gives them."""
    from onnx import TensorProto
    keep = select.op_type == "TopK" or next((helper.get_attribute_value(a) for a in select.attribute
                                             if a.name == "keepdims"), 1)
    out = model.graph.output[0].name
    inp = helper.make_tensor_value_info("label", TensorProto.FLOAT, [1, k])
    shape = model.make_new_valueinfo_name()
    nodes, inits = [helper.make_node("Identity", ["label"], [out])], []
    if not keep:
        nodes = [helper.make_node("Reshape", ["label", shape], [out])]
        inits = [helper.make_tensor(shape, TensorProto.INT64, [1], [-1])]
    graph = helper.make_graph(nodes, "tail", [inp], [helper.make_tensor_value_info(out, TensorProto.FLOAT,
                                                                                    [1] if not keep else [1, k])],
                              initializer=inits)
    return ModelWrapper(helper.make_model(graph, opset_imports=list(model.model.opset_import))).transform(InferShapes())


def _check_all_binary(model: ModelWrapper) -> None:
    """Every matrix product must have become an integer one; say why one did not."""
    from hwflow.streamline import MAX_WEIGHT_BITS, _conv_check, int_weights, pad_spec
    for n in model.graph.node:
        if n.op_type == "Pad" and pad_spec(model, n) is None:
            mode = next((a.s.decode() for a in n.attribute if a.name == "mode"), "constant")
            what = f"{mode} padding" if mode != "constant" else "padding of the batch or channel axes (or by a " \
                                                               "computed amount)"
            raise HwflowError(f"{node_label(n)}: {what} is not supported; hwflow pads height and width with a "
                              "constant (zeros or an activation value)")
    for n in model.graph.node:
        if n.op_type not in ("MatMul", "Gemm", "Conv") or _is_hw_node(model, n):
            continue
        what_layer = "QuantConv2d" if n.op_type == "Conv" else "QuantLinear"
        w = model.get_initializer(n.input[1])
        if w is None:
            raise HwflowError(f"{node_label(n)}: weights are not constant")
        if int_weights(w, 0 if n.op_type == "Conv" else 1) is None:
            raise HwflowError(f"{node_label(n)}: weights are not quantized ({np.unique(w).size} distinct values, "
                              f"not small integers times a per-tensor or per-channel scale); use {what_layer} "
                              f"with a weight quantizer of 1 to {MAX_WEIGHT_BITS} bits")
        if n.op_type == "Conv":
            _conv_check(model, n)
        prod = model.find_producer(n.input[0])
        what = node_label(prod) if prod is not None else "the graph input"
        raise HwflowError(f"{node_label(n)}: input is not a quantized activation (it comes from {what}); "
                          f"put a QuantIdentity (1 to {MAX_ACT_BITS} bits) before every {what_layer}")
    from hwflow.streamline import sum_pool_output
    for n in model.graph.node:
        if sum_pool_output(model, n) is not None:
            continue  # an average pooling made a sum
        input_quant = n.op_type == "Quant" and model.get_initializer(n.input[0]) is None and any(
            c.op_type == "Mul" for c in model.find_consumers(n.output[0]) or [])
        if n.op_type in ("Quant", "BipolarQuant", "Relu", "Sigmoid", "Tanh", "HardTanh", "Clip",
                         "AveragePool", "Trunc") and not input_quant:
            raise HwflowError(f"unsupported op {node_label(n)}: hwflow supports quantized activations "
                              f"(1 to {MAX_ACT_BITS} bits, each after a BatchNorm or scale), an integer input "
                              "quantizer and quantized weights only")
