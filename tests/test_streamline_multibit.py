"""Streamlining of k-bit activations, proven by executing the graph before and after.

Brevitas's own BNN-PYNQ w1a2 models (binary weights, 2-bit activations in {-1, 0, +1})
must become integer matrix products followed by integer MultiThresholds that give the
activation levels, with nothing changed in what the graph computes (ties included).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.datatype import DataType
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes
from qonnx.util.basic import get_by_name

from hwflow import export
from hwflow.errors import HwflowError
from hwflow.streamline import PASSES, FoldThresholds, QuantActToInt, streamline

from conftest import randomise_multibit, tie_images  # noqa: F401 (shared with the build tests)

FAST = ["tfc_1w2a", "sfc_1w2a", "lfc_1w2a"]


def _shape(name):
    return (3, 32, 32) if name.startswith("cnv") else (1, 28, 28)


def brevitas_bnn(name: str, tmp_path, seed: int = 0):
    from brevitas_examples.bnn_pynq.models import model_with_cfg
    torch.manual_seed(seed)
    net, _ = model_with_cfg(name, pretrained=False)
    randomise_multibit(net, seed)
    path = export.export_brevitas(net.eval(), _shape(name), tmp_path / f"{name}.onnx")
    return export.load_qonnx(path)


def run_context(model, x):
    return execute_onnx(export._with_batch(model, len(x)), {model.graph.input[0].name: x},
                        return_full_exec_context=True)


def _is_hidden_quant(model, n):
    prod = model.find_producer(n.input[0]) if n.op_type == "Quant" else None
    return prod is not None and prod.op_type == "BatchNormalization"


def _kbit_thresholds(n):
    return n.op_type == "MultiThreshold" and get_by_name(n.attribute, "out_dtype").s != b"BINARY"


def activation_levels(model, ctx):
    """The integer level of every hidden k-bit activation, in graph order: round(Quant / s)
    before folding, the MultiThreshold's output after."""
    levels = []
    for n in model.graph.node:
        if _is_hidden_quant(model, n):
            levels.append(np.rint(ctx[n.output[0]] / model.get_initializer(n.input[1])).astype(np.int64))
        elif _kbit_thresholds(n):
            levels.append(ctx[n.output[0]].astype(np.int64))
    return levels


def quantizer_ties(model, ctx):
    """How many hidden quantizer inputs z lie exactly half-way between two levels (z/s = +-0.5
    for the -1/0/+1 quantizer), where round-half-to-even decides."""
    count = 0
    for n in model.graph.node:
        if _is_hidden_quant(model, n):
            z = ctx[n.input[0]] / model.get_initializer(n.input[1])
            count += int(np.sum((np.abs(z) == 0.5)))
    return count


def threshold_ties(model, ctx):
    """How many MultiThreshold inputs equal one of their channel's thresholds."""
    count = 0
    for n in model.graph.node:
        if _kbit_thresholds(n):
            v, t = ctx[n.input[0]], model.get_initializer(n.input[1])
            v = np.moveaxis(v, 1, -1)[..., None]           # channels last, then one axis per threshold
            count += int(np.sum(v == t))
    return count


def check_form(model):
    """Every hidden activation is an integer MultiThreshold giving 2-bit levels; every matrix
    product has +-1 weights on integer inputs; only the input quantizer is left."""
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Quant") == 1 and "BatchNormalization" not in ops and "Gemm" not in ops
    products = [n for n in model.graph.node if n.op_type in ("MatMul", "Conv")]
    mts = [n for n in model.graph.node if n.op_type == "MultiThreshold"]
    assert len(mts) == len(products) - 1 and all(_kbit_thresholds(n) for n in mts)
    for p in products:
        w = model.get_initializer(p.input[1])
        assert np.all(np.abs(w) == 1)
        assert model.get_tensor_datatype(p.input[0]).name in ("INT2", "INT8")
    for mt in mts:
        t = model.get_initializer(mt.input[1])
        prod = model.find_producer(mt.input[0])
        w = model.get_initializer(prod.input[1])
        k = int(np.prod(w.shape[1:])) if prod.op_type == "Conv" else w.shape[0]
        k *= 128 if model.get_tensor_datatype(prod.input[0]) == DataType["INT8"] else 1
        assert t.shape[1] == 2 and np.array_equal(t, np.round(t)) and t.min() >= -k and t.max() <= k + 1
        assert np.all(np.diff(t, axis=1) >= 0)
        assert get_by_name(mt.attribute, "out_dtype").s == b"INT2" and get_by_name(mt.attribute, "out_bias").f == -1
        assert model.get_tensor_datatype(mt.output[0]) == DataType["INT2"]
    return len(mts)


