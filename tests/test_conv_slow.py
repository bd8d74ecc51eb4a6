"""Convolutional BNNs end to end at full size (minutes each: `make test-slow`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hwflow import export
from hwflow.build import BuildOptions, build
from hwflow.sim import simulate_build

from conftest import make_model, need_verilator, random_images


@pytest.mark.slow
@pytest.mark.rtlsim
def test_cnv_w1a1_bit_exact_at_default_folding(tmp_path):
    """CNV-w1a1 at the Pynq-Z1 default folding: per-layer and whole-network rtlsim under stalls
    (the build), then 100 fresh images through `hwflow sim` with stalls against qonnx."""
    need_verilator()
    _, path = make_model("cnv-w1a1", tmp_path, seed=31)
    res = build(path, tmp_path / "b", BuildOptions(verify_images=100, synth="none"), quiet=True)
    rep = res.report
    assert rep["verified"] is True and rep["resources_estimate"]["fits"]
    for lay in rep["layers"]:
        assert abs(lay["est_cycles"] - lay["sim_cycles"]) <= 0.1 * lay["sim_cycles"], lay["name"]
    net = rep["network"]
    assert abs(net["est_cycles_per_image"] - net["sim_cycles_per_image"]) <= 0.1 * net["sim_cycles_per_image"]
    x = random_images(res.dataflow.input_shape, 100, seed=5)
    y, _ = simulate_build(res.out, x, stalls=True)
    np.testing.assert_allclose(y, export.run_qonnx(export.load_qonnx(path), x), atol=1e-5)


@pytest.mark.slow
@pytest.mark.rtlsim
def test_small_conv_net_trains_and_keeps_its_accuracy_in_rtlsim(tmp_path):
    """The small conv net beats the MLP on the same data, and its test set through the RTL
    gives exactly the torch predictions."""
    need_verilator()
    from hwflow.train import train
    mlp = train("tfc-w1a1", "digits", tmp_path / "tfc", progress=False)
    cnv = train("cnv-small-w1a1", "digits", tmp_path / "cnv", progress=False)
    assert cnv["test_accuracy"] >= mlp["test_accuracy"]
    res = build(tmp_path / "cnv" / "model.onnx", tmp_path / "b", BuildOptions(verify_images=100, synth="none"), quiet=True)
    x, y = np.load(tmp_path / "cnv" / "test_x.npy"), np.load(tmp_path / "cnv" / "test_y.npy")
    out, _ = simulate_build(res.out, x)
    acc = float(np.mean(np.argmax(out, axis=1) == y))
    assert acc == pytest.approx(cnv["test_accuracy"], abs=1e-6)
    json.dumps(res.report)  # the report stays serialisable with conv layers
