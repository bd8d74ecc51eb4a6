"""Streamlining: rewrite an exported binary network into XNOR-popcount + integer thresholds.

Each rewrite is a qonnx Transformation whose result is still an executable
QONNX graph, so every step can be proven by running the graph before and after
on the same inputs (tests/test_streamline.py does exactly that).

The target form, per hidden layer, is

    bits --XnorPopcountMatMul(W01)--> popcount --MultiThreshold(T)--> bits

for 1-bit activations, and for k-bit ones (k = 2..8)

    q --MatMul/Conv(integer weights)--> dot --MultiThreshold(T [C, L-1], out_bias=qmin)--> q'

(integer weights: +-1, ternary or k-bit, their scale per tensor or per output channel
moved behind the product), and for the last layer ``popcount or dot -> (affine and
whatever follows, in float)``.
Bits are 0/1 with 1 meaning +1, popcounts are integers in [0, K]; q are the integer
levels of a k-bit quantizer (e.g. -1, 0, +1), annotated with their qonnx DataType.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.general.intquant import max_int, min_int
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
# Ops that only move elements (or, MaxPool, pick the largest): an increasing decode commutes with them.
LAYOUT_OPS = ("MaxPool", "Flatten", "Reshape", "Transpose")


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


# integer weights the cores take: signed, at most this many bits
MAX_WEIGHT_BITS = 8


def int_weights(w: np.ndarray, axis: int):
    """w = q * s for small integers q (|q| < 2^(MAX_WEIGHT_BITS-1)) and a positive scale s,
    one per tensor or one per output channel (along `axis`): (q as float32, s as a float or a
    [channels] array), or None if w is not such a tensor.

    Quantized weights arrive folded to floats (q*s rounded to float32), so q is recovered
    as w / (m / d) for the channel's smallest magnitude m and the smallest d that makes
    every ratio an integer; one scale for the whole tensor is preferred when it fits."""
    w = np.asarray(w, dtype=np.float64)
    rows = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
    qmax = (1 << (MAX_WEIGHT_BITS - 1)) - 1

    def fits(r, s):
        q = r / s[:, None]
        return np.all(np.abs(q - np.rint(q)) <= 1e-3, axis=1) & (np.abs(np.rint(q)).max(axis=1, initial=0) <= qmax)

    mags = np.abs(rows)
    smallest = np.where(mags > 0, mags, np.inf).min(axis=1, initial=np.inf)
    smallest[np.isinf(smallest)] = 1.0            # an all-zero channel: any scale
    scale, todo = np.zeros(len(rows)), np.arange(len(rows))
    for d in range(1, qmax + 1):
        ok = fits(rows[todo], smallest[todo] / d)
        scale[todo[ok]] = smallest[todo[ok]] / d
        todo = todo[~ok]
        if not todo.size:
            break
    if todo.size:
        return None
    common = np.full(len(rows), scale.min())
    if np.all(fits(rows, common)):
        scale = common
    q = np.rint(rows / scale[:, None]).reshape(np.moveaxis(w, axis, 0).shape)
    s = float(scale[0]) if np.all(scale == scale[0]) else scale.astype(np.float32)
    return np.moveaxis(q, 0, axis).astype(np.float32), s


def _channel_shape(s, ndim: int, axis: int):
    """A per-channel scale shaped to broadcast along `axis` of an ndim-tensor (a float stays one)."""
    if np.ndim(s) == 0:
        return np.float32(s)
    shape = [1] * ndim
    shape[axis] = -1
    return np.asarray(s, dtype=np.float32).reshape(shape)


def _matmul_weights(model: ModelWrapper, node):
    """A MatMul/Gemm as (constant weights [K, N], alpha, bias or None); None if it is not one."""
    if node.op_type not in ("MatMul", "Gemm"):
        return None
    w = model.get_initializer(node.input[1])
    if w is None:
        return None
    w = np.asarray(w, dtype=np.float32)
    bias, alpha = None, 1.0
    if node.op_type == "Gemm":
        attr = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attr.get("transA", 0):
            return None
        if attr.get("transB", 0):
            w = w.T
        alpha = attr.get("alpha", 1.0)
        if len(node.input) > 2 and node.input[2]:
            bias = model.get_initializer(node.input[2])
            if bias is None:
                return None
            bias = np.asarray(bias, dtype=np.float32) * attr.get("beta", 1.0)
    return w, alpha, bias


class MatMulToXnor(Transformation):
    """bipolar x bipolar MatMul/Gemm -> XnorPopcountMatMul on bits, then the exact affine.

    (2b-1)s . w*sw summed over K = s*sw*(2*pc - K), pc = popcount(xnor(b, w01)); sw may be
    one scale per output column (XNOR-Net's alpha), the affine is then per column.
    """

    def apply(self, model):
        for node in list(model.graph.node):
            if node.op_type not in ("MatMul", "Gemm"):
                continue
            src = _bits_source(model, node.input[0])
            gemm = _matmul_weights(model, node) if src is not None else None
            iw = int_weights(gemm[0], 1) if gemm is not None else None
            if iw is None or not np.all(np.abs(iw[0]) == 1):
                continue
            (bits, s_in), (w, alpha, bias), (q, s_w) = src, gemm, iw
            k = w.shape[0]
            gain = np.asarray(2.0 * s_in * alpha * np.asarray(s_w), dtype=np.float32)
            names = [model.make_new_valueinfo_name() for _ in range(6)]
            wname, pc, mid, gname, oname, out = names
            model.set_initializer(wname, (q > 0).astype(np.float32))
            model.set_initializer(gname, gain)
            model.set_initializer(oname, np.asarray(-k * gain / 2, dtype=np.float32))
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


def _affine_chain(model: ModelWrapper, pc: str, node):
    """Nodes from `node`, a reader of integer `pc`, through constant elementwise ops up to its
    activation: a binary MultiThreshold, or a k-bit Quant (with QuantActToInt's unscale +
    Round, if present).  Only `pc` may have other readers (a stream that fans out)."""
    chain, tensor = [], pc
    while node is not None:
        if node.op_type == "MultiThreshold":
            return chain + [node] if _mt_dtype(node) == "BINARY" else None
        if node.op_type == "Quant" and node.input[0] == tensor:
            return chain + [node] + _levels_tail(model, node)
        if node.op_type not in AFFINE_OPS or node.input[0] != tensor:
            return None
        if any(model.get_initializer(i) is None for i in node.input[1:]):
            return None
        chain.append(node)
        tensor = node.output[0]
        node = single_consumer(model, tensor)
    return None


def _mt_dtype(node) -> str:
    return get_by_name(node.attribute, "out_dtype").s.decode()


def _levels_tail(model: ModelWrapper, quant) -> list:
    """[Mul(1/s), Round] if QuantActToInt rewrote `quant`'s output into its integer levels."""
    unscale = single_consumer(model, quant.output[0])
    rnd = single_consumer(model, unscale.output[0]) if unscale is not None and unscale.op_type == "Mul" else None
    return [unscale, rnd] if rnd is not None and rnd.op_type == "Round" else []


def _quant_levels(model: ModelWrapper, quant):
    """(scale, lowest level, number of levels, DataType) of a k-bit activation Quant (k = 2..8)."""
    s, zp, bw = (model.get_initializer(i) for i in quant.input[1:4])
    if s is None or zp is None or bw is None or np.any(zp != 0) or np.asarray(bw).size != 1 or np.any(s == 0):
        raise HwflowError(f"{node_label(quant)}: an activation quantizer needs a constant nonzero scale, "
                          "zero point 0 and a constant bit width")
    bw = int(np.asarray(bw).reshape(()))
    if not 2 <= bw <= 8:
        raise HwflowError(f"{node_label(quant)}: {bw}-bit activations are not supported (2 to 8 bits, "
                          "or 1 bit as BipolarQuant)")
    lo, hi = _quant_range(quant, bw)
    dt = DataType[f"{'INT' if _attr(quant, 'signed', 1) else 'UINT'}{bw}"]
    return np.asarray(s, dtype=np.float32), lo, hi - lo + 1, dt


def _attr(node, name: str, default):
    a = get_by_name(node.attribute, name)
    return helper.get_attribute_value(a) if a is not None else default


def _quant_range(quant, bw: int) -> tuple:
    """The integer levels lo..hi of a Quant node of bit width `bw`."""
    signed, narrow = _attr(quant, "signed", 1), _attr(quant, "narrow", 0)
    return int(min_int(signed, narrow, bw)), int(max_int(signed, narrow, bw))


def _integer_producer(model: ModelWrapper, node):
    """For a node whose output is an integer with a known range: (values grid, flip function).

    XnorPopcountMatMul gives a popcount in 0..K; a Conv/MatMul with integer weights on
    +-1 or integer inputs (|q| <= amax) gives a dot product in [-L, L], L = amax * max sum |w|.  `flip(ch)` negates
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
        if w is None or not np.array_equal(w, np.round(w)):
            return None
        w = w.copy()
        amax = max(abs(v) for v in _int_range(model, node.input[0]))
        # |dot| <= sum |w| * amax over a channel's fan-in
        fan = np.abs(w).reshape(w.shape[0], -1).sum(axis=1) if node.op_type == "Conv" else np.abs(w).sum(axis=0)
        lim = int(fan.max(initial=0) * amax)

        def flip(ch):
            if node.op_type == "Conv":
                w[ch] = -w[ch]
            else:
                w[:, ch] = -w[:, ch]
            model.set_initializer(node.input[1], w)
        return np.arange(-lim, lim + 1), flip, lambda v: -v
    levels = node.op_type == "MultiThreshold" and _mt_dtype(node) != "BINARY"
    if (node.op_type in INT_STREAM_OPS or levels) and node.output and _is_int(model, node.output[0]):
        lo, hi = _int_range(model, node.output[0])
        return np.arange(int(lo), int(hi) + 1), _no_flip(node), lambda v: v
    return None


def _no_flip(node):
    def no_flip(ch):
        raise HwflowError(f"{node_label(node)}: the activation after it falls as its output rises in channel "
                          f"{ch} (a negative scale); after an add, a pooling, a requantization or a stream "
                          "read twice only increasing activations fold into thresholds")
    return no_flip


# ops whose integer output (an add of levels, a sum, a max or padding of them) may feed an activation
INT_STREAM_OPS = ("Add", "ReduceSum", "Round", "MaxPool", "Pad", "Concat")


def _is_int(model: ModelWrapper, tensor: str) -> bool:
    return model.get_tensor_datatype(tensor).name.startswith(("INT", "UINT"))


def _int_range(model: ModelWrapper, tensor: str) -> tuple:
    """(lowest, highest) value of an integer tensor: the levels of the quantizer or the
    thresholding that made it (a narrow INT2 is -1..1, not INT2's -2..1), else its DataType's."""
    t, extra = tensor, []
    while (prod := model.find_producer(t)) is not None and prod.op_type in (*LAYOUT_OPS, "Pad"):
        if prod.op_type == "Pad":
            spec = pad_spec(model, prod)
            if spec is None:
                break
            extra.append(spec[1])
        t = prod.input[0]
    lo, hi = _levels_range(model, t, prod)
    return min([lo, *extra]), max([hi, *extra])


def _levels_range(model: ModelWrapper, tensor: str, prod) -> tuple:
    if prod is not None and prod.op_type == "MultiThreshold" and _mt_dtype(prod) != "BINARY":
        lo = _attr(prod, "out_bias", 0.0)
        return lo, lo + model.get_initializer(prod.input[1]).shape[1]
    unscale = model.find_producer(prod.input[0]) if prod is not None and prod.op_type == "Round" else None
    quant = model.find_producer(unscale.input[0]) if unscale is not None and unscale.op_type == "Mul" else None
    bw = model.get_initializer(quant.input[3]) if quant is not None and quant.op_type == "Quant" else None
    if bw is not None:
        return _quant_range(quant, int(np.asarray(bw).reshape(())))
    dt = model.get_tensor_datatype(tensor)
    return dt.min(), dt.max()


# FoldThresholds evaluates the activation on every value a pre-activation can take, this
# many elements (values x channels) at a time
MAX_FOLD_VALUES = 1 << 18
FOLD_CHUNK_ELEMS = 1 << 22


class FoldThresholds(Transformation):
    """integer (popcount or dot) -> affine (scale, offset, BatchNorm) -> activation  ==>  MultiThreshold.

    The integer can only take a known, small set of values, so instead of solving the
    inequalities in floating point we run the chain itself on every possible value of
    every channel.  This reproduces the model's own rounding, ties included (sign(0) = +1,
    round half to even).  The activation level must be a staircase in the value: T[c, j]
    is the first value whose level index reaches j + 1.  A channel whose level falls as
    the value rises (negative BatchNorm scale) gets its weights inverted, which negates
    the value (or turns a popcount p into K - p) and makes the staircase rise.
    A k-bit activation becomes MultiThreshold(out_bias = lowest level) giving the levels q.
    """

    def apply(self, model):
        for node in list(model.graph.node):
            prod = _integer_producer(model, node)
            if prod is None:
                continue
            readers = [] if node.output[0] in [o.name for o in model.graph.output] else \
                model.find_consumers(node.output[0]) or []
            chains = [_affine_chain(model, node.output[0], r) for r in readers]
            chain = next((c for c in chains if c is not None
                          and not (len(c) == 1 and self._already_integer(model, c[0]))), None)
            if chain is None:
                continue
            values, flip, flip_value = prod
            if len(readers) > 1:
                flip = _no_flip(node)
            quant = next((n for n in chain if n.op_type == "Quant"), None)
            _check_split_ties(model, node, chain, quant)
            if len(values) > MAX_FOLD_VALUES:
                raise HwflowError(f"{node_label(node)}: its integer output spans {len(values):,} values, too many "
                                  f"to fold the activation after it into thresholds (at most {MAX_FOLD_VALUES:,}); "
                                  "use fewer weight or activation bits or a smaller fan-in")
            n_levels = 2 if quant is None else _quant_levels(model, quant)[2]
            levels = _level_index(model, node, chain, quant, values)
            thresholds = np.empty((levels.shape[1], n_levels - 1), dtype=np.float32)
            for ch, col in enumerate(levels.T):
                if np.all(np.diff(col) >= 0):       # a rising staircase
                    thresholds[ch] = _staircase(col, values, n_levels)
                elif np.all(np.diff(col) <= 0):     # falling: invert the channel, then it rises
                    flip(ch)
                    thresholds[ch] = _staircase(col[::-1], flip_value(values[::-1]), n_levels)
                else:
                    raise HwflowError(f"{node_label(chain[-1])}: activation of channel {ch} is not monotonic "
                                      "in the integer pre-activation; only BatchNorm/scale/offset may sit "
                                      "before an activation")
            tname = model.make_new_valueinfo_name()
            model.set_initializer(tname, thresholds)
            replace_nodes(model, chain, _threshold_nodes(model, node.output[0], tname, chain, quant))
            remove_dead_nodes(model)
            return model, True
        return model, False

    @staticmethod
    def _already_integer(model, mt) -> bool:
        t = model.get_initializer(mt.input[1])
        return t is not None and t.shape[1] == 1 and np.array_equal(t, np.round(t))


def _check_split_ties(model: ModelWrapper, node, chain: list, quant) -> None:
    """An add of two level streams with scale s (AddToInt) computes (q1 + q2)*s, the model
    q1*s + q2*s.  In float32 the two can differ by an ulp; where an activation after the add
    has a threshold in that ulp, the model's level depends on how the sum splits into q1
    and q2, which integer hardware cannot follow: say so, and how to avoid it."""
    if node.op_type != "Add" or chain[0].op_type != "Mul" or len(node.input) != 2:
        return
    s = model.get_initializer(chain[0].input[1])
    if s is None or np.asarray(s).size != 1:
        return
    s = np.float32(np.asarray(s).reshape(()))
    (lo1, hi1), (lo2, hi2) = _int_range(model, node.input[0]), _int_range(model, node.input[1])
    if (hi1 - lo1 + 1) * (hi2 - lo2 + 1) > FOLD_CHUNK_ELEMS:
        return  # summands of over 11 bits each: beyond what the residual streams here carry
    q1, q2 = (g.ravel().astype(np.float32) for g in np.meshgrid(np.arange(lo1, hi1 + 1), np.arange(lo2, hi2 + 1)))
    split, whole = q1 * s + q2 * s, (q1 + q2) * s
    odd = split != whole
    if not odd.any():
        return  # exact (e.g. a power-of-two scale): the sum alone decides
    last = chain[-1] if quant is None else quant
    nodes = chain[1:chain.index(last) + 1]
    if not nodes:
        return

    def levels(v):  # the chain after the Mul(s), fed the scaled sums
        grid = _channel_grid(model, node.output[0], v)
        return run_subgraph(model, nodes, {chain[0].output[0]: grid}, last.output[0]).reshape(len(v), -1)

    differ = (levels(split[odd]) != levels(whole[odd])).any(axis=1)
    if differ.any():
        sums = sorted({int(v) for v in (q1 + q2)[odd][differ]})
        raise HwflowError(f"{node_label(last)}: after the residual add {node.name} the model's level depends on how "
                          f"the sum splits, not on the sum alone (q1*s + q2*s rounds differently from (q1 + q2)*s "
                          f"at a tie of the quantizer, for sums {sums[:6]}{' ...' if len(sums) > 6 else ''}), so no "
                          "integer hardware can match it bit for bit; give the quantizers around residual adds "
                          "power-of-two scales (Brevitas Int8ActPerTensorFixedPoint with bit_width=k, as hwflow's "
                          "resnet-small does)")


def _channels(model: ModelWrapper, tensor: str) -> int:
    shape = model.get_tensor_shape(tensor)
    return shape[1 if len(shape) == 4 else -1]      # NCHW: channels on axis 1


def _channel_grid(model: ModelWrapper, tensor: str, v: np.ndarray) -> np.ndarray:
    """Each value of `v` in every channel of `tensor`: float32 [len(v), C] (or [len(v), C, 1, 1]
    for NCHW), to run a chain on all the values at once."""
    spatial = len(model.get_tensor_shape(tensor)) == 4
    shape = (len(v), _channels(model, tensor)) + ((1, 1) if spatial else ())
    return np.broadcast_to(v.reshape((-1, 1) + (1,) * (len(shape) - 2)), shape).astype(np.float32)


def _level_index(model: ModelWrapper, node, chain: list, quant, values: np.ndarray) -> np.ndarray:
    """Run `chain` on every value of every channel of `node`'s output: level indices [V, C]
    (0/1 for a binary MultiThreshold, q - lowest level for a Quant), in chunks of values so
    that a wide pre-activation range stays in bounded memory."""
    channels = _channels(model, node.output[0])
    last = chain[-1] if quant is None else quant
    nodes = chain[:chain.index(last) + 1]
    step = max(1, FOLD_CHUNK_ELEMS // channels)
    if quant is not None:
        s, lo, n_levels, _ = _quant_levels(model, quant)
    parts = []
    for v in (values[i:i + step] for i in range(0, len(values), step)):
        grid = _channel_grid(model, node.output[0], v)
        out = run_subgraph(model, nodes, {node.output[0]: grid}, last.output[0])
        if quant is not None:  # s*q back to the level index q - lo
            out = np.rint(out / s) - lo
            assert out.min() >= 0 and out.max() < n_levels
        parts.append(out.reshape(len(v), channels).astype(np.int16))  # levels < 2^8
    return np.concatenate(parts)


def _staircase(col: np.ndarray, values: np.ndarray, n_levels: int) -> np.ndarray:
    """Thresholds of a rising level column over increasing `values`: for each level j >= 1 the
    first value reaching it, or one beyond the range if it is never reached."""
    first = np.searchsorted(col, np.arange(1, n_levels), side="left")
    return np.append(values, values[-1] + 1)[first]


def _threshold_nodes(model: ModelWrapper, pre: str, tname: str, chain: list, quant) -> list:
    """The MultiThreshold replacing `chain`; after a bare Quant also the decode Mul(s) for its readers."""
    if quant is None:
        return [_multithreshold(pre, tname, chain[-1].output[0], chain[-1].name)]
    s, lo, _, dt = _quant_levels(model, quant)
    bare = chain[-1] is quant
    q = model.make_new_valueinfo_name() if bare else chain[-1].output[0]
    new = [helper.make_node("MultiThreshold", [pre, tname], [q], domain=QONNX_DOMAIN, out_dtype=dt.name,
                            out_bias=float(lo), name=quant.name)]
    model.set_tensor_datatype(q, dt)
    if bare:
        sname = model.make_new_valueinfo_name()
        model.set_initializer(sname, s)
        new.append(helper.make_node("Mul", [q, sname], [quant.output[0]], name=quant.name + "_decode"))
    return new


class QuantActToInt(Transformation):
    """An activation quantizer Quant(x) = s*q becomes q = Round(Quant(x)/s) followed by
    Mul(s) for its readers.  For the input quantizer q is the hardware's input; for a
    hidden k-bit activation FoldThresholds later replaces Quant..Round by a MultiThreshold."""

    def apply(self, model):
        for node in model.graph.node:
            if node.op_type != "Quant" or model.get_initializer(node.input[0]) is not None:
                continue
            unscale = single_consumer(model, node.output[0])
            after = single_consumer(model, unscale.output[0]) if unscale is not None else None
            if after is not None and after.op_type == "Round":
                continue  # already rewritten
            s, zp, bw = (model.get_initializer(i) for i in node.input[1:4])
            if s is None or np.any(s <= 0) or zp is None or np.any(zp != 0) or bw is None or np.asarray(bw).size != 1:
                raise HwflowError(f"{node_label(node)}: only zero-point-free activation quantizers with a "
                                  "constant positive scale (per tensor or per channel) and bit width are supported")
            s, bw = np.asarray(s, dtype=np.float32), int(np.asarray(bw).reshape(()))
            signed = _attr(node, "signed", 1)
            q, scaled, ints = (model.make_new_valueinfo_name() for _ in range(3))
            inv, sc = model.make_new_valueinfo_name(), model.make_new_valueinfo_name()
            model.set_initializer(inv, (1.0 / s).astype(np.float32))
            model.set_initializer(sc, s)
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


class SinkDecode(Transformation):
    """layout(2*b*s - s) -> 2*layout(b)*s - s and layout(q*s) -> layout(q)*s for max-pool,
    flatten, reshape, transpose.

    Max-pool commutes with an increasing decode (b -> 2bs - s, q -> q*s with s > 0), so a
    max-pool of +-1 values is an OR of bits and one of k-bit values a max of the levels;
    the others only move elements.  This brings the integer tensors next to the layers
    that read them.
    """

    def apply(self, model):
        for node in model.graph.node:
            if node.op_type not in LAYOUT_OPS or single_consumer(model, node.input[0]) is not node:
                continue
            src, ints = _bits_source(model, node.input[0]), _int_source(model, node.input[0])
            if src is None and (ints is None or (node.op_type == "MaxPool" and np.any(np.asarray(ints[1]) <= 0))):
                continue
            data, s = src if src is not None else ints
            if np.ndim(s) and node.op_type != "MaxPool":  # per-channel: move the scales with the elements
                s = _moved_scale(model, node, s)
            moved = model.make_new_valueinfo_name()
            layout = helper.make_node(node.op_type, [data] + list(node.input[1:]), [moved], name=node.name)
            layout.attribute.extend(node.attribute)
            if src is not None:
                decode, dt = _decode(model, moved, s, node.output[0], node.name), DataType["BINARY"]
            else:
                decode, dt = _scale(model, moved, s, node.output[0], node.name), model.get_tensor_datatype(data)
            replace_nodes(model, [node], [layout, *decode])
            model.set_tensor_datatype(moved, dt)
            remove_dead_nodes(model)
            return model, True
        return model, False


def _moved_scale(model: ModelWrapper, node, s: np.ndarray) -> np.ndarray:
    """The per-element scales after layout op `node` moved elements scaled by s (one image)."""
    shape = [1] + list(model.get_tensor_shape(node.input[0]))[1:]
    full = np.ascontiguousarray(np.broadcast_to(s, shape), dtype=np.float32)
    return run_subgraph(model, [node], {node.input[0]: full}, node.output[0]).astype(np.float32)


def _scale(model: ModelWrapper, ints: str, s, out: str, name: str) -> list:
    """The node computing out = ints*s: the values k-bit levels stand for."""
    sname = model.make_new_valueinfo_name()
    model.set_initializer(sname, np.asarray(s, dtype=np.float32))
    return [helper.make_node("Mul", [ints, sname], [out], name=name + "_rescale")]


# largest square kernel and stride the window generator is tested with
MAX_KERNEL = 7


def conv_geometry(node) -> tuple[int, int, list[int]]:
    """(kernel, stride, pads [top, left, bottom, right]) of a square Conv or pooling node."""
    attr = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    k = list(attr.get("kernel_shape", [0, 0]))
    st = list(attr.get("strides", [1, 1]))
    p = list(attr.get("pads", [0, 0, 0, 0]))
    return k[0], st[0], [p[0], p[1], p[2], p[3]]


def _conv_check(model: ModelWrapper, node) -> None:
    attr = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    problems = []
    if attr.get("group", 1) != 1:
        problems.append(f"group={attr['group']}")
    if any(d != 1 for d in attr.get("dilations", [1, 1])):
        problems.append(f"dilations={list(attr['dilations'])}")
    if attr.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID"):
        problems.append(f"auto_pad={attr['auto_pad'].decode()} (export explicit pads)")
    k = list(attr.get("kernel_shape", model.get_initializer(node.input[1]).shape[2:]))
    st = list(attr.get("strides", [1, 1]))
    if k[0] != k[1]:
        problems.append(f"non-square kernel {k}")
    elif not 1 <= k[0] <= MAX_KERNEL:
        problems.append(f"kernel {k[0]}x{k[0]} (at most {MAX_KERNEL}x{MAX_KERNEL})")
    if st[0] != st[1] or not 1 <= st[0] <= k[0]:
        problems.append(f"strides={st} (equal strides, at most the kernel size)")
    pads = list(attr.get("pads", [0, 0, 0, 0]))
    if any(pd >= k[0] for pd in pads):
        problems.append(f"pads={pads} (each smaller than the kernel)")
    if problems:
        raise HwflowError(f"{node_label(node)}: unsupported convolution feature: {', '.join(problems)}; "
                          f"hwflow supports square kernels up to {MAX_KERNEL}x{MAX_KERNEL}, strides up to the "
                          "kernel size, zero padding, no dilation, no groups")


def _pm_decode(model: ModelWrapper, bits: str, name: str) -> tuple[str, list]:
    """Nodes turning bits into the +-1 values they stand for (2b - 1), typed BIPOLAR: the
    input of an integer product whose weights are not +-1 (or of a conv, whose windows
    the hardware builds from the bits)."""
    pm = model.make_new_valueinfo_name()
    return pm, _decode(model, bits, 1.0, pm, name)


def _integer_operands(model: ModelWrapper, node, w: np.ndarray, in_axis: int, out_axis: int):
    """The integer form of a product with constant weights w: (nodes before it, its integer
    input, that input's DataType, integer weights q, output scale) with node == scale * (input . q),
    or None if its input is not bits or scaled integers or w is not integers times a scale.

    A per-channel input scale (one per input channel, along `in_axis` of w) is folded into
    the weights first; it must leave them integers times a per-output-channel scale."""
    src, ints = _bits_source(model, node.input[0]), _int_source(model, node.input[0])
    if src is None and ints is None:
        return None
    data, s_in = src if src is not None else ints
    if np.ndim(s_in):
        w = w * _channel_shape(np.asarray(s_in).reshape(-1), w.ndim, in_axis)
        s_in = 1.0
    iw = int_weights(w, out_axis)
    if iw is None:
        if ints is not None and np.ndim(ints[1]):
            raise HwflowError(f"{node_label(node)}: the per-channel scales of its input do not fold exactly into "
                              "its weights; use a per-tensor scale on the activation quantizer before it")
        return None
    q, s_w = iw
    pre = []
    if src is not None:
        data, pre = _pm_decode(model, data, node.name)
        dt = DataType["BIPOLAR"]
    else:
        dt = model.get_tensor_datatype(data)
    return pre, data, dt, q, np.asarray(s_in * np.asarray(s_w), dtype=np.float32)


class ConvToInt(Transformation):
    """Conv with integer-times-scale weights (+-s_w, ternary, k-bit; the scale per tensor or
    per output channel) on +-s activations or s*integers -> Conv with the integer weights on
    +-1 (or the integers), then one exact per-channel scale and the bias."""

    def apply(self, model):
        for node in model.graph.node:
            if node.op_type != "Conv" or model.get_tensor_datatype(node.input[0]) != DataType["FLOAT32"]:
                continue
            w = model.get_initializer(node.input[1])
            ops = _integer_operands(model, node, np.asarray(w), 1, 0) if w is not None else None
            if ops is None:
                continue
            _conv_check(model, node)
            new, data, dt, q, gain = ops
            wname, dot, gname = (model.make_new_valueinfo_name() for _ in range(3))
            model.set_initializer(wname, q)
            model.set_initializer(gname, _channel_shape(gain, 4, 1))
            conv = helper.make_node("Conv", [data, wname], [dot], name=node.name)
            conv.attribute.extend(node.attribute)
            out = node.output[0] if len(node.input) < 3 else model.make_new_valueinfo_name()
            new += [conv, helper.make_node("Mul", [dot, gname], [out], name=node.name + "_scale")]
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


class MatMulToInt(Transformation):
    """MatMul/Gemm with integer-times-scale weights on s*integers (k-bit levels or the input
    quantizer's), or on +-s bits when the weights are not +-1 (those went to XNOR) ->
    MatMul with the integer weights on the integers (or +-1), then one exact scale and the bias.

    (q*s) . (w*s_w) summed over K = s*s_w*(q . w): every product is an integer times s*s_w.
    """

    def apply(self, model):
        for node in model.graph.node:
            gemm = _matmul_weights(model, node)
            if gemm is None or model.get_tensor_datatype(node.input[0]) != DataType["FLOAT32"]:
                continue
            w, alpha, bias = gemm
            ops = _integer_operands(model, node, w, 0, 1)
            if ops is None:
                continue
            new, data, dt, q, gain = ops
            wname, dot, gname = (model.make_new_valueinfo_name() for _ in range(3))
            model.set_initializer(wname, q)
            model.set_initializer(gname, np.asarray(gain * alpha, dtype=np.float32))
            out = node.output[0] if bias is None else model.make_new_valueinfo_name()
            new += [helper.make_node("MatMul", [data, wname], [dot], name=node.name),
                    helper.make_node("Mul", [dot, gname], [out], name=node.name + "_scale")]
            if bias is not None:
                bname = model.make_new_valueinfo_name()
                model.set_initializer(bname, bias)
                new.append(helper.make_node("Add", [out, bname], [node.output[0]], name=node.name + "_bias"))
            replace_nodes(model, [node], new)
            model.set_tensor_datatype(data, dt)
            remove_dead_nodes(model)
            return model, True
        return model, False


class AddToInt(Transformation):
    """q1*s + q2*s -> (q1 + q2)*s: a residual add of two activations that share a quantizer
    (Brevitas's shared-quantizer pattern) becomes an add of their integer levels."""

    def apply(self, model):
        from hwflow.layers.base import range_type
        for node in model.graph.node:
            if node.op_type != "Add" or any(model.get_initializer(i) is not None for i in node.input):
                continue
            a, b = _int_source(model, node.input[0]), _int_source(model, node.input[1])
            if a is None or b is None:
                continue
            if np.shape(a[1]) != np.shape(b[1]) or not np.allclose(a[1], b[1], rtol=1e-6, atol=0):
                raise HwflowError(f"{node_label(node)}: adds activations with different scales; give both inputs "
                                  "of a residual add the same quantizer (one QuantIdentity used for both)")
            (lo1, hi1), (lo2, hi2) = _int_range(model, a[0]), _int_range(model, b[0])
            ints = model.make_new_valueinfo_name()
            new = [helper.make_node("Add", [a[0], b[0]], [ints], name=node.name),
                   *_scale(model, ints, a[1], node.output[0], node.name)]
            replace_nodes(model, [node], new)
            model.set_tensor_datatype(ints, range_type(int(lo1 + lo2), int(hi1 + hi2)))
            remove_dead_nodes(model)
            return model, True
        return model, False


class ConcatToInt(Transformation):
    """Concat(q1*s, q2*s, ...) -> Concat(q1, q2, ...)*s: a concatenation of activations with
    one scale becomes one of their integer levels (their types must then agree)."""

    def apply(self, model):
        for node in model.graph.node:
            if node.op_type != "Concat":
                continue
            srcs = [_int_source(model, i) for i in node.input]
            if any(src is None for src in srcs):
                continue
            if any(np.ndim(src[1]) for src in srcs) or not np.allclose([src[1] for src in srcs], srcs[0][1],
                                                                         rtol=1e-6, atol=0):
                raise HwflowError(f"{node_label(node)}: concatenates activations with different scales; give its "
                                  "inputs one per-tensor quantizer (one QuantIdentity used for all)")
            ints = model.make_new_valueinfo_name()
            cat = helper.make_node("Concat", [src[0] for src in srcs], [ints], name=node.name)
            cat.attribute.extend(node.attribute)
            replace_nodes(model, [node], [cat, *_scale(model, ints, srcs[0][1], node.output[0], node.name)])
            types = {model.get_tensor_datatype(src[0]) for src in srcs}
            model.set_tensor_datatype(ints, types.pop() if len(types) == 1 else DataType["INT32"])
            remove_dead_nodes(model)
            return model, True
        return model, False


def pad_spec(model: ModelWrapper, node):
    """A constant Pad of the two spatial axes of an NCHW tensor as ([top, left, bottom, right],
    value), or None if it is another kind of Pad."""
    if node.op_type != "Pad" or _attr(node, "mode", b"constant") not in (b"constant", "constant"):
        return None
    pads = model.get_initializer(node.input[1]) if len(node.input) > 1 else None
    has_axes = len(node.input) > 3 and node.input[3]
    value = model.get_initializer(node.input[2]) if len(node.input) > 2 and node.input[2] else np.float32(0)
    if pads is None or value is None or has_axes or len(pads) != 8:
        return None
    begin, end = [int(v) for v in pads[:4]], [int(v) for v in pads[4:]]
    if any(begin[:2]) or any(end[:2]):
        return None
    return [begin[2], begin[3], end[2], end[3]], float(np.asarray(value).reshape(()))


def _pad_node(model: ModelWrapper, node, data: str, value: float, out: str):
    """A copy of Pad `node` on `data` with a new constant `value`."""
    vname = model.make_new_valueinfo_name()
    model.set_initializer(vname, np.array(value, dtype=np.float32))
    return helper.make_node("Pad", [data, node.input[1], vname], [out], mode="constant", name=node.name)


class SinkPad(Transformation):
    """Constant padding of activations -> padding of the bits or integers they stand for.

    Pad(2bs - s, +-s) pads the bits b with 1 / 0.  Pad(2bs - s, 0) (a zero is neither bit)
    pads the +-1 values 2b - 1 with 0: a {-1, 0, +1} INT2 tensor, times s.  Pad(q*s, v)
    pads the levels q with v/s, which must be an integer in their type."""

    def apply(self, model):
        for node in model.graph.node:
            spec = pad_spec(model, node)
            if spec is None or single_consumer(model, node.input[0]) is not node:
                continue
            v = spec[1]
            src, ints = _bits_source(model, node.input[0]), _int_source(model, node.input[0])
            moved = model.make_new_valueinfo_name()
            if src is not None:
                b, s = src
                if np.isclose(abs(v), s):
                    new = [_pad_node(model, node, b, float(v > 0), moved), *_decode(model, moved, s, node.output[0],
                                                                                    node.name)]
                    dt = DataType["BINARY"]
                elif v == 0:
                    pm, new = _pm_decode(model, b, node.name)
                    new += [_pad_node(model, node, pm, 0.0, moved), *_scale(model, moved, s, node.output[0], node.name)]
                    dt = DataType["INT2"]
                else:
                    raise HwflowError(f"{node_label(node)}: pad value {v:g} is neither 0 nor one of the "
                                      f"activation's values (+-{s:g})")
            elif ints is not None:
                q, s = ints
                dt = model.get_tensor_datatype(q)
                level = 0.0 if v == 0 else v / s if np.ndim(s) == 0 else np.nan
                if not (np.isfinite(level) and level == np.round(level) and dt.allowed(level)):
                    raise HwflowError(f"{node_label(node)}: pad value {v:g} is not a level of the {dt.name} "
                                      "activation before it (pad with 0 or one of its values)")
                new = [_pad_node(model, node, q, level, moved), *_scale(model, moved, s, node.output[0], node.name)]
            else:
                continue
            replace_nodes(model, [node], new)
            model.set_tensor_datatype(moved, dt)
            remove_dead_nodes(model)
            return model, True
        return model, False


def pool_window(model: ModelWrapper, node):
    """An average pooling node as (positions per window, whole image?), or None: ReduceMean
    or GlobalAveragePool over H and W, or AveragePool without padding."""
    shape = model.get_tensor_shape(node.input[0])
    if shape is None or len(shape) != 4:
        return None
    if node.op_type == "GlobalAveragePool":
        return shape[2] * shape[3], True
    if node.op_type == "ReduceMean":
        axes = model.get_initializer(node.input[1]) if len(node.input) > 1 else _attr(node, "axes", None)
        if axes is None or sorted(int(a) % 4 for a in np.asarray(axes).reshape(-1)) != [2, 3]:
            return None
        return shape[2] * shape[3], True
    if node.op_type == "AveragePool":
        k, st, pads = conv_geometry(node)
        ks = _attr(node, "kernel_shape", [0, 0])
        if ks[0] != ks[1] or any(pads) or _attr(node, "ceil_mode", 0):
            return None
        return k * k, False
    return None


def sum_pool_output(model: ModelWrapper, node):
    """For an AveragePool that PoolToSum turned into a sum (AveragePool -> Mul(kk) -> Round),
    the tensor of sums; else None."""
    mul = single_consumer(model, node.output[0]) if node.op_type == "AveragePool" else None
    rnd = single_consumer(model, mul.output[0]) if mul is not None and mul.op_type == "Mul" else None
    if rnd is None or rnd.op_type != "Round" or model.get_tensor_datatype(rnd.output[0]).name == "FLOAT32":
        return None
    return rnd.output[0]


class PoolToSum(Transformation):
    """Average pooling of +-s bits or s*integers -> integer sums (the hardware adds), then one
    scale s/kk that the next layer folds: GlobalAveragePool / ReduceMean over H, W becomes
    ReduceSum; AveragePool becomes AveragePool * kk, rounded (exact: the sums are integers)."""

    def apply(self, model):
        from hwflow.layers.pool import sum_type
        for node in model.graph.node:
            win = pool_window(model, node)
            if win is None or sum_pool_output(model, node) is not None:
                continue
            kk, whole = win
            src, ints = _bits_source(model, node.input[0]), _int_source(model, node.input[0])
            if src is not None:
                data, new = _pm_decode(model, src[0], node.name)
                dt, s = DataType["BIPOLAR"], src[1]
            elif ints is not None:
                (data, s), new = ints, []
                dt = model.get_tensor_datatype(data)
            else:
                continue
            sums = model.make_new_valueinfo_name()
            if whole:
                axes = model.make_new_valueinfo_name()
                model.set_initializer(axes, np.array([2, 3], dtype=np.int64))
                new.append(helper.make_node("ReduceSum", [data, axes], [sums], keepdims=_attr(node, "keepdims", 1),
                                            name=node.name))
            else:
                avg, scaled, kname = (model.make_new_valueinfo_name() for _ in range(3))
                model.set_initializer(kname, np.array(kk, dtype=np.float32))
                pool = helper.make_node("AveragePool", [data], [avg], name=node.name)
                pool.attribute.extend(node.attribute)
                new += [pool, helper.make_node("Mul", [avg, kname], [scaled], name=node.name + "_kk"),
                        helper.make_node("Round", [scaled], [sums], name=node.name + "_sum")]
            if np.ndim(s) and not _attr(node, "keepdims", 1):
                continue  # per-channel scales [1, C, 1, 1] do not broadcast over [N, C]
            new += _scale(model, sums, np.asarray(s, dtype=np.float32) / kk, node.output[0], node.name)
            replace_nodes(model, [node], new)
            model.set_tensor_datatype(sums, sum_type(dt, kk))
            remove_dead_nodes(model)
            return model, True
        return model, False


def _int_source(model: ModelWrapper, tensor: str):
    """If `tensor` is q*s for integer levels q (as QuantActToInt writes them, possibly moved
    by SinkDecode or thresholded by FoldThresholds): (q, s), else None."""
    mul = model.find_producer(tensor)
    if mul is None or mul.op_type != "Mul":
        return None
    s = model.get_initializer(mul.input[1])
    is_int = model.get_tensor_datatype(mul.input[0]).name.startswith(("INT", "UINT"))  # not BINARY/BIPOLAR
    if s is None or not is_int:
        return None
    return mul.input[0], _scalar_or_array(s)


def _scalar_or_array(s):
    """A scale as a float when it is one number, else as the float32 array it is."""
    s = np.asarray(s, dtype=np.float32)
    return float(s.reshape(())) if s.size == 1 else s


# SinkDecode runs again after PoolToSum and the joins: a flatten after a pooling moves onto the
# sums, a max-pool after an add onto the added levels
PASSES = (FoldWeightQuantizers, ReshapeToFlatten, QuantActToInt, BipolarActToBits, SinkDecode, SinkPad,
          PoolToSum, AddToInt, ConcatToInt, SinkDecode, ConvToInt, MatMulToXnor, MatMulToInt, FoldThresholds)


def streamline(model: ModelWrapper) -> ModelWrapper:
    """Run all streamlining passes to a fixed point; the result still executes in qonnx."""
    for p in PASSES:
        model = model.transform(p())
        model = model.transform(InferShapes())
    # no InferDataTypes: it would overwrite the BINARY/BIPOLAR/INT annotations the passes set
    return model.transform(GiveUniqueNodeNames())
