"""Zoo, datasets, training and QONNX export: seeded, offline."""

from __future__ import annotations

import gzip
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from hwflow import zoo
from hwflow.data import load_dataset, read_idx
from hwflow.errors import HwflowError
from hwflow.export import export_brevitas, load_qonnx, run_qonnx
from hwflow.train import train

SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
FASHION = SHARED_DATASETS / "fashion-mnist"


def _randomised(name: str, seed: int = 0) -> torch.nn.Module:
    """A model whose BatchNorms are not the identity, so the export check means something."""
    torch.manual_seed(seed)
    model = zoo.build_model(name)
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.weight.data.uniform_(0.5, 2.0)
            m.bias.data.uniform_(-3.0, 3.0)
            m.running_mean.uniform_(-5.0, 5.0)
            m.running_var.uniform_(1.0, 30.0)
    return model.eval()


# ------------------------------------------------------------------------------ zoo


def _quant_bits(model) -> tuple[list[int], list[int]]:
    """Bit widths of the exported graph's (weight, activation) quantizers, in graph order,
    checking each is signed narrow-range with scale 1 (8-bit input: 2^-7, not narrow)."""
    weights, acts = [], []
    for n in model.graph.node:
        if n.op_type not in ("Quant", "BipolarQuant"):
            continue
        scale = model.get_initializer(n.input[1]).item()
        bits = 1 if n.op_type == "BipolarQuant" else int(model.get_initializer(n.input[3]).item())
        if n.op_type == "Quant":
            attrs = {a.name: a.i for a in n.attribute if a.name in ("signed", "narrow")}
            assert attrs == {"signed": 1, "narrow": int(bits != 8)}, n.name
        assert scale == (2.0 ** -7 if bits == 8 else 1.0), n.name
        (weights if model.get_initializer(n.input[0]) is not None else acts).append(bits)
    return weights, acts


# each export takes 2-5 s: the default run covers every quantizer combination once (tfc-w1a2,
# tfc-w2a2, the conv path at w2a2), the rest of the new names are slow tests
SLOW_NAMES = [pytest.param(n, marks=pytest.mark.slow)
              for n in ("sfc-w1a2", "sfc-w2a2", "lfc-w1a2", "cnv-small-w1a2", "cnv-w1a2", "cnv-w2a2")]


@pytest.mark.parametrize("name", [
    "tfc-w1a1", "sfc-w1a1", "lfc-w1a1", "mlp-w1a1", "mlp-w1a1:64-100-36-10", "mlp-w1a1:10-7-3",
    "tfc-w1a2", "tfc-w2a2", "cnv-small-w2a2", "mlp-w2a2:10-7-3", *SLOW_NAMES,
])
def test_torch_matches_qonnx(name, tmp_path):
    model = _randomised(name)
    shape = zoo.input_shape(name)
    path = export_brevitas(model, shape, tmp_path / "m.onnx")
    x = torch.rand(200, *shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = model(x).numpy()
    qmodel = load_qonnx(path)
    got = run_qonnx(qmodel, x.numpy())
    assert got.shape == ref.shape == (200, model.sizes[-1])
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)
    # weights and activations are +-1 or -1/0/+1 with scale 1, so the logits are exact integers
    np.testing.assert_array_equal(ref, np.round(ref))
    # and distinct inputs must give distinct outputs (guards against a degenerate export)
    assert len(np.unique(ref, axis=0)) > 1
    # the graph's quantizers have the name's bit widths; dropout is gone from the export
    spec = zoo.parse(name)
    weights, acts = _quant_bits(qmodel)
    n_layers = len(spec.convs) + len(spec.sizes) - 1
    assert weights == [spec.weight_bits] * n_layers
    assert acts == [8 if spec.convs else spec.act_bits] + [spec.act_bits] * (n_layers - 1)
    ops = [n.op_type for n in qmodel.graph.node]
    assert "Dropout" not in ops
    if name == "tfc-w2a2":  # same data path as tfc-w1a1 (test_qonnx_graph_ops), Quant for BipolarQuant
        assert ops.count("Quant") == 8 and "BipolarQuant" not in ops
        data_path = [o for o in ops if o != "Quant"]
        assert data_path == ["Reshape", "Mul", "Sub"] + ["Gemm", "BatchNormalization"] * 3 + ["Gemm"]