@pytest.mark.parametrize("name", FAST[:2])
def test_each_pass_preserves_outputs_and_levels(name, tmp_path):
    model = brevitas_bnn(name, tmp_path, seed=3)
    x = tie_images(_shape(name), 300, seed=1)
    ctx = run_context(model, x)
    before, levels = ctx[model.graph.output[0].name], activation_levels(model, ctx)
    assert len(levels) == 3 and quantizer_ties(model, ctx) > 0, "the test data must hit rounding ties"
    for p in PASSES:
        model = model.transform(p()).transform(InferShapes())
        after = export.run_qonnx(model, x, sanitize=False)
        np.testing.assert_allclose(after, before, atol=1e-5, err_msg=f"after {p.__name__}")
        for a, b in zip(activation_levels(model, run_context(model, x)), levels, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"activation levels changed by {p.__name__}")


def _streamlined_matches(name, tmp_path, n_images, seed):
    model = brevitas_bnn(name, tmp_path, seed=seed)
    x = tie_images(_shape(name), n_images, seed=seed)
    ctx = run_context(model, x)
    s = streamline(model)
    n_mts = check_form(s)
    sctx = run_context(s, x)
    np.testing.assert_allclose(export.run_qonnx(s, x, sanitize=False), ctx[model.graph.output[0].name], atol=1e-5)
    levels, slevels = activation_levels(model, ctx), activation_levels(s, sctx)
    assert len(slevels) == len(levels) == n_mts
    for a, b in zip(slevels, levels):
        np.testing.assert_array_equal(a, b)
        assert set(np.unique(a)) <= {-1, 0, 1}
    assert quantizer_ties(model, ctx) > 0 and threshold_ties(s, sctx) > 0
    return s


@pytest.mark.parametrize("name", FAST)
def test_fc_streamlined_form(name, tmp_path):
    """tfc/sfc/lfc_1w2a: MatMul(+-1) on INT2 -> MultiThreshold(INT2) x3, then the float tail."""
    s = _streamlined_matches(name, tmp_path, 200, seed=5)
    ops = [n.op_type for n in s.graph.node]
    assert ops.count("MatMul") == 4 and ops.count("MultiThreshold") == 3
    tail = ops[len(ops) - 1 - ops[::-1].index("MatMul"):]
    assert tail == ["MatMul", "Mul", "Sub", "Div", "Mul", "Add"]     # scale, then TensorNorm in float


def test_cnv_streamlined_form(tmp_path):
    """cnv_1w2a: six Conv(+-1) and two MatMul(+-1) on INT2 (INT8 for the first conv), each followed by a
    2-bit MultiThreshold; max-pools and the flatten act on the levels."""
    s = _streamlined_matches("cnv_1w2a", tmp_path, 20, seed=2)
    ops = [n.op_type for n in s.graph.node]
    assert ops.count("Conv") == 6 and ops.count("MatMul") == 3 and ops.count("MultiThreshold") == 8
    for n in s.graph.node:
        if n.op_type in ("MaxPool", "Flatten"):
            assert model_dt(s, n.input[0]) == model_dt(s, n.output[0]) == "INT2"
            assert s.find_producer(n.input[0]).op_type in ("MultiThreshold", "MaxPool")


def model_dt(model, t):
    return model.get_tensor_datatype(t).name


def test_one_bit_models_unchanged(tmp_path):
    """Brevitas's tfc_1w1a still becomes XNOR-popcount + 1-bit thresholds (the k-bit passes leave it)."""
    model = brevitas_bnn("tfc_1w1a", tmp_path, seed=1)
    s = streamline(model)
    ops = [n.op_type for n in s.graph.node]
    assert ops.count("XnorPopcountMatMul") == 4 and ops.count("MultiThreshold") == 4 and "MatMul" not in ops
    assert all(get_by_name(n.attribute, "out_dtype").s == b"BINARY" for n in s.graph.node
               if n.op_type == "MultiThreshold")
    x = tie_images(_shape("tfc_1w1a"), 100, seed=0)
    np.testing.assert_allclose(export.run_qonnx(s, x, sanitize=False), export.run_qonnx(model, x), atol=1e-5)


# --- FoldThresholds on a hand-built graph ------------------------------------------------

