"""On-chip label select: a model ending in ArgMax (TopK) streams one index (K indices) per
image, and `hwflow build` + `hwflow sim` equal torch's argmax (topk) with the RTL and the
HLS backends; a tail that is not increasing alike for all classes keeps the ArgMax on the
host."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import build_and_check, need_verilator, random_images, randomise_batchnorm

from hwflow import export, zoo
from hwflow.dataflow import lower
from hwflow.errors import HwflowError
from hwflow.sim import simulate_build
from hwflow.streamline import streamline


SHAPE = (1, 8, 8)


class ArgMaxMLP(torch.nn.Module):
    """A small W1A2 MLP (its last layer's 2-bit inputs give signed dot products) then argmax;
    `bias` adds a per-class offset, which changes the label: the host must take it."""

    def __init__(self, keepdim: bool = True, bias: bool = False, k: int = 1):
        super().__init__()
        self.net, self.keepdim, self.k = zoo.QuantMLP((64, 48, 32, 10), weight_bits=1, act_bits=2), keepdim, k
        self.offset = torch.nn.Parameter(torch.linspace(-3, 3, 10), requires_grad=False) if bias else None

    def forward(self, x):
        y = self.net(x) * 0.5 + 1.0
        if self.offset is not None:
            y = y + self.offset
        if self.k > 1:  # exports as ONNX TopK, whose ties go to the lower index as the hardware's
            return torch.topk(torch.softmax(y, dim=1), self.k, dim=1).indices
        return torch.argmax(torch.softmax(y, dim=1), dim=1, keepdim=self.keepdim)


def _model(tmp_path, **kw):
    torch.manual_seed(0)
    net = ArgMaxMLP(**kw).eval()
    randomise_batchnorm(net, 0)
    return net, export.export_brevitas(net, SHAPE, tmp_path / "m.onnx")


@pytest.mark.parametrize("keepdim,k", [(True, 1), (False, 1), (True, 3), (True, 10)])
def test_lowering_puts_the_label_on_chip(keepdim, k, tmp_path):
    net, path = _model(tmp_path, keepdim=keepdim, k=k)
    model = export.load_qonnx(path)
    assert [n.op_type for n in model.graph.node][-1] == ("TopK" if k > 1 else "ArgMax")
    df = lower(streamline(model))
    assert df.layers[-1].kind == "LabelSelect" and df.layers[-1].out_elems == k
    x = random_images(SHAPE, 200, seed=3)
    got = df.execute(x)
    _check_labels(net, path, x, got)
    if k > 1:  # the logits are small integers: ties inside the top K are common
        with torch.no_grad():
            top = np.sort(net.net(torch.from_numpy(x)).numpy(), axis=1)[:, -k:]
        assert (np.diff(top, axis=1) == 0).any(axis=1).sum() >= 10


def _check_labels(net, path, x, got):
    """Equal to torch's argmax.  TopK equals QONNX exactly (ONNX orders equal values by index);
    torch.topk orders ties its own way, so against torch the selected logits must be equal."""
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
        logits = net.net(torch.from_numpy(x)).numpy()
    assert got.shape == want.shape
    if net.k == 1:
        np.testing.assert_array_equal(got, want)
        return
    np.testing.assert_array_equal(got, export.run_qonnx(export.load_qonnx(path), x))
    got = got.astype(np.int64)
    np.testing.assert_array_equal(np.take_along_axis(logits, got, 1), np.take_along_axis(logits, want, 1))


def test_per_class_offsets_keep_the_argmax_on_the_host(tmp_path):
    net, path = _model(tmp_path, bias=True)
    df = lower(streamline(export.load_qonnx(path)))
    assert df.layers[-1].kind == "MVAU"
    assert [n.op_type for n in df.tail.graph.node][-1] == "ArgMax"
    x = random_images(SHAPE, 200, seed=3)
    with torch.no_grad():
        np.testing.assert_array_equal(df.execute(x), net(torch.from_numpy(x)).numpy())


def _build_equals_torch(tmp_path, backend, k=1):
    net, path = _model(tmp_path, k=k)
    res = build_and_check(path, tmp_path / "b", backend)
    x = random_images(SHAPE, 200, seed=4)
    got, _ = simulate_build(res.out, x, stalls=True, mode="rtlsim" if backend == "rtl" else "cppsim")
    _check_labels(net, path, x, got)


@pytest.mark.slow  # the core is checked alone in test_rtl_labelselect; the build with `make test-slow`
@pytest.mark.rtlsim
@pytest.mark.parametrize("k", [1, 3])
def test_build_equals_torch_rtl(tmp_path, k):
    need_verilator()
    _build_equals_torch(tmp_path, "rtl", k)


@pytest.mark.parametrize("k", [1, 3])
def test_build_equals_torch_hls(tmp_path, k):
    from hwflow import cppsim
    try:
        cppsim.find_cxx()
        cppsim.find_ap_types()
    except HwflowError as e:
        pytest.skip(str(e))
    _build_equals_torch(tmp_path, "hls", k)