def test_qonnx_graph_ops(tmp_path):
    path = export_brevitas(_randomised("tfc-w1a1"), (1, 28, 28), tmp_path / "m.onnx")
    ops = [n.op_type for n in load_qonnx(path).graph.node]
    data_path = [o for o in ops if o != "BipolarQuant"]
    assert ops.count("Gemm") == 4 and ops.count("BatchNormalization") == 3
    # 4 weight quantizers + input quantizer + 3 activation quantizers
    assert ops.count("BipolarQuant") == 8
    assert data_path == ["Reshape", "Mul", "Sub"] + ["Gemm", "BatchNormalization"] * 3 + ["Gemm"]


def test_input_shapes_and_names():
    assert zoo.input_shape("tfc-w1a1") == (1, 28, 28)
    assert zoo.input_shape("lfc-w1a1") == (1, 28, 28)
    assert zoo.input_shape("mlp-w1a1") == (1, 8, 8)
    assert zoo.input_shape("mlp-w1a1:64-100-36-10") == (1, 8, 8)
    assert zoo.input_shape("mlp-w1a1:10-7-3") == (10,)
    assert zoo.build_model("sfc-w1a1").sizes == zoo.layer_sizes("sfc-w1a1") == (784, 256, 256, 256, 10)
    assert zoo.build_model("mlp-w1a1:64-100-36-10").sizes == (64, 100, 36, 10)
    lines = zoo.list_models()
    assert len(lines) == len(zoo.MODELS) and any(line.startswith("tfc-w1a1") for line in lines)
    new = ["tfc-w1a2", "sfc-w1a2", "lfc-w1a2", "tfc-w2a2", "sfc-w2a2", "cnv-w1a2", "cnv-w2a2",
           "cnv-small-w1a2", "cnv-small-w2a2"]
    assert set(new) <= set(zoo.MODELS)
    for name in new:
        topology, precision = name.rsplit("-", 1)
        spec = zoo.parse(name)
        assert (spec.topology, spec.weight_bits, spec.act_bits) == (topology, int(precision[1]), int(precision[3]))
        # the precision changes neither the shapes nor the sizes
        w1a1 = f"{topology}-w1a1"
        assert (spec.input_shape, spec.sizes) == (zoo.input_shape(w1a1), zoo.layer_sizes(w1a1))
    assert zoo.parse("cnv-w2a2").sizes == (256, 512, 512, 10) and zoo.parse("cnv-w2a2").input_shape == (3, 32, 32)
    name = "mlp-w2a2:64-100-36-10"
    assert zoo.parse(name) == zoo.Spec(name, "mlp", 2, 2, (64, 100, 36, 10), (1, 8, 8))
    assert zoo.build_model("mlp-w1a2:10-7-3").sizes == (10, 7, 3)


@pytest.mark.parametrize("bad", ["nope", "tfc", "mlp-w1a1:", "mlp-w1a1:64", "mlp-w1a1:64-x-10", "mlp-w1a1:64-0-10"])
def test_bad_model_names(bad):
    with pytest.raises(HwflowError) as e:
        zoo.build_model(bad)
    assert "tfc-w1a1" in str(e.value) or "size spec" in str(e.value)


