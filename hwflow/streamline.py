"""Streamlining: rewrite an exported binary network into XNOR-popcount + integer thresholds.

Each rewrite is a qonnx Transformation whose result is still an executable
QONNX graph, so every step can be proven by running the graph before and after
on the same inputs (tests/test_streamline.py does exactly that).

The target form, per hidden layer, is

    bits --XnorPopcountMatMul(W01)--> popcount --MultiThreshold(T)--> bits

and for the last layer ``popcount -> (affine and whatever follows, in float)``.
Bits are 0/1 with 1 meaning +1, popcounts are integers in [0, K].
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation
from qonnx.transformation.fold_constants import FoldConstants
from qonnx.transformation.general import GiveUniqueNodeNames
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import get_by_name

from hwflow.errors import HwflowError
from hwflow.graph import (QONNX_DOMAIN, node_label, remove_dead_nodes,
                          replace_nodes, run_subgraph, single_consumer)

# Elementwise ops with constant operands that may sit between a popcount and its
# activation; they are absorbed into the thresholds by evaluation.
AFFINE_OPS = ("Mul", "Add", "Sub", "Div", "BatchNormalization")


def _multithreshold(inp: str, thresholds: str, out: str, name: str):
    return helper.make_node("MultiThreshold", [inp, thresholds], [out], domain=QONNX_DOMAIN,
                            out_dtype="BINARY", name=name)


class FoldWeightQuantizers(Transformation):
    """Execute every node whose inputs are all constant (weight quantizers included)."""

    def apply(self, model):
        return model.transform(FoldConstants(exclude_op_types=[])), False


class ReshapeToFlatten(Transformation):
    """Reshape to a constant (1, K) or (1, -1), as exported from x.view(N, -1) at batch 1,
    becomes Flatten(axis=1) so the graph runs on any batch size."""

    def apply(self, model):
        for node in model.graph.node:
            shape = model.get_initializer(node.input[1]) if node.op_type == "Reshape" else None
            in_shape = model.get_tensor_shape(node.input[0])
            if shape is None or in_shape is None or len(shape) != 2 or in_shape[0] != 1 or shape[0] not in (1, 0):
                continue
            if shape[1] not in (-1, int(np.prod(in_shape[1:]))):
                continue
            flat = helper.make_node("Flatten", [node.input[0]], [node.output[0]], axis=1, name=node.name)
            replace_nodes(model, [node], [flat])
            remove_dead_nodes(model)
            return model, True
        return model, False


class BipolarActToBits(Transformation):
    """sign(z) -> MultiThreshold(z >= 0) giving bits, then 2*b-1 (times scale) for the readers.

    BipolarQuant maps z >= 0 to +1, the MultiThreshold counts thresholds with
    z >= t, so the tie z == 0 lands on +1 in both.
    """

    def apply(self, model):
        for node in list(model.graph.node):
            if node.op_type != "BipolarQuant" or model.get_initializer(node.input[0]) is not None:
                continue
            scale = model.get_initializer(node.input[1])
            if scale is None or np.asarray(scale).size != 1:
                raise HwflowError(f"{node_label(node)}: activation scale must be a constant scalar")
            s = float(np.asarray(scale).reshape(()))
            bits, thr = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
            model.set_initializer(thr, np.zeros((1, 1), dtype=np.float32))
            new = [_multithreshold(node.input[0], thr, bits, node.name + "_bits"),
                   *_decode(model, bits, s, node.output[0], node.name)]
            replace_nodes(model, [node], new)
            model.set_tensor_datatype(bits, DataType["BINARY"])
            return model, True
        return model, False


def _decode(model: ModelWrapper, bits: str, s: float, out: str, name: str) -> list:
    """Nodes computing out = 2*bits*s - s: the +-s values a 1-bit activation stands for."""
    mid, two_s, minus_s = (model.make_new_valueinfo_name() for _ in range(3))
    model.set_initializer(two_s, np.array(2 * s, dtype=np.float32))
    model.set_initializer(minus_s, np.array(-s, dtype=np.float32))
    return [helper.make_node("Mul", [bits, two_s], [mid], name=name + "_pm_mul"),
            helper.make_node("Add", [mid, minus_s], [out], name=name + "_pm_add")]


def _bits_source(model: ModelWrapper, tensor: str):
    """If `tensor` is 2*b*s - s for bits b (as BipolarActToBits writes it): (b, s), else None."""
    add = model.find_producer(tensor)
    if add is None or add.op_type != "Add":
        return None
    mul = model.find_producer(add.input[0])
    if mul is None or mul.op_type != "Mul":
        return None
    mt = model.find_producer(mul.input[0])
    is_mt = mt is not None and mt.op_type == "MultiThreshold" and get_by_name(mt.attribute, "out_dtype").s == b"BINARY"
    if not is_mt and model.get_tensor_datatype(mul.input[0]) != DataType["BINARY"]:
        return None
    two_s, minus_s = model.get_initializer(mul.input[1]), model.get_initializer(add.input[1])
    if two_s is None or minus_s is None:
        return None
    s = float(np.asarray(two_s).reshape(())) / 2
    if not np.isclose(float(np.asarray(minus_s).reshape(())), -s):
        return None
    return mul.input[0], s


def _bipolar_weights(w: np.ndarray):
    """(w > 0 as 0/1 float, scale) if every entry is +s or -s; else None."""
    mags = np.unique(np.abs(w))
    if mags.size != 1 or mags[0] == 0:
        return None
    return (w > 0).astype(np.float32), float(mags[0])


class BinaryMatMulToXnor(Transformation):
    """bipolar x bipolar MatMul/Gemm -> XnorPopcountMatMul on bits, then the exact affine.

    (2b-1)s . w*sw summed over K = s*sw*(2*pc - K), pc = popcount(xnor(b, w01)).
    """

    def apply(self, model):
        for node in list(model.graph.node):
            if node.op_type not in ("MatMul", "Gemm"):
                continue
            src = _bits_source(model, node.input[0])
            w = model.get_initializer(node.input[1])
            if src is None or w is None:
                continue
            w = np.asarray(w, dtype=np.float32)
            bias, alpha = None, 1.0
            if node.op_type == "Gemm":
                if get_by_name(node.attribute, "transA") is not None and get_by_name(node.attribute, "transA").i:
                    continue
                if get_by_name(node.attribute, "transB") is not None and get_by_name(node.attribute, "transB").i:
                    w = w.T
                if get_by_name(node.attribute, "alpha") is not None:
                    alpha = get_by_name(node.attribute, "alpha").f
                if len(node.input) > 2 and node.input[2]:
                    bias = model.get_initializer(node.input[2])
                    if bias is None:
                        continue
                    beta = get_by_name(node.attribute, "beta")
                    bias = np.asarray(bias, dtype=np.float32) * (beta.f if beta is not None else 1.0)
            wb = _bipolar_weights(w)
            if wb is None:
                continue
            bits, s_in = src
            w01, s_w = wb
            k = w.shape[0]
            gain = 2.0 * s_in * s_w * alpha
            names = [model.make_new_valueinfo_name() for _ in range(6)]
            wname, pc, mid, gname, oname, out = names
            model.set_initializer(wname, w01)
            model.set_initializer(gname, np.array(gain, dtype=np.float32))
            model.set_initializer(oname, np.array(-k * s_in * s_w * alpha, dtype=np.float32))
            final = node.output[0] if bias is None else out
            new = [
                helper.make_node("XnorPopcountMatMul", [bits, wname], [pc], domain=QONNX_DOMAIN,
                                 name=node.name + "_xnor"),
                helper.make_node("Mul", [pc, gname], [mid], name=node.name + "_gain"),
                helper.make_node("Add", [mid, oname], [final], name=node.name + "_offset"),
            ]
            if bias is not None:
                bname = model.make_new_valueinfo_name()
                model.set_initializer(bname, bias)
                new.append(helper.make_node("Add", [out, bname], [node.output[0]], name=node.name + "_bias"))
            replace_nodes(model, [node], new)
            model.set_tensor_datatype(bits, DataType["BINARY"])
            model.set_tensor_datatype(wname, DataType["BINARY"])
            remove_dead_nodes(model)
            return model, True
        return model, False


def _affine_chain(model: ModelWrapper, pc: str):
    """Nodes from popcount `pc` through constant elementwise ops up to a binary MultiThreshold."""
    chain, tensor = [], pc
    while True:
        node = single_consumer(model, tensor)
        if node is None:
            return None
        if node.op_type == "MultiThreshold":
            return chain + [node]
        if node.op_type not in AFFINE_OPS or node.input[0] != tensor:
            return None
        if any(model.get_initializer(i) is None for i in node.input[1:]):
            return None
        chain.append(node)
        tensor = node.output[0]


def _integer_producer(model: ModelWrapper, node):
    """For a node whose output is an integer with a known range: (values grid, flip function).

    XnorPopcountMatMul gives a popcount in 0..K; a Conv/MatMul with +-1 weights on
    +-1 or integer inputs gives a dot product in [-K*amax, K*amax].  `flip(ch)` negates
    output channel `ch` (inverting weights), mapping the value v to `flip_value(v)`.
    """
    if node.op_type == "XnorPopcountMatMul":
        w = model.get_initializer(node.input[1]).copy()
        k = w.shape[0]

        def flip(ch):
            w[:, ch] = 1 - w[:, ch]
            model.set_initializer(node.input[1], w)
        return np.arange(k + 1), flip, lambda v: k - v
    if node.op_type in ("Conv", "MatMul") and model.get_tensor_datatype(node.input[0]) != DataType["FLOAT32"]:
        w = model.get_initializer(node.input[1])
        if w is None or not np.all(np.abs(w) == 1):
            return None
        w = w.copy()
        dt = model.get_tensor_datatype(node.input[0])
        amax = max(abs(dt.min()), abs(dt.max()))
        k = int(np.prod(w.shape[1:])) if node.op_type == "Conv" else w.shape[0]
        lim = int(k * amax)

        def flip(ch):
            if node.op_type == "Conv":
                w[ch] = -w[ch]
            else:
                w[:, ch] = -w[:, ch]
            model.set_initializer(node.input[1], w)
        return np.arange(-lim, lim + 1), flip, lambda v: -v
    return None


class FoldThresholds(Transformation):
    """integer (popcount or dot) -> affine (scale, offset, BatchNorm) -> sign  ==>  value >= T.

    The integer can only take a known, small set of values, so instead of solving the
    inequality in floating point we run the chain itself on every possible value of
    every channel.  This reproduces the model's own rounding, ties included
    (sign(0) = +1).  A channel whose activation falls as the value rises (negative
    BatchNorm scale) gets its weights inverted, which turns the comparison back into ">=".
    """

    def apply(self, model):
        for node in list(model.graph.node):
            prod = _integer_producer(model, node)
            if prod is None:
                continue
            chain = _affine_chain(model, node.output[0])
            if chain is None or (len(chain) == 1 and self._already_integer(model, chain[0])):
                continue
            values, flip, flip_value = prod
            channels = model.get_tensor_shape(node.output[0])[1 if node.op_type == "Conv" else -1]
            shape = (len(values), channels) + ((1, 1) if node.op_type == "Conv" else ())
            grid = np.broadcast_to(values.reshape((-1, 1) + (1,) * (len(shape) - 2)), shape).astype(np.float32)
            fired = run_subgraph(model, chain, {node.output[0]: grid}, chain[-1].output[0])
            fired = fired.reshape(len(values), channels)
            thresholds = np.empty(channels, dtype=np.float32)
            for ch in range(channels):
                col = fired[:, ch].astype(np.int64)
                on = np.flatnonzero(col)
                if np.all(np.diff(col) >= 0):       # off..off on..on: fires from the first "on"
                    thresholds[ch] = values[on[0]] if len(on) else values[-1] + 1
                elif np.all(np.diff(col) <= 0):     # on..on off..off: invert the channel
                    flip(ch)
                    thresholds[ch] = flip_value(values[on[-1]])
                else:
                    raise HwflowError(f"{node_label(chain[-1])}: activation of channel {ch} is not monotonic "
                                      "in the integer pre-activation; only BatchNorm/scale/offset may sit before a sign")
            tname = model.make_new_valueinfo_name()
            model.set_initializer(tname, thresholds[:, None])
            mt = _multithreshold(node.output[0], tname, chain[-1].output[0], chain[-1].name)
            replace_nodes(model, chain, [mt])
            remove_dead_nodes(model)
            return model, True
        return model, False

    @staticmethod
    def _already_integer(model, mt) -> bool:
        t = model.get_initializer(mt.input[1])
        return t is not None and t.shape[1] == 1 and np.array_equal(t, np.round(t))


class QuantInputToInt(Transformation):
    """An input quantizer Quant(x) = s*q becomes q = Round(Quant(x)/s) (integers, the
    hardware's input) followed by Mul(s) for its readers."""

    def apply(self, model):
        for node in model.graph.node:
            if node.op_type != "Quant" or model.get_initializer(node.input[0]) is not None:
                continue
            unscale = single_consumer(model, node.output[0])
            after = single_consumer(model, unscale.output[0]) if unscale is not None else None
            if after is not None and after.op_type == "Round":
                continue  # already rewritten
            s, zp, bw = (model.get_initializer(i) for i in node.input[1:4])
            if s is None or np.asarray(s).size != 1 or zp is None or np.any(zp != 0) or bw is None:
                raise HwflowError(f"{node_label(node)}: only per-tensor, zero-point-free input quantizers "
                                  "with constant scale and bit width are supported")
            s, bw = float(np.asarray(s).reshape(())), int(np.asarray(bw).reshape(()))
            signed = get_by_name(node.attribute, "signed").i if get_by_name(node.attribute, "signed") else 1
            q, scaled, ints = (model.make_new_valueinfo_name() for _ in range(3))
            inv, sc = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
            model.set_initializer(inv, np.array(1.0 / s, dtype=np.float32))
            model.set_initializer(sc, np.array(s, dtype=np.float32))
            out = node.output[0]
            quant = helper.make_node("Quant", list(node.input), [q], domain=node.domain, name=node.name)
            quant.attribute.extend(node.attribute)
            new = [quant,
                   helper.make_node("Mul", [q, inv], [scaled], name=node.name + "_unscale"),
                   helper.make_node("Round", [scaled], [ints], name=node.name + "_int"),
                   helper.make_node("Mul", [ints, sc], [out], name=node.name + "_rescale")]
            replace_nodes(model, [node], new)
            model.set_tensor_datatype(ints, DataType[f"{'INT' if signed else 'UINT'}{bw}"])
            return model, True
        return model, False


LAYOUT_OPS = ("MaxPool", "Flatten", "Reshape", "Transpose")


class SinkDecode(Transformation):
    """layout(2*b*s - s) -> 2*layout(b)*s - s for max-pool, flatten, reshape, transpose.

    Max-pool commutes with the increasing map b -> 2bs - s, so a max-pool of +-1 values is
    an OR of bits; the others only move elements.  This brings the 1-bit tensors next to
    the layers that read them.
    """

    def apply(self, model):
        for node in model.graph.node:
            if node.op_type not in LAYOUT_OPS:
                continue
            src = _bits_source(model, node.input[0])
            if src is None or single_consumer(model, node.input[0]) is not node:
                continue
            bits, s = src
            moved = model.make_new_valueinfo_name()
            layout = helper.make_node(node.op_type, [bits] + list(node.input[1:]), [moved], name=node.name)
            layout.attribute.extend(node.attribute)
            replace_nodes(model, [node], [layout, *_decode(model, moved, s, node.output[0], node.name)])
            model.set_tensor_datatype(moved, DataType["BINARY"])
            remove_dead_nodes(model)
            return model, True
        return model, False


def _conv_check(model: ModelWrapper, node) -> None:
    attr = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    problems = []
    if attr.get("group", 1) != 1:
        problems.append(f"group={attr['group']}")
    if any(d != 1 for d in attr.get("dilations", [1, 1])):
        problems.append(f"dilations={list(attr['dilations'])}")
    if any(p != 0 for p in attr.get("pads", [0, 0, 0, 0])) or attr.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID"):
        problems.append(f"padding (pads={list(attr.get('pads', []))})")
    if any(st != 1 for st in attr.get("strides", [1, 1])):
        problems.append(f"strides={list(attr['strides'])}")
    k = attr.get("kernel_shape", model.get_initializer(node.input[1]).shape[2:])
    if k[0] != k[1]:
        problems.append(f"non-square kernel {list(k)}")
    if problems:
        raise HwflowError(f"{node_label(node)}: unsupported convolution feature: {', '.join(problems)}; "
                          "hwflow supports square kernels, stride 1, no padding, no dilation, no groups")


class BinaryConvToInt(Transformation):
    """Conv with +-s_w weights on +-s activations (or on s*integers) ->
    Conv with +-1 weights on +-1 (or the integers), then one exact scale."""

    def apply(self, model):
        for node in model.graph.node:
            if node.op_type != "Conv" or model.get_tensor_datatype(node.input[0]) != DataType["FLOAT32"]:
                continue
            w = model.get_initializer(node.input[1])
            wb = _bipolar_weights(np.asarray(w)) if w is not None else None
            if wb is None:
                continue
            src, ints = _bits_source(model, node.input[0]), _int_source(model, node.input[0])
            if src is None and ints is None:
                continue
            _conv_check(model, node)
            _, s_w = wb
            pm, dot, gain = (model.make_new_valueinfo_name() for _ in range(3))
            wname = model.make_new_valueinfo_name()
            model.set_initializer(wname, np.sign(w).astype(np.float32))
            new = []
            if src is not None:
                bits, s_in = src
                mid, two, one = (model.make_new_valueinfo_name() for _ in range(3))
                model.set_initializer(two, np.array(2.0, dtype=np.float32))
                model.set_initializer(one, np.array(-1.0, dtype=np.float32))
                new += [helper.make_node("Mul", [bits, two], [mid], name=node.name + "_pm_mul"),
                        helper.make_node("Add", [mid, one], [pm], name=node.name + "_pm_add")]
                data, dt = pm, DataType["BIPOLAR"]
            else:
                data, s_in = ints
                dt = model.get_tensor_datatype(data)
            model.set_initializer(gain, np.array(s_in * s_w, dtype=np.float32))
            conv = helper.make_node("Conv", [data, wname], [dot], name=node.name)
            conv.attribute.extend(node.attribute)
            out = node.output[0] if len(node.input) < 3 else model.make_new_valueinfo_name()
            new += [conv, helper.make_node("Mul", [dot, gain], [out], name=node.name + "_scale")]
            if len(node.input) > 2:
                b = model.get_initializer(node.input[2])
                bname = model.make_new_valueinfo_name()
                model.set_initializer(bname, b.reshape(1, -1, 1, 1).astype(np.float32))
                new.append(helper.make_node("Add", [out, bname], [node.output[0]], name=node.name + "_bias"))
            replace_nodes(model, [node], new)
            model.set_tensor_datatype(data, dt)
            remove_dead_nodes(model)
            return model, True
        return model, False


def _int_source(model: ModelWrapper, tensor: str):
    """If `tensor` is ints*s as QuantInputToInt writes it: (ints, s), else None."""
    mul = model.find_producer(tensor)
    if mul is None or mul.op_type != "Mul":
        return None
    rnd = model.find_producer(mul.input[0])
    s = model.get_initializer(mul.input[1])
    if rnd is None or rnd.op_type != "Round" or s is None:
        return None
    return mul.input[0], float(np.asarray(s).reshape(()))


PASSES = (FoldWeightQuantizers, ReshapeToFlatten, QuantInputToInt, BipolarActToBits, SinkDecode,
          BinaryConvToInt, BinaryMatMulToXnor, FoldThresholds)


def streamline(model: ModelWrapper) -> ModelWrapper:
    """Run all streamlining passes to a fixed point; the result still executes in qonnx."""
    for p in PASSES:
        model = model.transform(p())
        model = model.transform(InferShapes())
    # no InferDataTypes: it would overwrite the BINARY/BIPOLAR/INT annotations the passes set
    return model.transform(GiveUniqueNodeNames())
