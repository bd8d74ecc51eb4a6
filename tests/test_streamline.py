"""Every streamlining pass is proven by executing the graph before and after it."""

from __future__ import annotations

import numpy as np
import pytest
from qonnx.transformation.infer_shapes import InferShapes

from hwflow import export
from hwflow.dataflow import lower
from hwflow.streamline import PASSES, streamline

from conftest import make_model, random_images

MODELS = ["mlp-w1a1", "tfc-w1a1", "mlp-w1a1:64-100-36-10", "cnv-small-w1a1"]


def bit_activations(model, x):
    """Every 1-bit activation tensor of a graph, as 0/1, in graph order."""
    from qonnx.core.onnx_exec import execute_onnx
    batched = export._with_batch(model, len(x))
    ctx = execute_onnx(batched, {model.graph.input[0].name: x}, return_full_exec_context=True)
    acts = []
    for n in model.graph.node:
        if n.op_type == "BipolarQuant" and model.get_initializer(n.input[0]) is None:
            acts.append((ctx[n.output[0]] > 0).astype(np.int64))
        elif n.op_type == "MultiThreshold":
            acts.append(ctx[n.output[0]].astype(np.int64))
    return acts


@pytest.mark.parametrize("name", MODELS)
def test_each_pass_preserves_outputs(name, tmp_path):
    net, path = make_model(name, tmp_path, seed=3)
    model = export.load_qonnx(path)
    x = random_images(net_shape(model), 100 if name.startswith("cnv") else 300, seed=1)
    before = export.run_qonnx(model, x)
    acts_before = bit_activations(model, x)
    assert exact_ties(model, x) > 0, "the test data must hit sign(0) ties"
    for p in PASSES:
        model = model.transform(p()).transform(InferShapes())
        after = export.run_qonnx(model, x)
        np.testing.assert_allclose(after, before, atol=1e-5, err_msg=f"after {p.__name__}")
        for a, b in zip(bit_activations(model, x), acts_before):
            np.testing.assert_array_equal(a, b, err_msg=f"1-bit activation changed by {p.__name__}")


def exact_ties(model, x):
    """How many pre-activation values are exactly 0 (where sign(0) = +1 matters)."""
    from qonnx.core.onnx_exec import execute_onnx
    ctx = execute_onnx(export._with_batch(model, len(x)), {model.graph.input[0].name: x},
                       return_full_exec_context=True)
    return sum(int(np.sum(ctx[n.output[0]] == 0)) for n in model.graph.node if n.op_type == "BatchNormalization")


def net_shape(model):
    return tuple(model.get_tensor_shape(model.graph.input[0].name))[1:]


@pytest.mark.parametrize("name", MODELS)
def test_streamlined_form(name, tmp_path):
    """After streamlining only XNOR-popcount, integer thresholds and the host head/tail remain."""
    _, path = make_model(name, tmp_path, seed=5)
    model = streamline(export.load_qonnx(path))
    ops = [n.op_type for n in model.graph.node]
    assert "BatchNormalization" not in ops and "BipolarQuant" not in ops and "Gemm" not in ops
    xnors = [n for n in model.graph.node if n.op_type == "XnorPopcountMatMul"]
    if ":" in name:
        assert len(xnors) == len(name.split(":")[-1].split("-")) - 1
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert all(np.all(np.abs(model.get_initializer(c.input[1])) == 1) for c in convs)
    assert len(xnors) + len(convs) >= 3
    for n in model.graph.node:
        prod = model.find_producer(n.input[0])
        if n.op_type == "MultiThreshold" and prod is not None and prod.op_type == "XnorPopcountMatMul":
            t = model.get_initializer(n.input[1])
            k = model.get_initializer(model.find_producer(n.input[0]).input[1]).shape[0]
            assert np.array_equal(t, np.round(t)) and t.min() >= 0 and t.max() <= k + 1


def test_torch_qonnx_dataflow_agree(tmp_path):
    """The torch model, the QONNX model and the dataflow IR agree on the same images.

    No engineered ties here: at an exact tie torch's BatchNorm (scale-and-shift) and
    onnxruntime's (subtract the mean first) round differently, and the QONNX model is the
    reference the hardware is held to (the tie tests above use it)."""
    import torch
    net, path = make_model("mlp-w1a1:64-100-36-10", tmp_path, seed=7, ties=False)
    model = export.load_qonnx(path)
    df = lower(streamline(model))
    x = random_images(df.input_shape, 500, seed=2)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(export.run_qonnx(model, x), ref, atol=1e-4)
    np.testing.assert_allclose(df.execute(x), ref, atol=1e-4)


def test_negative_scale_flips_weights(tmp_path):
    """Channels with negative BN scale are realised by inverting their weight rows; no others are."""
    import torch
    net, path = make_model("mlp-w1a1", tmp_path, seed=11, ties=False)
    bn = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm1d)][0]
    negative = set(np.flatnonzero(bn.weight.detach().numpy() < 0))
    model = export.load_qonnx(path)
    gemm = [n for n in model.graph.node if n.op_type == "Gemm"][0]
    w_exported = (model.get_initializer(model.find_producer(gemm.input[1]).input[0]) >= 0)  # [MH, MW]
    df = lower(streamline(model))
    flipped = set(np.flatnonzero(np.any(df.layers[0].weights != w_exported, axis=1)))
    assert flipped and flipped <= negative


def test_cnv_dataflow_matches_qonnx(tmp_path):
    """CNV-w1a1 (8-bit input layer, six convs, two max-pools, three FCs) lowered to SWG/MVAU/max-pool
    layers computes exactly what its QONNX model computes."""
    _, path = make_model("cnv-w1a1", tmp_path, seed=2)
    model = export.load_qonnx(path)
    df = lower(streamline(model))
    kinds = [lay.kind for lay in df.layers]
    assert kinds.count("SWG") == 6 and kinds.count("MaxPool") == 2 and kinds.count("MVAU") == 9
    assert df.layers[1].in_bits == 8
    x = random_images(df.input_shape, 40, seed=3)
    np.testing.assert_allclose(df.execute(x), export.run_qonnx(model, x), atol=1e-5)
