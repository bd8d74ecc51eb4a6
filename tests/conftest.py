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