@pytest.mark.parametrize("bad,needle", [
    ("tfc-w3a3", "use w1a1, w1a2, w2a2"), ("cnv-w1a4", "use w1a1, w1a2, w2a2"), ("tfc-w2a1", "e.g. tfc-w1a2"),
    ("tfc-w1a1:64-10", "only go with mlp"), ("cnv-small-w2a2:1-2", "only go with mlp"),
    ("mlp-w2a2:64", "size spec"), ("mlp-w1a2:", "size spec"), ("tfc-w1a1x", "tfc-w1a1"), ("TFC-W1A1", "tfc-w1a1"),
])
def test_bad_precisions_and_specs(bad, needle):
    with pytest.raises(HwflowError) as e:
        zoo.build_model(bad)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_sign_and_ste():
    model = zoo.build_model("mlp-w1a1").train()
    # sign(0) = +1: a pixel of exactly 0.5 maps to 2*0.5-1 = 0
    q = model.input_quant(torch.tensor([[-0.7, -1e-6, 0.0, 1e-6, 3.0]]))
    assert q.tolist() == [[-1.0, -1.0, 1.0, 1.0, 1.0]]
    torch.manual_seed(0)
    x = torch.rand(16, 1, 8, 8, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(model(x) / 8.0, torch.arange(16) % 10)
    loss.backward()
    first = model.layers[1].weight.grad  # layers[0] is the input dropout
    assert first is not None and first.abs().sum() > 0
    # the input quantizer's straight-through estimator lets gradients reach the pixels too
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_ternary_quantizers_and_ste():
    model = zoo.build_model("mlp-w2a2").train()
    # thresholds at +-0.5, ties to even (as Brevitas/BNN-PYNQ round): pixels 0.25 and 0.75 map to 0
    q = model.input_quant(torch.tensor([[-3.0, -0.51, -0.5, -0.2, 0.0, 0.49, 0.5, 0.51, 1.0, 2.0]]))
    assert q.tolist() == [[-1.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]]
    lin = model.layers[1]
    w = lin.quant_weight().value
    assert set(w.unique().tolist()) == {-1.0, 0.0, 1.0}
    # U(-1, 1) init as BNN-PYNQ: about half the weights start non-zero, not all at 0
    assert 0.35 < float((w != 0).float().mean()) < 0.65
    x = torch.rand(16, 1, 8, 8, requires_grad=True)
    torch.nn.functional.cross_entropy(model(x) / 8.0, torch.arange(16) % 10).backward()
    assert lin.weight.grad.abs().sum() > 0 and x.grad.abs().sum() > 0


def test_dropout_only_in_training():
    model = zoo.build_model("mlp-w1a1", dropout=0.5)
    assert any(isinstance(m, torch.nn.Dropout) for m in model.modules())
    model.eval()
    x = torch.rand(8, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


def test_dropout_defaults_follow_bnn_pynq():
    # FC nets: after the input quantizer and after each hidden activation; CNV: none
    tfc = zoo.build_model("tfc-w2a2")
    drops = [i for i, m in enumerate(tfc.layers) if isinstance(m, torch.nn.Dropout)]
    assert [tfc.layers[i].p for i in drops] == [0.2] * 4
    assert drops == [0] + [i + 2 for i, m in enumerate(tfc.layers) if isinstance(m, torch.nn.BatchNorm1d)]
    assert all(m.p == 0.0 for m in zoo.build_model("cnv-small-w1a2").modules() if isinstance(m, torch.nn.Dropout))
    # the state dict does not depend on p, so a checkpoint loads into the default build
    assert zoo.build_model("tfc-w1a2", dropout=0.0).state_dict().keys() == tfc.state_dict().keys()
    torch.manual_seed(0)
    x = torch.rand(64, 1, 28, 28)
    with torch.no_grad():
        assert not torch.equal(tfc.train()(x), tfc(x))  # stochastic in training
        assert torch.equal(tfc.eval()(x), tfc(x))
        no_drop = zoo.build_model("tfc-w2a2", dropout=0.0)
        no_drop.load_state_dict(tfc.state_dict())
        assert torch.equal(no_drop.eval()(x), tfc(x))  # and the identity in eval mode
    with pytest.raises(HwflowError, match="dropout"):
        zoo.build_model("tfc-w1a1", dropout=1.0)


# ------------------------------------------------------------------------------ export / load


def test_export_is_self_contained_and_movable(tmp_path):
    model = _randomised("tfc-w1a1")
    src = tmp_path / "a" / "model.onnx"
    export_brevitas(model, (1, 28, 28), src)
    assert sorted(p.name for p in src.parent.iterdir()) == ["model.onnx"]  # no .data, no temp file
    proto = onnx.load(str(src), load_external_data=False)
    assert all(t.data_location == onnx.TensorProto.DEFAULT for t in proto.graph.initializer)
    dst = tmp_path / "b" / "moved.onnx"
    dst.parent.mkdir()
    shutil.move(str(src), dst)
    x = np.random.default_rng(0).random((5, 1, 28, 28), dtype=np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(run_qonnx(load_qonnx(dst), x), ref, atol=1e-5)


def test_load_external_data_model(tmp_path):
    model = _randomised("mlp-w1a1")
    inline = export_brevitas(model, (1, 8, 8), tmp_path / "inline.onnx")
    ext_dir = tmp_path / "ext"
    ext_dir.mkdir()
    onnx.save_model(
        onnx.load(str(inline)), str(ext_dir / "m.onnx"), save_as_external_data=True,
        all_tensors_to_one_file=True, location="m.onnx.data", size_threshold=0,
    )
    assert (ext_dir / "m.onnx.data").is_file()
    x = np.random.default_rng(0).random((7, 1, 8, 8), dtype=np.float32)
    np.testing.assert_array_equal(run_qonnx(load_qonnx(ext_dir / "m.onnx"), x), run_qonnx(load_qonnx(inline), x))
    # without its data file the model cannot be read: a clear error, not a traceback
    (ext_dir / "m.onnx.data").unlink()
    with pytest.raises(HwflowError, match="cannot read"):
        load_qonnx(ext_dir / "m.onnx")


def test_load_errors(tmp_path):
    with pytest.raises(HwflowError, match="model file not found"):
        load_qonnx(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\xffthis is not a protobuf\xff" * 10)
    with pytest.raises(HwflowError, match="cannot read .* as an ONNX model"):
        load_qonnx(junk)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(HwflowError, match="cannot read"):
        load_qonnx(empty)


def test_run_qonnx_rejects_wrong_shape(tmp_path):
    path = export_brevitas(_randomised("mlp-w1a1"), (1, 8, 8), tmp_path / "m.onnx")
    with pytest.raises(HwflowError, match="per-image shape"):
        run_qonnx(load_qonnx(path), np.zeros((2, 1, 28, 28), np.float32))


# ------------------------------------------------------------------------------ data


def test_digits():
    d = load_dataset("digits")
    assert d.x_train.shape == (1437, 1, 8, 8) and d.x_test.shape == (360, 1, 8, 8)
    assert d.x_train.dtype == np.float32 and d.y_train.dtype == np.int64 and d.num_classes == 10
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0
    assert np.bincount(d.y_test).min() >= 35  # stratified
    d28 = load_dataset("digits", image_size=28)
    assert d28.x_train.shape == (1437, 1, 28, 28)
    np.testing.assert_array_equal(d28.y_test, d.y_test)  # same split
    # 24x24 nearest-neighbour upscale centred with a 2-pixel border
    np.testing.assert_array_equal(d28.x_test[:, :, 2:26:3, 2:26:3], d.x_test)
    assert d28.x_test[:, :, :2].max() == 0 and d28.x_test[:, :, 26:].max() == 0
    assert not np.array_equal(load_dataset("digits", seed=1).y_test, d.y_test)


def _write_idx(path: Path, arr: np.ndarray, gz: bool) -> None:
    head = struct.pack(">I", 0x0800 | arr.ndim) + b"".join(struct.pack(">I", s) for s in arr.shape)
    data = head + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


def test_idx_loader_naming_variants_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    imgs = {"train": rng.integers(0, 256, (12, 28, 28)), "t10k": rng.integers(0, 256, (5, 28, 28))}
    labs = {"train": rng.integers(0, 10, 12), "t10k": rng.integers(0, 10, 5)}
    for split in ("train", "t10k"):
        _write_idx(tmp_path / f"{split}-images.idx3-ubyte", imgs[split], gz=False)  # raw, dotted name
        _write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", labs[split], gz=True)
    d = load_dataset("mnist", data_dir=str(tmp_path))
    assert d.x_train.shape == (12, 1, 28, 28) and d.x_test.shape == (5, 1, 28, 28)
    np.testing.assert_allclose(d.x_test[:, 0] * 255, imgs["t10k"], atol=1e-3)
    np.testing.assert_array_equal(d.y_train, labs["train"])

    bad = tmp_path / "t10k-images.idx3-ubyte"
    bad.write_bytes(struct.pack(">I", 0x0801) + b"\x00" * 40)  # a labels magic on an image file
    with pytest.raises(HwflowError, match="t10k-images.*magic"):
        load_dataset("mnist", data_dir=str(tmp_path))
    _write_idx(bad, imgs["t10k"], gz=False)
    bad.write_bytes(bad.read_bytes()[:-10])  # truncated
    with pytest.raises(HwflowError, match="truncated"):
        read_idx(bad, 3)
    (tmp_path / "garbage.gz").write_bytes(b"\x1f\x8b" + b"\x00" * 20)  # gzip magic, corrupt body
    with pytest.raises(HwflowError, match="garbage.gz"):
        read_idx(tmp_path / "garbage.gz", 3)
    bad.unlink()
    with pytest.raises(HwflowError, match="t10k-images-idx3-ubyte"):
        load_dataset("mnist", data_dir=str(tmp_path))


def test_dataset_errors(tmp_path):
    with pytest.raises(HwflowError, match="digits"):
        load_dataset("cifar-100")
    with pytest.raises(HwflowError, match="--data-dir"):
        load_dataset("mnist")
    with pytest.raises(HwflowError, match="not found"):
        load_dataset("mnist", data_dir=str(tmp_path / "nowhere"))


@pytest.mark.skipif(not FASHION.is_dir(), reason="shared Fashion-MNIST not available")
def test_fashion_mnist_idx():
    d = load_dataset("fashion-mnist", data_dir=str(FASHION))
    assert d.x_train.shape == (60000, 1, 28, 28) and d.x_test.shape == (10000, 1, 28, 28)
    assert d.y_train.shape == (60000,) and d.y_test.shape == (10000,)
    assert d.x_train.dtype == np.float32 and 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0
    assert np.bincount(d.y_train, minlength=10).min() > 5000 and d.num_classes == 10


# ------------------------------------------------------------------------------ training


def test_short_training_run(tmp_path):
    m = train("mlp-w1a1", "digits", tmp_path, epochs=2, progress=False)
    for f in ("model.pt", "model.onnx", "metrics.json", "test_x.npy", "test_y.npy"):
        assert (tmp_path / f).is_file(), f
    assert not list(tmp_path.glob("*.data"))
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved == m
    for k in ("model", "dataset", "epochs", "test_accuracy", "train_accuracy", "seconds", "qonnx_test_accuracy"):
        assert k in saved
    assert saved["model"] == "mlp-w1a1" and saved["epochs"] == 2
    assert m["test_accuracy"] > 0.5
    assert m["qonnx_test_accuracy"] == pytest.approx(m["torch_test_accuracy_same_samples"])
    assert m["qonnx_torch_agreement"] == 1.0
    tx, ty = np.load(tmp_path / "test_x.npy"), np.load(tmp_path / "test_y.npy")
    assert tx.shape == (360, 1, 8, 8) and tx.dtype == np.float32 and ty.dtype == np.int64
    # the checkpoint rebuilds the same model
    ck = torch.load(tmp_path / "model.pt", weights_only=False)
    model = zoo.build_model(ck["model"])
    model.load_state_dict(ck["state_dict"])
    model.eval()
    with torch.no_grad():
        acc = float((model(torch.from_numpy(tx)).argmax(1).numpy() == ty).mean())
    assert acc == pytest.approx(m["test_accuracy"])


def test_short_training_run_w2a2(tmp_path):
    m = train("mlp-w2a2", "digits", tmp_path, epochs=5, progress=False, train_samples=600, test_samples=200)
    assert (m["train_samples"], m["test_samples"], m["dropout"]) == (600, 200, 0.2)
    assert m["test_accuracy"] > 0.5 and m["qonnx_torch_agreement"] == 1.0
    assert np.load(tmp_path / "test_x.npy").shape == (200, 1, 8, 8)
    weights, acts = _quant_bits(load_qonnx(tmp_path / "model.onnx"))
    assert weights == [2, 2, 2] and acts == [2, 2, 2]
    with pytest.raises(HwflowError, match="sample counts"):
        train("mlp-w2a2", "digits", tmp_path, epochs=1, progress=False, train_samples=0)


def test_training_is_deterministic(tmp_path):
    a = train("mlp-w1a1:64-32-10", "digits", tmp_path / "a", epochs=1, progress=False, seed=3)
    b = train("mlp-w1a1:64-32-10", "digits", tmp_path / "b", epochs=1, progress=False, seed=3)
    assert a["test_accuracy"] == b["test_accuracy"] and a["train_accuracy"] == b["train_accuracy"]
    sa = torch.load(tmp_path / "a" / "model.pt")["state_dict"]
    sb = torch.load(tmp_path / "b" / "model.pt")["state_dict"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_training_input_mismatch(tmp_path):
    with pytest.raises(HwflowError, match="inputs"):
        train("mlp-w1a1:10-8-10", "digits", tmp_path, epochs=1, progress=False)
    with pytest.raises(HwflowError, match="classes"):
        train("mlp-w1a1:64-8-4", "digits", tmp_path, epochs=1, progress=False)
    with pytest.raises(HwflowError, match="unknown dataset"):
        train("mlp-w1a1", "imagenet", tmp_path, epochs=1, progress=False)


@pytest.mark.slow
@pytest.mark.skipif(not FASHION.is_dir(), reason="shared Fashion-MNIST not available")
def test_tfc_fashion_mnist_accuracy(tmp_path):
    # defaults: 10 epochs, no dropout on the 60k-image set; measured 0.813 with seed 0
    m = train("tfc-w1a1", "fashion-mnist", tmp_path, data_dir=str(FASHION), progress=False)
    assert m["test_accuracy"] >= 0.80
    assert m["qonnx_torch_agreement"] == 1.0


def test_tfc_digits_default_training(tmp_path):
    # the demo's path with default settings (~6 s); measured 0.925 with seed 0 (seeds 1, 2:
    # 0.894, 0.931), the margin allows for other CPUs' float rounding
    m = train("tfc-w1a1", "digits", tmp_path, progress=False)
    assert m["test_accuracy"] >= 0.88
    assert np.load(tmp_path / "test_x.npy").shape == (360, 1, 28, 28)


# ------------------------------------------------------------------------------ resnet-small


def _calibrated(name: str, seed: int = 0) -> torch.nn.Module:
    """A randomised model whose learned residual quantizers have seen data (their scales
    start from the statistics of the first training batches)."""
    model = _randomised(name, seed).train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(16, *zoo.input_shape(name)))
    return model.eval()


@pytest.mark.parametrize("name", ["resnet-small-w1a1", pytest.param("resnet-small-w2a2", marks=pytest.mark.slow)])
def test_resnet_small_lowers_to_a_graph_that_equals_qonnx(name, tmp_path):
    from hwflow.dataflow import lower
    from hwflow.streamline import streamline
    spec = zoo.parse(name)
    assert spec.stages == ((32, 2), (64, 2)) and spec.sizes == (64, 10) and zoo.default_dropout(name) == 0.0
    model = _calibrated(name)
    path = export_brevitas(model, spec.input_shape, tmp_path / "m.onnx")
    x = torch.rand(64, *spec.input_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = model(x).numpy()
    qmodel = load_qonnx(path)
    got = run_qonnx(qmodel, x.numpy())
    np.testing.assert_allclose(got, ref, atol=1e-4, rtol=1e-5)
    assert len(np.unique(ref, axis=0)) > len(ref) // 2  # distinct inputs, distinct logits
    df = lower(streamline(qmodel))
    np.testing.assert_allclose(df.execute(x.numpy()), got, atol=1e-4, rtol=1e-5)
    kinds = [lay.kind for lay in df.layers]
    units = sum(n for _, n in spec.stages)
    # per unit: a Dup for the shortcut, an add, the sign (or ternary level) of the residual
    # stream and the requantization of the sum; the zero-padded conv input is 2 bits wide
    assert (kinds.count("Dup"), kinds.count("AddStreams"), kinds.count("Threshold")) == (units, units, 2 * units)
    adds = [lay for lay in df.layers if lay.kind == "AddStreams"]
    assert {lay.in_dtype.name for lay in adds} == {"INT4"}
    convs = [lay for lay in df.layers if lay.kind == "MVAU" and lay.in_dtype.name == "INT2"]
    assert len(convs) == units  # every unit's 3x3 conv reads its zero-padded activations
    # the stride-2 unit's shortcut sums 2x2 windows (AvgPool2d), the end is a global sum
    assert kinds.count("Pool") == 2 and kinds.count("MaxPool") == 1


def test_resnet_small_short_training_run(tmp_path):
    m = train("resnet-small-w1a1", "digits", tmp_path, epochs=1, progress=False, train_samples=256,
              test_samples=64)
    assert m["qonnx_torch_agreement"] == 1.0 and m["dropout"] == 0.0
    with pytest.raises(HwflowError, match="no dropout"):
        zoo.build_model("resnet-small-w1a1", dropout=0.2)
