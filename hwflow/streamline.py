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
from qonnx.transformation.infer_datatypes import InferDataTypes
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import get_by_name

from hwflow.errors import HwflowError
from hwflow.graph import (QONNX_DOMAIN, const_operand, node_label, remove_dead_nodes,
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
            bits, mid = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
            thr, two_s, minus_s = (model.make_new_valueinfo_name() for _ in range(3))
            model.set_initializer(thr, np.zeros((1, 1), dtype=np.float32))
            model.set_initializer(two_s, np.array(2 * s, dtype=np.float32))
            model.set_initializer(minus_s, np.array(-s, dtype=np.float32))
            new = [
                _multithreshold(node.input[0], thr, bits, node.name + "_bits"),
                helper.make_node("Mul", [bits, two_s], [mid], name=node.name + "_pm_mul"),
                helper.make_node("Add", [mid, minus_s], [node.output[0]], name=node.name + "_pm_add"),
            ]
            replace_nodes(model, [node], new)
            model.set_tensor_datatype(bits, DataType["BINARY"])
            return model, True
        return model, False


def _bits_source(model: ModelWrapper, tensor: str):
    """If `tensor` is 2*b*s - s for bits b (as BipolarActToBits writes it): (b, s), else None."""
    add = model.find_producer(tensor)
    if add is None or add.op_type != "Add":
        return None
    mul = model.find_producer(add.input[0])
    mt = model.find_producer(mul.input[0]) if mul is not None and mul.op_type == "Mul" else None
    if mt is None or mt.op_type != "MultiThreshold" or get_by_name(mt.attribute, "out_dtype").s != b"BINARY":
        return None
    two_s, minus_s = model.get_initializer(mul.input[1]), model.get_initializer(add.input[1])
    if two_s is None or minus_s is None:
        return None
    s = float(np.asarray(two_s).reshape(())) / 2
    if not np.isclose(float(np.asarray(minus_s).reshape(())), -s):
        return None
    return mt.output[0], s


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


class FoldThresholds(Transformation):
    """popcount -> affine (scale, offset, BatchNorm) -> sign  ==>  popcount >= T (integer T).

    The popcount can only take the K+1 values 0..K, so instead of solving the
    inequality in floating point we run the chain itself on every possible value
    of every channel.  This reproduces the model's own rounding, ties included
    (sign(0) = +1).  A channel whose activation falls as the popcount rises
    (negative BatchNorm scale) gets its weight column inverted, which maps pc to
    K - pc and turns the comparison back into ">=".
    """

    def apply(self, model):
        for node in list(model.graph.node):
            if node.op_type != "XnorPopcountMatMul":
                continue
            chain = _affine_chain(model, node.output[0])
            if chain is None or (len(chain) == 1 and self._already_integer(model, chain[0])):
                continue
            w01 = model.get_initializer(node.input[1]).copy()
            k, c = w01.shape
            grid = np.repeat(np.arange(k + 1, dtype=np.float32)[:, None], c, axis=1)
            fired = run_subgraph(model, chain, {node.output[0]: grid}, chain[-1].output[0])
            thresholds = np.empty(c, dtype=np.float32)
            for ch in range(c):
                col = fired[:, ch].astype(np.int64)
                ones = int(col.sum())
                if np.all(np.diff(col) >= 0):       # 0..0 1..1: fires from the first one on
                    thresholds[ch] = k + 1 - ones
                elif np.all(np.diff(col) <= 0):     # 1..1 0..0: invert the column
                    w01[:, ch] = 1 - w01[:, ch]
                    thresholds[ch] = k + 1 - ones
                else:
                    raise HwflowError(f"{node_label(chain[-1])}: activation of channel {ch} is not monotonic "
                                      "in the popcount; only BatchNorm/scale/offset may sit before a sign")
            model.set_initializer(node.input[1], w01)
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


PASSES = (FoldWeightQuantizers, ReshapeToFlatten, BipolarActToBits, BinaryMatMulToXnor, FoldThresholds)


def streamline(model: ModelWrapper) -> ModelWrapper:
    """Run all streamlining passes to a fixed point; the result still executes in qonnx."""
    for p in PASSES:
        model = model.transform(p())
        model = model.transform(InferShapes())
    model = model.transform(InferDataTypes())
    return model.transform(GiveUniqueNodeNames())
