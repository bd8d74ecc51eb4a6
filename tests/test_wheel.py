"""The wheel carries everything a build needs: the default model, the Verilog cores and the
harness, the HLS kernels, the Vivado TCL templates and the driver template (all package data,
found with importlib.resources).  Built offline from a copy of this checkout, without installing
it; then installed into a fresh venv, where `python -m hwflow build` runs from an empty folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import need_verilator

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built offline.  From a copy of the sources, so parallel test workers never
    share setuptools' build/ and *.egg-info folders in the checkout."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(REPO / "hwflow", src / "hwflow", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                        "--no-index", "-q", "-w", str(tmp / "dist")], capture_output=True, text=True)
    if r.returncode != 0 and "No module named" in r.stderr:
        pytest.skip(f"cannot build a wheel here: {r.stderr.strip().splitlines()[-1]}")
    assert r.returncode == 0, r.stderr[-2000:]
    (whl,) = (tmp / "dist").glob("hwflow-*.whl")
    return whl


def test_wheel_has_the_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    src = REPO / "hwflow"
    want = {f"hwflow/{p.relative_to(src).as_posix()}" for pattern in
            ("rtl/*.v", "rtl/*.cpp", "hls/*.h", "vivado_templates/*.tcl", "models/*/*", "layers/*.py",
             "deploy_templates/*.py") for p in src.glob(pattern)}
    assert "hwflow/models/tfc-w1a1-digits/model.onnx" in want and len(want) > 20
    assert want <= names, sorted(want - names)


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)


def test_wheel_builds_from_an_empty_folder_in_a_fresh_venv(wheel, tmp_path):
    """Issue 11: a non-editable install needs nothing from the checkout.  No network: the
    dependencies come from this interpreter's site-packages through a .pth file in the new venv
    (only its path lines count: .pth files inside those folders, such as the editable-install
    finder of this checkout, are not run)."""
    need_verilator()
    outer_site = [p for p in dict.fromkeys(sys.path)
                  if p and Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir()]
    if not outer_site:
        pytest.skip(f"no site-packages folder on sys.path to lend the new venv its dependencies: {sys.path}")
    venv = tmp_path / "venv"
    r = _run([sys.executable, "-m", "venv", "--without-pip", venv])
    if r.returncode != 0:
        pytest.skip(f"cannot create a venv here: {r.stderr.strip()[-500:]}")
    py = venv / "bin" / "python"
    site_pkgs = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True).stdout.strip())
    # install before the .pth exists, so pip sees no other hwflow (the checkout's editable one)
    r = _run([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index",
              "--ignore-installed", "-q", wheel])
    if r.returncode != 0 and "no such option: --python" in r.stderr:
        pytest.skip(f"pip too old for --python (needs 22.3): {r.stderr.strip()[-300:]}")
    assert r.returncode == 0, r.stderr[-2000:]
    (site_pkgs / "_hwflow_test_deps.pth").write_text("".join(f"{p}\n" for p in outer_site))

    empty = tmp_path / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env["OMP_NUM_THREADS"] = "1"
    probe = _run([py, "-c", "import sys, json, hwflow; from hwflow import rtlsim, build; print(json.dumps("
                  "[hwflow.__file__, str(rtlsim.find_verilator()), str(build.DEFAULT_MODEL), "
                  "[m for m in sys.modules if 'editable' in m], sys.path]))"], cwd=empty, env=env)
    assert probe.returncode == 0, probe.stderr[-2000:]
    init, verilator, default_model, editable, path = json.loads(probe.stdout)
    assert Path(init).resolve().is_relative_to(site_pkgs.resolve()), init
    assert editable == [], editable  # the checkout's editable finder did not activate
    assert not any((empty / p).resolve() == REPO for p in path), path  # "" is the cwd
    assert Path(verilator).is_file(), verilator
    packaged = (site_pkgs / "hwflow" / "models" / "tfc-w1a1-digits" / "model.onnx").resolve()
    assert packaged.is_file() and Path(default_model).resolve() == packaged, default_model

    r = _run([py, "-m", "hwflow", "build", "--board", "Pynq-Z1", "--synth", "none", "--out", "b",
              "--verify-images", "50"], cwd=empty, env=env, timeout=900)
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-3000:])
    report = json.loads((empty / "b" / "report.json").read_text())
    assert report["verified"] is True, report.get("checks")
    assert Path(report["model"]).resolve() == packaged, report["model"]
    assert not Path(report["model"]).resolve().is_relative_to(REPO)
    assert sorted(p.name for p in empty.iterdir()) == ["b"]
