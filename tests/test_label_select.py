"""On-chip label select: a model ending in ArgMax streams one index per image, and
`hwflow build` + `hwflow sim` equal torch's argmax with the RTL and the HLS backends; a
tail that is not increasing alike for all classes keeps the ArgMax on the host."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import need_verilator, random_images, randomise_batchnorm

from hwflow import export, zoo
from hwflow.build import BuildOptions, build
from hwflow.dataflow import lower
from hwflow.errors import HwflowError
from hwflow.sim import simulate_build
from hwflow.streamline import streamline


SHAPE = (1, 8, 8)


class ArgMaxMLP(torch.nn.Module):
    """A small W1A2 MLP (its last layer's 2-bit inputs give signed dot products) then argmax;
    `bias` adds a per-class offset, which changes the label: the host must take it."""

    def __init__(self, keepdim: bool = True, bias: bool = False):
        super().__init__()
        self.net, self.keepdim = zoo.QuantMLP((64, 48, 32, 10), weight_bits=1, act_bits=2), keepdim
        self.offset = torch.nn.Parameter(torch.linspace(-3, 3, 10), requires_grad=False) if bias else None

    def forward(self, x):
        y = self.net(x) * 0.5 + 1.0
        if self.offset is not None:
            y = y + self.offset
        return torch.argmax(torch.softmax(y, dim=1), dim=1, keepdim=self.keepdim)


def _model(tmp_path, **kw):
    torch.manual_seed(0)
    net = ArgMaxMLP(**kw).eval()
    randomise_batchnorm(net, 0)
    return net, export.export_brevitas(net, SHAPE, tmp_path / "m.onnx")


@pytest.mark.parametrize("keepdim", [True, False])
def test_lowering_puts_the_label_on_chip(keepdim, tmp_path):
    net, path = _model(tmp_path, keepdim=keepdim)
    model = export.load_qonnx(path)
    df = lower(streamline(model))
    assert df.layers[-1].kind == "LabelSelect" and df.layers[-1].out_elems == 1
    x = random_images(SHAPE, 200, seed=3)
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(df.execute(x), want)


def test_per_class_offsets_keep_the_argmax_on_the_host(tmp_path):
    net, path = _model(tmp_path, bias=True)
    df = lower(streamline(export.load_qonnx(path)))
    assert df.layers[-1].kind == "MVAU"
    assert [n.op_type for n in df.tail.graph.node][-1] == "ArgMax"
    x = random_images(SHAPE, 200, seed=3)
    with torch.no_grad():
        np.testing.assert_array_equal(df.execute(x), net(torch.from_numpy(x)).numpy())


def _build_equals_torch(tmp_path, backend):
    net, path = _model(tmp_path)
    res = build(path, tmp_path / "b", BuildOptions(verify_images=100, synth="none", backend=backend), quiet=True)
    assert res.report["verified"] is True
    x = random_images(SHAPE, 200, seed=4)
    got, _ = simulate_build(res.out, x, stalls=True, mode="rtlsim" if backend == "rtl" else "cppsim")
    with torch.no_grad():
        np.testing.assert_array_equal(got, net(torch.from_numpy(x)).numpy())


@pytest.mark.slow  # the core is checked alone in test_rtl_labelselect; the build with `make test-slow`
@pytest.mark.rtlsim
def test_build_equals_torch_rtl(tmp_path):
    need_verilator()
    _build_equals_torch(tmp_path, "rtl")


def test_build_equals_torch_hls(tmp_path):
    from hwflow import cppsim
    try:
        cppsim.find_cxx()
        cppsim.find_ap_types()
    except HwflowError as e:
        pytest.skip(str(e))
    _build_equals_torch(tmp_path, "hls")
