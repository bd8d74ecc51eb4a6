"""Simulator builds share one precompiled verilated.h (per compiler and flags, in the user's
cache); a precompiled header the compiler cannot use is passed over, never trusted."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from hwflow.layers import MVAU
from hwflow.sim import RtlSim

from conftest import need_verilator


@pytest.mark.rtlsim
def test_simulators_share_a_precompiled_verilated_h(tmp_path, monkeypatch):
    need_verilator()
    cxx = subprocess.run(["c++", "--version"], capture_output=True, text=True)
    if "Free Software Foundation" not in cxx.stdout:
        pytest.skip("the precompiled header is made for GCC only")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    layer = MVAU("m", rng.integers(0, 2, (8, 32), dtype=np.uint8), rng.integers(12, 20, 8), pe=2, simd=8)
    x = rng.integers(0, 2, (20, 32))

    # two builds at once on an empty cache (the build's per-layer simulators are built in threads)
    with ThreadPoolExecutor(2) as pool:
        sim, twin = pool.map(lambda d: RtlSim([layer], tmp_path / d), ["a", "a2"])
    (gch,) = (tmp_path / "cache").rglob("hwflow_verilated.h.gch")
    assert not [p.name for p in gch.parent.iterdir() if p.name.startswith(".")]  # no temporary left
    header = gch.with_suffix("")
    log = (sim.obj_dir / "build.log").read_text()
    assert log.count(f"-include {header}") >= 2  # the model and the harness
    for s in (sim, twin):
        np.testing.assert_array_equal(s.run(x, p_in=0.5, p_out=0.5).outputs, layer.execute(x))

    # a second simulator finds it in the cache and makes no other
    RtlSim([layer], tmp_path / "b")
    assert list((tmp_path / "cache").rglob("*.gch")) == [gch]

    # a header file GCC cannot use is ignored: the text header is compiled instead
    gch.write_bytes(b"not a precompiled header")
    other = MVAU("m", 1 - layer.weights, layer.thresholds, pe=2, simd=8)
    sim = RtlSim([other], tmp_path / "c")
    np.testing.assert_array_equal(sim.run(x).outputs, other.execute(x))
