"""Property: any small network inside the supported space computes the same through every stage.

Hypothesis draws a Brevitas network (layer sizes; 1- to 4-bit weights, +-1 or per-tensor or
per-output-channel scaled, with or without biases; 1- to 4-bit activations, signed or
unsigned, after BatchNorm with random statistics; a 1-bit or k-bit input quantizer; for the
slow variant also conv layers with max-pools) and a random folding, exports it with
export_qonnx and checks

    QONNX execution == the lowered dataflow model (floats to rounding)
    dataflow model  == rtlsim of the generated RTL under random stalls (integers exactly).

The default run tries a few MLPs with a fixed seed (derandomized: the same examples on every
run); `make test-slow` runs many more, conv nets included.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from hwflow import export
from hwflow.dataflow import lower
from hwflow.streamline import streamline

from conftest import need_verilator, xnor_weight_quant

warnings.filterwarnings("ignore", message=".*fast_hadamard_transform.*")


@st.composite
def layer_specs(draw, last: bool = False):
    spec = {"w_bits": draw(st.sampled_from([1, 2, 3, 4])), "per_channel": draw(st.booleans()),
            "bias": draw(st.booleans())}
    if not last:
        spec |= {"a_bits": draw(st.sampled_from([1, 2, 3, 4])), "a_signed": draw(st.booleans())}
    return spec


@st.composite
def mlp_specs(draw):
    hidden = draw(st.lists(st.integers(3, 24), min_size=1, max_size=2))
    return {"conv": [], "in_features": draw(st.integers(4, 40)), "hidden": hidden,
            "classes": draw(st.integers(2, 6)), "in_bits": draw(st.sampled_from([1, 2, 4, 8])),
            "layers": [draw(layer_specs()) for _ in hidden] + [draw(layer_specs(last=True))],
            "fold_seed": draw(st.integers(0, 2 ** 16))}


@st.composite
def conv_specs(draw):
    spec = draw(mlp_specs())
    n_conv = draw(st.integers(1, 2))
    spec["conv"] = [{"ch": draw(st.integers(2, 8)), "k": draw(st.sampled_from([1, 2, 3])),
                     "pool": draw(st.booleans()), **draw(layer_specs())} for _ in range(n_conv)]
    spec["in_ch"], spec["dim"] = draw(st.integers(1, 3)), draw(st.integers(6, 10))
    return spec


def _weight_quant(spec: dict) -> dict:
    from brevitas.quant import Int8WeightPerChannelFloat, Int8WeightPerTensorFloat, SignedBinaryWeightPerTensorConst
    if spec["w_bits"] > 1:
        q = Int8WeightPerChannelFloat if spec["per_channel"] else Int8WeightPerTensorFloat
        return {"weight_quant": q, "weight_bit_width": spec["w_bits"]}
    if not spec["per_channel"]:
        return {"weight_quant": SignedBinaryWeightPerTensorConst, "weight_scaling_const": 1.0}
    return {"weight_quant": xnor_weight_quant()}


def _act(bits: int, signed: bool) -> nn.Module:
    import brevitas.nn as qnn
    from brevitas.quant import Int8ActPerTensorFloat, SignedBinaryActPerTensorConst, Uint8ActPerTensorFloat
    if bits == 1:
        return qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst)
    return qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat if signed else Uint8ActPerTensorFloat, bit_width=bits)


class RandomNet(nn.Module):
    def __init__(self, spec: dict):
        super().__init__()
        import brevitas.nn as qnn
        self.inq = _act(spec["in_bits"], True)
        feats, ch, dim = [], spec.get("in_ch", 1), spec.get("dim", 0)
        for c in spec["conv"]:
            feats += [qnn.QuantConv2d(ch, c["ch"], c["k"], bias=c["bias"], **_weight_quant(c)),
                      nn.BatchNorm2d(c["ch"]), _act(c["a_bits"], c["a_signed"])]
            ch, dim = c["ch"], dim - c["k"] + 1
            if c["pool"] and dim >= 2:
                feats.append(nn.MaxPool2d(2))
                dim //= 2
        self.features = nn.Sequential(*feats)
        sizes = [ch * dim * dim if spec["conv"] else spec["in_features"], *spec["hidden"], spec["classes"]]
        fcs = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            ls = spec["layers"][i]
            fcs.append(qnn.QuantLinear(a, b, bias=ls["bias"], **_weight_quant(ls)))
            if i < len(sizes) - 2:
                fcs += [nn.BatchNorm1d(b), _act(ls["a_bits"], ls["a_signed"])]
        self.classifier = nn.Sequential(*fcs)
        self.shape = (spec["in_ch"], spec["dim"], spec["dim"]) if spec["conv"] else (spec["in_features"],)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(self.inq(x)), 1))


def _randomise(net: nn.Module, seed: int) -> None:
    """BatchNorm statistics (negative scales included) and biases at random; the learned
    activation scales moved off their defaults."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                n = m.num_features
                m.weight.copy_(torch.randn(n, generator=g) * 2)
                m.bias.copy_(torch.randn(n, generator=g))
                m.running_mean.copy_(torch.randn(n, generator=g))
                m.running_var.copy_(torch.rand(n, generator=g) * 4 + 0.2)
            elif getattr(m, "bias", None) is not None and isinstance(m.bias, torch.Tensor):
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.5)
            for name, p in m.named_parameters(recurse=False):
                if "scaling_impl" in name or name == "value":
                    p.copy_(p * (0.5 + torch.rand(p.shape, generator=g)))


def _random_folding(df, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for layer in df.layers:
        choices = layer.fold_choices()
        if choices:
            layer.set_folding(choices[rng.integers(len(choices))])
    df.net.tie_widths()


def check_network(spec: dict, tmp_path, n_images: int = 64) -> None:
    torch.manual_seed(spec["fold_seed"])
    net = RandomNet(spec)
    _randomise(net, spec["fold_seed"])
    net.eval()
    path = export.export_brevitas(net, net.shape, tmp_path / "m.onnx")
    model = export.load_qonnx(path)
    df = lower(streamline(model))
    x = np.random.default_rng(spec["fold_seed"]).normal(0, 1.5, (n_images, *net.shape)).astype(np.float32)
    want = export.run_qonnx(model, x)
    np.testing.assert_allclose(df.execute(x), want, rtol=1e-4, atol=1e-4, err_msg="dataflow != QONNX")

    from hwflow.sim import RtlSim
    _random_folding(df, spec["fold_seed"])
    hw_in = df.run_head(x)
    sim = RtlSim(df.layers, tmp_path / "rtl")
    got = sim.run(hw_in, seed=spec["fold_seed"], p_in=0.7, p_out=0.6).outputs
    np.testing.assert_array_equal(got, df.execute_hw(hw_in), err_msg="rtlsim != dataflow")


def _tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("net")


@pytest.mark.rtlsim
@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(spec=mlp_specs())
def test_random_mlps(spec, tmp_path_factory):
    need_verilator()
    check_network(spec, _tmp(tmp_path_factory))


@pytest.mark.slow
@pytest.mark.rtlsim
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(spec=st.one_of(mlp_specs(), conv_specs()))
def test_random_networks_slow(spec, tmp_path_factory):
    need_verilator()
    check_network(spec, _tmp(tmp_path_factory))
