"""Shared fixtures: small exported binary MLPs with randomised BatchNorm statistics."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from hwflow import export, zoo


def randomise_batchnorm(model: torch.nn.Module, seed: int, ties: bool = True) -> None:
    """BN statistics that exercise every threshold case: negative scales (flipped
    comparisons), zero scales (constant outputs), thresholds outside 0..K, and
    exact ties (mean on an even integer, beta = 0, so BN output is exactly 0)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            c = m.num_features
            m.weight.data = torch.randn(c, generator=g)
            m.weight.data[::7] = 0.0
            m.bias.data = torch.randn(c, generator=g) * 2
            m.running_mean.data = torch.randn(c, generator=g) * 6
            m.running_var.data = torch.rand(c, generator=g) * 4 + 0.1
            if ties:
                # popcount-based dot products are even/odd with K: put the mean on a reachable value
                m.running_mean.data[1::5] = 2.0 * torch.randint(-3, 4, (len(range(1, c, 5)),), generator=g)
                m.bias.data[1::5] = 0.0


def make_model(name: str, tmp_path, seed: int = 0, ties: bool = True):
    torch.manual_seed(seed)
    net = zoo.build_model(name).eval()
    randomise_batchnorm(net, seed, ties)
    path = export.export_brevitas(net, zoo.input_shape(name), tmp_path / f"{name.replace(':', '_')}.onnx")
    return net, path


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


def random_images(shape, n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, *shape), dtype=np.float32)
    x[rng.random(x.shape) < 0.05] = 0.5
    return x


def need_verilator():
    from hwflow import rtlsim
    from hwflow.errors import HwflowError
    try:
        rtlsim.find_verilator()
    except HwflowError as e:
        pytest.skip(str(e))
    if shutil.which("g++") is None:
        pytest.skip("g++ not installed")


def randomise_multibit(net: torch.nn.Module, seed: int, ties: bool = True) -> None:
    """conftest's BatchNorm statistics, plus channels whose BN output is exactly +-0.5 one
    step away from the mean (the 2-bit quantizer's round-half-to-even ties: var + eps is
    exactly 1, so BN is 0.5 * (x - mean)), and a random TensorNorm."""
    from brevitas_examples.bnn_pynq.models.tensor_norm import TensorNorm
    randomise_batchnorm(net, seed, ties)
    g = torch.Generator().manual_seed(seed + 1)
    for m in net.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)) and ties:
            eps = np.float32(m.eps)
            one_minus_eps = np.float32(1) - eps
            assert one_minus_eps + eps == np.float32(1)
            idx = torch.arange(2, m.num_features, 5)
            m.running_var.data[idx] = float(one_minus_eps)
            m.weight.data[idx] = 0.5 * torch.where(idx % 2 == 0, 1.0, -1.0)
            m.running_mean.data[idx] = torch.randint(-4, 5, (len(idx),), generator=g).float()
            m.bias.data[idx] = 0.0
        elif isinstance(m, TensorNorm):
            m.weight.data = torch.randn(1, generator=g)
            m.bias.data = torch.randn(1, generator=g)
            m.running_mean.data = torch.randn(1, generator=g)
            m.running_var.data = torch.rand(1, generator=g) + 0.1


def xnor_weight_quant():
    """A Brevitas quantizer for binary weights times a per-output-channel scale from weight
    statistics (XNOR-Net's alpha)."""
    from brevitas.core.quant import BinaryQuant
    from brevitas.inject.enum import ScalingImplType, ScalingPerOutputType, StatsOp
    from brevitas.quant import SignedBinaryWeightPerTensorConst

    class XnorWeight(SignedBinaryWeightPerTensorConst):
        tensor_quant = BinaryQuant          # no in-place clamp: it would move the statistics
        scaling_impl_type = ScalingImplType.STATS
        scaling_stats_op = StatsOp.AVE
        scaling_per_output_type = ScalingPerOutputType.CHANNEL
    return XnorWeight


def tie_images(shape, n, seed=0):
    """Random images with pixels on the input quantizers' rounding ties: 2x - 1 = +-0.5
    (x = 1/4, 3/4: the 2-bit input) and 128 * (2x - 1) half-integer (x = odd/512: the 8-bit)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, *shape), dtype=np.float32)
    pick = rng.random(x.shape)
    x[pick < 0.05] = 0.5
    quarter = (pick >= 0.05) & (pick < 0.15)
    x[quarter] = rng.choice([0.25, 0.75], size=int(quarter.sum()))
    odd = (pick >= 0.15) & (pick < 0.2)
    x[odd] = (2 * rng.integers(0, 256, size=int(odd.sum())) + 1) / 512
    return x


def brevitas_zoo_model(name: str, tmp_path, seed: int = 0, ties: bool = True):
    """A BNN-PYNQ model as the brevitas wheel ships it (random init, randomised BN/TensorNorm;
    with `ties`, BN outputs that land exactly on the quantizers' thresholds), exported to
    QONNX: (torch module in eval mode, path, per-image input shape)."""
    from brevitas_examples.bnn_pynq.models import model_with_cfg
    torch.manual_seed(seed)
    net, _ = model_with_cfg(name, pretrained=False)
    randomise_multibit(net, seed, ties)
    shape = (3, 32, 32) if name.startswith("cnv") else (1, 28, 28)
    return net.eval(), export.export_brevitas(net.eval(), shape, tmp_path / f"{name}.onnx"), shape


def build_and_check(path, out, backend: str, verify_images: int = 100):
    """`hwflow build` with one backend, its checks passed.  An HLS build skips rtlsim (it would
    repeat the RTL variant each test also runs) and must pass its C-simulation check."""
    from hwflow.build import BuildOptions, build
    opts = BuildOptions(verify_images=verify_images, synth="none", backend=backend, rtlsim=backend == "rtl")
    res = build(path, out, opts, quiet=True)
    checks = res.report["checks"]
    if backend == "rtl":
        assert res.report["verified"] is True, checks
    else:
        assert checks.get("cppsim_vs_dataflow") is True and all(checks.values()), checks
    return res
