"""End to end: exported Brevitas MLPs -> build -> rtlsim, checked against qonnx execution."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hwflow import export
from hwflow.build import BuildOptions, build
from hwflow.sim import simulate_build

from conftest import make_model, need_verilator, random_images

CASES = [
    # (model, folding): the odd MLP gets PE/SIMD that divide its sizes only non-trivially
    ("mlp-w1a1:64-100-36-10", {"mvau0": {"pe": 5, "simd": 16}, "mvau1": {"pe": 3, "simd": 25},
                               "mvau2": {"pe": 2, "simd": 12}}),
    ("tfc-w1a1", None),
    ("sfc-w1a1", None),
    ("cnv-small-w1a1", None),
]


@pytest.mark.rtlsim
@pytest.mark.parametrize("name,folding", CASES, ids=[c[0] for c in CASES])
def test_build_and_sim_match_qonnx(name, folding, tmp_path):
    need_verilator()
    _, path = make_model(name, tmp_path, seed=21)
    fold_file = None
    if folding:
        fold_file = tmp_path / "folding.json"
        fold_file.write_text(json.dumps(folding))
    conv = name.startswith("cnv")
    res = build(path, tmp_path / "build", BuildOptions(folding=fold_file, verify_images=100 if conv else 300, synth="none"),
                quiet=True)
    rep = res.report
    assert rep["verified"] is True
    net = rep["network"]
    # the analytic cycle model against the simulated initiation interval
    assert abs(net["est_cycles_per_image"] - net["sim_cycles_per_image"]) <= 0.1 * net["sim_cycles_per_image"]
    for lay in rep["layers"]:
        assert abs(lay["est_cycles"] - lay["sim_cycles"]) <= 0.1 * lay["sim_cycles"], lay["name"]
    # fresh inputs through `hwflow sim`'s code path, with stalls, against qonnx execution of the original
    x = random_images(res.dataflow.input_shape, 100 if conv else 1000, seed=99)
    golden = export.run_qonnx(export.load_qonnx(path), x)
    y, info = simulate_build(res.out, x, stalls=True)
    np.testing.assert_allclose(y, golden, atol=1e-5)
    raw, _ = simulate_build(res.out, x, raw=True)
    np.testing.assert_array_equal(raw, res.dataflow.execute_hw(res.dataflow.run_head(x)))
    assert info["latency_cycles"] > 0


class UserMLP(__import__("torch").nn.Module):
    """An MLP as a user might write it, not from the zoo: biases, Brevitas's default binary
    weight scale, dropout, no input rescaling, a BatchNorm after the last layer too."""

    def __init__(self):
        import brevitas.nn as qnn
        from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst
        from torch import nn
        super().__init__()
        act = lambda: qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst)  # noqa: E731
        lin = lambda i, o: qnn.QuantLinear(i, o, bias=True, weight_quant=SignedBinaryWeightPerTensorConst)  # noqa
        self.body = nn.Sequential(act(), lin(48, 40), nn.BatchNorm1d(40), nn.Dropout(0.2), act(),
                                  lin(40, 24), nn.BatchNorm1d(24), act(), lin(24, 6), nn.BatchNorm1d(6))

    def forward(self, x):
        return self.body(x.flatten(1))


@pytest.mark.rtlsim
def test_any_brevitas_mlp_builds(tmp_path):
    import torch
    from hwflow import export
    from conftest import randomise_batchnorm
    need_verilator()
    torch.manual_seed(4)
    net = UserMLP().eval()
    randomise_batchnorm(net, 4, ties=False)
    for m in net.modules():
        if hasattr(m, "bias") and isinstance(m, __import__("brevitas").nn.QuantLinear):
            m.bias.data = torch.randn_like(m.bias) * 3
    path = export.export_brevitas(net, (3, 4, 4), tmp_path / "user.onnx")
    res = build(path, tmp_path / "b", BuildOptions(verify_images=300, synth="none"), quiet=True)
    assert res.report["verified"] is True
    x = random_images((3, 4, 4), 500, seed=8) * 2 - 1
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    y, _ = simulate_build(res.out, x)
    np.testing.assert_allclose(y, export.run_qonnx(export.load_qonnx(path), x), atol=1e-5)
    np.testing.assert_allclose(y, ref, atol=1e-4)


@pytest.mark.rtlsim
def test_cli_build_reports_yosys_fit_vivado_and_deploy(tmp_path):
    """`hwflow build` as a user runs it: rtlsim, Yosys counts with a fit verdict, the Vivado
    project (not run: no Vivado here) and the deployment package."""
    import shutil
    import subprocess
    import sys
    need_verilator()
    from hwflow.synth import find_yosys
    from hwflow.errors import HwflowError
    try:
        find_yosys()
    except HwflowError as e:
        pytest.skip(str(e))
    _, path = make_model("mlp-w1a1", tmp_path, seed=2)
    r = subprocess.run([sys.executable, "-m", "hwflow", "build", str(path), "--out", str(tmp_path / "b"),
                        "--verify-images", "200"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / "b" / "report.json").read_text())
    assert rep["verified"] and rep["finished"]
    syn = rep["resources_synth"]
    assert syn["lut"] > 0 and syn["fits"] is True
    assert (tmp_path / "b" / "vivado" / "build.tcl").is_file() and (tmp_path / "b" / "deploy.zip").is_file()
    if shutil.which("vivado") is None:
        assert rep["bitstream"] is None and "Vivado not found" in r.stderr
    assert "yosys:" in r.stdout and "fits" in r.stdout


def _need_cppsim():
    from hwflow.cppsim import find_ap_types, find_cxx
    from hwflow.errors import HwflowError
    try:
        find_ap_types(), find_cxx()
    except HwflowError as e:
        pytest.skip(str(e))


def _steps_counted_right(stderr: str) -> bool:
    """The progress lines count up to the total they announce."""
    import re
    steps = [(int(i), int(n)) for i, n in re.findall(r"^\[(\d+)/(\d+)\]", stderr, re.M)]
    return bool(steps) and steps == [(i, len(steps)) for i in range(1, len(steps) + 1)]


@pytest.mark.parametrize("name,folding", CASES[:2], ids=[c[0] for c in CASES[:2]])
def test_hls_backend_build_and_cppsim_match_qonnx(name, folding, tmp_path, capsys):
    """--backend hls --no-rtlsim: the generated HLS C++ network, compiled with g++, equals the
    QONNX model; yet the build is not verified, since the RTL it delivers was not simulated."""
    import shutil
    _need_cppsim()
    _, path = make_model(name, tmp_path, seed=12)
    fold = None
    if folding:
        fold = tmp_path / "fold.json"
        fold.write_text(json.dumps(folding))
    res = build(path, tmp_path / "b", BuildOptions(folding=fold, backend="hls", rtlsim=False, synth="none",
                                                   verify_images=300))
    rep = res.report
    assert rep["checks"] == {"streamline_vs_qonnx": True, "dataflow_vs_qonnx": True, "cppsim_vs_dataflow": True}
    assert rep["check_artefacts"]["cppsim_vs_dataflow"] == "HLS C++ (hls/), g++ C-simulation"
    assert rep["delivered"]["artefact"] == "rtl" and rep["delivered"]["simulated"] is False
    assert rep["verified"] is False
    assert json.loads((tmp_path / "b" / "report.json").read_text())["verified"] is False
    md = (tmp_path / "b" / "report.md").read_text()
    assert ("Verified bit-exact:** NO (3/3 checks passed, but the Verilog RTL that Yosys, the Vivado project and "
            "the deployment package use was not simulated (--no-rtlsim))") in md
    assert "| cppsim_vs_dataflow | HLS C++ (hls/), g++ C-simulation | yes |" in md
    assert "| rtlsim_vs_dataflow | Verilog RTL (rtl/), Verilator | not run (`--no-rtlsim`) |" in md
    if shutil.which("vitis_hls") is None:
        assert rep["hls_synthesis"] == "not run: vitis_hls not on PATH"
        assert "HLS synthesis (Vitis HLS): not run: vitis_hls not on PATH." in md
    assert _steps_counted_right(capsys.readouterr().err)
    assert (tmp_path / "b" / "hls" / "hwflow_top.tcl").is_file()
    x = random_images(res.dataflow.input_shape, 1000, seed=4)
    y, _ = simulate_build(res.out, x, mode="cppsim")
    np.testing.assert_allclose(y, export.run_qonnx(export.load_qonnx(path), x), atol=1e-5)


@pytest.mark.rtlsim
def test_hls_backend_also_simulates_the_rtl_it_delivers(tmp_path, capsys):
    """Yosys, the Vivado project and the deploy package use the Verilog RTL, so --backend hls
    simulates it too; report.json names the artefact each check covered."""
    need_verilator()
    _need_cppsim()
    _, path = make_model("mlp-w1a1", tmp_path, seed=5)
    res = build(path, tmp_path / "b", BuildOptions(backend="hls", synth="none", verify_images=100))
    rep = res.report
    assert rep["checks"] == {k: True for k in ("streamline_vs_qonnx", "dataflow_vs_qonnx", "cppsim_vs_dataflow",
                                               "rtlsim_vs_dataflow", "rtlsim_vs_qonnx")}
    assert set(rep["check_artefacts"]) == set(rep["checks"])
    assert rep["check_artefacts"]["cppsim_vs_dataflow"] == "HLS C++ (hls/), g++ C-simulation"
    assert rep["check_artefacts"]["rtlsim_vs_dataflow"] == "Verilog RTL (rtl/), Verilator"
    assert rep["delivered"]["artefact"] == "rtl" and rep["delivered"]["simulated"] is True
    assert rep["verified"] is True
    assert rep["network"]["sim_cycles_per_image"] > 0 and all(lay["sim_cycles"] for lay in rep["layers"])
    md = (tmp_path / "b" / "report.md").read_text()
    assert "Verified bit-exact:** yes (5/5 checks passed)" in md and "not simulated" not in md
    assert "| rtlsim_vs_dataflow | Verilog RTL (rtl/), Verilator | yes |" in md
    assert _steps_counted_right(capsys.readouterr().err)


def test_a_folder_make_cannot_handle_is_named(tmp_path):
    """make splits paths at ':' and ' ': a build folder with either is a one-line error, not make's."""
    need_verilator()
    from hwflow.errors import HwflowError
    from hwflow.rtlsim import build_sim
    for bad in ("a:b", "a b"):
        with pytest.raises(HwflowError, match="make cannot handle"):
            build_sim(tmp_path, "hwflow_top", [], tmp_path / bad)