def tiny_graph(bits: int, signed: int, narrow: int, scale: float, k: int = 12, ch: int = 7, seed: int = 0):
    """x (integers in -1..1) -> MatMul(+-1) -> BatchNorm -> k-bit Quant.  BN channel 0 has a
    negative scale, channel 1 a zero one, channel 2 sits exactly on a rounding tie
    (BN = scale/2 * (x - mean), var + eps == 1)."""
    rng = np.random.default_rng(seed)
    w = rng.choice([-1.0, 1.0], size=(k, ch)).astype(np.float32)
    eps = np.float32(1e-5)
    gamma = rng.uniform(0.2, 2.0, ch).astype(np.float32)
    beta = rng.normal(0, 1, ch).astype(np.float32)
    mean = rng.normal(0, 3, ch).astype(np.float32)
    var = rng.uniform(0.5, 4, ch).astype(np.float32)
    gamma[0], gamma[1], beta[1] = -1.3, 0.0, 0.7
    gamma[2], beta[2], mean[2], var[2] = scale / 2, 0.0, 1.0, np.float32(1) - eps
    inits = {"w": w, "gamma": gamma, "beta": beta, "mean": mean, "var": var,
             "s": np.array(scale, dtype=np.float32), "zp": np.array(0.0, dtype=np.float32),
             "bw": np.array(float(bits), dtype=np.float32)}
    nodes = [helper.make_node("MatMul", ["x", "w"], ["dot"]),
             helper.make_node("BatchNormalization", ["dot", "gamma", "beta", "mean", "var"], ["bn"], epsilon=float(eps)),
             helper.make_node("Quant", ["bn", "s", "zp", "bw"], ["y"], domain="qonnx.custom_op.general",
                              signed=signed, narrow=narrow, rounding_mode="ROUND", name="act")]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, ch])],
                              initializer=[helper.make_tensor(n, TensorProto.FLOAT, v.shape, v.ravel())
                                           for n, v in inits.items()])
    model = ModelWrapper(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))
    model = model.transform(InferShapes())
    model.set_tensor_datatype("x", DataType["INT2"])
    return model


def _every_input(k, n, seed):
    """All-equal rows (the extremes and ties of small dots) plus random rows of -1/0/+1."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-1, 2, size=(n, k)).astype(np.float32)
    x[:3] = np.array([-1, 0, 1], dtype=np.float32)[:, None]
    return x


@pytest.mark.parametrize("bits,signed,narrow,scale", [(2, 1, 1, 0.75), (3, 0, 0, 0.5), (4, 1, 0, 0.3)])
@pytest.mark.parametrize("via_round", [False, True])
def test_fold_kbit_thresholds_tiny(bits, signed, narrow, scale, via_round):
    model = tiny_graph(bits, signed, narrow, scale)
    x = _every_input(12, 4000, seed=bits)
    ctx = run_context(model, x)
    ref = ctx["y"]
    assert np.sum(np.abs(ctx["bn"] / scale - np.floor(ctx["bn"] / scale)) == 0.5) > 0, "must hit rounding ties"
    w_before = model.get_initializer("w").copy()
    if via_round:                      # the streamlining order: levels via Round first
        model = model.transform(QuantActToInt()).transform(InferShapes())
    folded = model.transform(FoldThresholds()).transform(InferShapes())
    ops = [n.op_type for n in folded.graph.node]
    assert ops[:2] == ["MatMul", "MultiThreshold"] and "BatchNormalization" not in ops and "Quant" not in ops
    mt = folded.graph.node[1]
    t = folded.get_initializer(mt.input[1])
    lo = -(2 ** (bits - 1)) + narrow if signed else 0
    n_levels = 2 ** bits - (narrow if signed else 0)
    assert t.shape == (7, n_levels - 1) and np.array_equal(t, np.round(t)) and np.all(np.diff(t, axis=1) >= 0)
    assert get_by_name(mt.attribute, "out_bias").f == lo
    assert get_by_name(mt.attribute, "out_dtype").s.decode() == f"{'INT' if signed else 'UINT'}{bits}"
    assert folded.get_tensor_datatype(mt.output[0]).name == f"{'INT' if signed else 'UINT'}{bits}"
    # the negative-scale channel, and only it among the non-constant ones, has its weights negated
    flipped = np.flatnonzero(np.any(folded.get_initializer("w") != w_before, axis=0))
    assert list(flipped) == [0]
    fctx = run_context(folded, x)
    np.testing.assert_array_equal(fctx["y"], ref)      # exact: same levels, same decode
    np.testing.assert_array_equal(fctx[mt.output[0]], np.rint(ref / np.float32(scale)))
    assert len(np.unique(fctx[mt.output[0]][:, 1])) == 1        # zero BN scale: one level
    assert threshold_ties(folded, fctx) > 0


def test_fold_rejects_wide_activations():
    """A 9-bit hidden activation would need 511 thresholds per channel: refused, naming the node."""
    with pytest.raises(HwflowError, match="Quant node 'act'.*9-bit"):
        tiny_graph(9, 1, 0, 0.5).transform(FoldThresholds())
