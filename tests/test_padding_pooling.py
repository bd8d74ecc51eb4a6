"""Padding, strides, pooling: Brevitas conv nets with 'same' convolutions (zero padding of
+-1 and of integer activations), explicit +-1 padding, stride-2 convolutions, max-pools
with stride != size and padding, average and global average pooling, kernels 1x1 to 7x7
and non-square feature maps.

Each model's streamlined graph must compute what the exported one does, the lowered
layers must equal QONNX, and `hwflow build` + `hwflow sim` under random stalls must equal
torch with the RTL and the HLS backends."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
from conftest import build_and_check, need_verilator, random_images

from hwflow import export
from hwflow.dataflow import lower
from hwflow.errors import HwflowError
from hwflow.sim import simulate_build
from hwflow.streamline import streamline


def _acts():
    import brevitas.nn as qnn
    from brevitas.quant import SignedBinaryActPerTensorConst

    from hwflow.zoo import TernaryAct
    return (lambda: qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst),
            lambda: qnn.QuantIdentity(act_quant=TernaryAct))


def _conv(cin, cout, k, **kw):
    import brevitas.nn as qnn
    from brevitas.quant import SignedBinaryWeightPerTensorConst
    return qnn.QuantConv2d(cin, cout, k, bias=False, weight_quant=SignedBinaryWeightPerTensorConst,
                           weight_scaling_const=1.0, **kw)


def _linear(cin, cout):
    import brevitas.nn as qnn
    from brevitas.quant import SignedBinaryWeightPerTensorConst
    return qnn.QuantLinear(cin, cout, bias=False, weight_quant=SignedBinaryWeightPerTensorConst,
                           weight_scaling_const=1.0)


class SameStrideNet(nn.Module):
    """16x12 input: a 'same' 3x3 conv on the 8-bit input, +1 padding then a stride-2 conv on
    +-1 bits, a 3x3/2 max-pool with padding, a 'same' conv on +-1 (zeros: 2-bit stream),
    ternary activations, -1 padding (asymmetric), global average pooling, a linear layer."""

    def __init__(self):
        super().__init__()
        import brevitas.nn as qnn
        bact, tact = _acts()
        self.inq = qnn.QuantIdentity(bit_width=8)
        self.body = nn.Sequential(
            _conv(1, 8, 3, padding=1), nn.BatchNorm2d(8), bact(),
            nn.ConstantPad2d(1, 1.0), _conv(8, 16, 3, stride=2), nn.BatchNorm2d(16), bact(),
            nn.MaxPool2d(3, stride=2, padding=1),
            _conv(16, 16, 3, padding=1), nn.BatchNorm2d(16), tact(),
            nn.ConstantPad2d((0, 1, 1, 0), -1.0), _conv(16, 12, 2), nn.BatchNorm2d(12), tact(),
            nn.AdaptiveAvgPool2d(1))
        self.fc = _linear(12, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.body(self.inq(2 * x - 1)), 1))


class KernelPoolNet(nn.Module):
    """14x14 input: a 7x7 'same' conv, a 3x3/1 max-pool over 2-bit values with padding, a 1x1
    conv, a 2x2 average pool of ternary values, a 5x5 stride-3 conv, a 2x2/1 max-pool of
    bits, a linear layer."""

    def __init__(self):
        super().__init__()
        import brevitas.nn as qnn
        bact, tact = _acts()
        self.inq = qnn.QuantIdentity(bit_width=8)
        self.body = nn.Sequential(
            _conv(1, 6, 7, padding=3), nn.BatchNorm2d(6), tact(),
            nn.MaxPool2d(3, stride=1, padding=1),
            _conv(6, 8, 1), nn.BatchNorm2d(8), tact(),
            nn.AvgPool2d(2),
            _conv(8, 10, 5, stride=3, padding=2), nn.BatchNorm2d(10), bact(),
            nn.MaxPool2d(2, stride=1))
        self.fc = _linear(10 * 2 * 2, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.body(self.inq(2 * x - 1)), 1))


MODELS = {"same-stride": (SameStrideNet, (1, 16, 12)), "kernels-pools": (KernelPoolNet, (1, 14, 14))}


def _randomise_bn(net, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(torch.randn(n, generator=g))
                m.bias.copy_(torch.randn(n, generator=g) * 0.5)
                m.running_mean.copy_(torch.randn(n, generator=g) * 2)
                m.running_var.copy_(torch.rand(n, generator=g) * 4 + 0.5)


def _model(name, tmp_path, seed=0):
    make, shape = MODELS[name]
    torch.manual_seed(seed)
    net = make()
    _randomise_bn(net, seed)
    net.eval()
    return net, export.export_brevitas(net, shape, tmp_path / f"{name}.onnx"), shape


@pytest.mark.parametrize("name", MODELS)
def test_streamlining_and_lowering_are_exact(name, tmp_path):
    """streamline == exported graph; the lowered layers (numpy) == QONNX, on 100 images."""
    net, path, shape = _model(name, tmp_path)
    model = export.load_qonnx(path)
    x = random_images(shape, 100, seed=1)
    want = export.run_qonnx(model, x)
    slim = streamline(model)
    np.testing.assert_allclose(export.run_qonnx(slim, x, sanitize=False), want, rtol=1e-5, atol=1e-5)
    df = lower(slim)
    np.testing.assert_allclose(df.execute(x), want, rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        np.testing.assert_allclose(net(torch.from_numpy(x)).numpy(), want, rtol=1e-5, atol=1e-5)
    kinds = [lay.kind for lay in df.layers]
    assert "Pad" in kinds and "Pool" in kinds


def _build_equals_torch(name, tmp_path, backend):
    net, path, shape = _model(name, tmp_path)
    res = build_and_check(path, tmp_path / "b", backend)
    x = random_images(shape, 200, seed=2)
    got, _ = simulate_build(res.out, x, stalls=True, mode="rtlsim" if backend == "rtl" else "cppsim")
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    return res


# the second net's RTL build runs with `make test-slow` (its HLS build and both lowerings by default)
RTL_BUILDS = [pytest.param(n, marks=pytest.mark.slow) if n == "kernels-pools" else n for n in MODELS]


@pytest.mark.rtlsim
@pytest.mark.parametrize("name", RTL_BUILDS)
def test_build_equals_torch_rtl(name, tmp_path):
    need_verilator()
    res = _build_equals_torch(name, tmp_path, "rtl")
    # the cycle model holds per layer (the build measures every layer alone)
    for row in res.report["layers"]:
        assert abs(row["sim_cycles"] - row["est_cycles"]) <= 0.1 * row["est_cycles"] + 8, row


@pytest.mark.parametrize("name", MODELS)
def test_build_equals_torch_hls(name, tmp_path):
    from hwflow import cppsim
    try:
        cppsim.find_cxx()
        cppsim.find_ap_types()
    except HwflowError as e:
        pytest.skip(str(e))
    _build_equals_torch(name, tmp_path, "hls")


# --- what stays unsupported: one line naming the node ------------------------------------

class _One(nn.Module):
    def __init__(self, layer):
        super().__init__()
        import brevitas.nn as qnn
        bact, _ = _acts()
        self.inq, self.layer = qnn.QuantIdentity(bit_width=8), layer
        with torch.no_grad():
            features = layer.eval()(torch.zeros(1, 1, 8, 8)).numel()
        self.bn, self.act, self.fc = nn.BatchNorm2d(4), bact(), _linear(features, 10)

    def forward(self, x):
        y = self.act(self.bn(self.layer(self.inq(2 * x - 1))))
        return self.fc(torch.flatten(y, 1))


UNSUPPORTED = {
    "dilation": (lambda: _conv(1, 4, 3, dilation=2, padding=1), "dilations"),
    "groups": (lambda: nn.Sequential(_conv(1, 4, 3), _conv(4, 4, 3, groups=2, padding=1)), "group=2"),
    "non-square kernel": (lambda: _conv(1, 4, (3, 1), padding=(0, 1)), "non-square kernel"),
    "reflect padding": (lambda: nn.Sequential(nn.ReflectionPad2d(1), _conv(1, 4, 5)), "reflect padding"),
    "stride above kernel": (lambda: _conv(1, 4, 1, stride=2, padding=(1, 1)), "strides"),
}


@pytest.mark.parametrize("what", UNSUPPORTED)
def test_unsupported_features_are_named(what, tmp_path):
    make, words = UNSUPPORTED[what]
    torch.manual_seed(0)
    net = _One(make()).eval()
    path = export.export_brevitas(net, (1, 8, 8), tmp_path / "m.onnx")
    with pytest.raises(HwflowError) as e:
        lower(streamline(export.load_qonnx(path)))
    msg = str(e.value)
    assert "\n" not in msg and words in msg, msg
