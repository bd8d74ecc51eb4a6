"""The human-readable report: report.md + PNG plots from a real (small) build."""

from __future__ import annotations

import json

import pytest

from hwflow.build import BuildOptions, build
from hwflow.report import bottleneck, fit, write_human_report

from conftest import make_model, need_verilator


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    need_verilator()
    tmp = tmp_path_factory.mktemp("report")
    _, path = make_model("mlp-w1a1", tmp, seed=3)
    res = build(path, tmp / "build", BuildOptions(verify_images=100, synth="none"), quiet=True)
    return res.out, res.report


@pytest.mark.rtlsim
def test_report_md_and_pngs(small_build):
    import matplotlib.pyplot as plt
    out, report = small_build
    md = write_human_report(out, report)
    assert md == out / "report.md"
    text = md.read_text()
    head = "\n".join(text.splitlines()[:5])
    # the bottleneck is the layer with the most (simulated) cycles, named in the first lines
    hot = max(report["layers"], key=lambda lay: lay["sim_cycles"])
    assert bottleneck(report)["name"] == hot["name"]
    assert f"`{hot['name']}`" in head and "Throughput limited by" in head
    assert f"Fits {report['board']}" in head and ("YES" in head) == report["resources_estimate"]["fits"]
    pngs = sorted(out.glob("report_*.png"))
    assert [p.name for p in pngs] == ["report_cycles.png", "report_fit.png", "report_layers.png"]
    for p in pngs:
        assert f"]({p.name})" in text          # relative links: viewable without a server
        img = plt.imread(p)
        assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 500, p.name
        assert img.std() > 0.05, f"{p.name} looks blank"
    # each check with the artefact it covered; the delivered RTL was simulated
    assert "| check | artefact | passed |" in text
    for check, artefact in report["check_artefacts"].items():
        assert f"| {check} | {artefact} | yes |" in text
    assert set(report["check_artefacts"]) == set(report["checks"])
    assert "Verified bit-exact:** yes" in head and "not simulated" not in text


@pytest.mark.rtlsim
def test_report_uses_synth_and_flags_overflow(small_build, tmp_path):
    out, report = small_build
    # a synthesized report with per-layer counts that overflows the board's LUTs
    rep = json.loads(json.dumps(report))
    rep["resources_synth"] = {"lut": rep["resources_estimate"]["board_lut"] + 1, "ff": 10, "bram18": 0, "dsp": 0,
                              "carry": 0, "tool": "yosys synth_xilinx", "family": "xc7", "seconds": 1.0}
    for lay in rep["layers"]:
        lay["synth"] = {"lut": lay["est_lut"] + 5, "ff": 1, "bram18": 0, "dsp": 0}
    ok, source, _ = fit(rep)
    assert not ok and source.startswith("Yosys")
    text = write_human_report(tmp_path, rep).read_text()
    assert "Fits Pynq-Z1 (xc7z020clg400-1):** NO by Yosys" in text
    assert "LUT (Yosys)" in text


@pytest.mark.rtlsim
def test_report_says_the_delivered_rtl_was_not_simulated(small_build, tmp_path):
    """A build whose checks all passed but whose RTL was not simulated says NO, and why."""
    out, report = small_build
    rep = json.loads(json.dumps(report))
    rep["checks"] = {k: v for k, v in rep["checks"].items() if not k.startswith("rtlsim")}
    rep["check_artefacts"] = {k: v for k, v in rep["check_artefacts"].items() if k in rep["checks"]}
    rep["delivered"]["simulated"], rep["verified"] = False, False
    text = write_human_report(tmp_path, rep).read_text()
    assert "Verified bit-exact:** NO (2/2 checks passed, but the Verilog RTL that Yosys" in text
    assert "was not simulated (--no-rtlsim)" in text
    assert "| rtlsim_vs_dataflow | Verilog RTL (rtl/), Verilator | not run (`--no-rtlsim`) |" in text
    assert "deployment package use the Verilog RTL in `rtl/`: **not simulated**" in text
