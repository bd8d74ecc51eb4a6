"""The board driver's PYNQ path, executed here: a stand-in `pynq` module whose AXI DMA streams the
bytes through Verilator running the packaged IP top (hwflow_accel), so PynqBackend's transfer,
timeout, TLAST length check and recovery (download the overlay again) all run.  And `hwflow
deploy`, which repacks deploy.zip once a bitstream exists."""

from __future__ import annotations

import json
import sys
import types
import zipfile

import numpy as np
import pytest
from conftest import make_model, need_verilator, random_images

from hwflow.build import BuildOptions, build
from hwflow.cli import main
from hwflow.deploy import SimBackend, load_driver, write_deploy
from hwflow.sim import simulate_build

FOLDING = {"mvau0": {"pe": 4, "simd": 4}, "mvau1": {"pe": 2, "simd": 16}}


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("driver")
    _, path = make_model("mlp-w1a1:64-32-10", tmp, seed=6)
    (tmp / "folding.json").write_text(json.dumps(FOLDING))
    opts = BuildOptions(folding=tmp / "folding.json", rtlsim=False, verify_images=50, synth="none")
    return build(path, tmp / "build", opts, quiet=True).out


class _Buffer(np.ndarray):
    """pynq.allocate's contiguous buffer, minus the physical memory."""
    physical_address = 0x1000_0000

    def flush(self):
        pass

    def invalidate(self):
        pass

    def freebuffer(self):
        pass


class _Channel:
    def __init__(self, dma):
        self.dma, self.buf, self.transferred = dma, None, 0

    @property
    def idle(self):
        return self.dma.done

    @property
    def error(self):
        return self.dma.mode == "error"

    def transfer(self, buf):
        self.buf = buf
        self.dma.kick()

    def wait(self):
        assert self.dma.done, "wait() on a busy channel spins forever on a board"


class _DMA:
    """Simple-mode AXI DMA: once both channels have a buffer, the accelerator runs (rtlsim)."""

    def __init__(self, backend: SimBackend, mode: str):
        self.backend, self.mode, self.done = backend, mode, False
        self.sendchannel, self.recvchannel = _Channel(self), _Channel(self)

    def kick(self):
        send, recv = self.sendchannel.buf, self.recvchannel.buf
        if send is None or recv is None or self.mode in ("hang", "error"):
            return
        recv[:] = self.backend.transfer(np.asarray(send), recv.shape[0], recv.shape[1])
        # an early TLAST: S2MM stops there and reports the shorter length
        self.recvchannel.transferred = recv.nbytes - (recv.shape[1] if self.mode == "short" else 0)
        self.done = True


def _fake_pynq(backend: SimBackend, modes: list[str], ip: str = "dma"):
    """A `pynq` module whose n-th Overlay() download gets a DMA in modes[n]."""
    loads = []

    class Overlay:
        def __init__(self, bitfile):
            loads.append(bitfile)
            self.ip_dict = {ip: {"type": "xilinx.com:ip:axi_dma:7.1"}}
            self.dma = _DMA(backend, modes[min(len(loads), len(modes)) - 1])

    mod = types.ModuleType("pynq")
    mod.Overlay = Overlay
    mod.allocate = lambda shape, dtype: np.zeros(shape, dtype).view(_Buffer)
    return mod, loads


@pytest.fixture(scope="module")
def deployed(small_build):
    need_verilator()
    d = write_deploy(small_build)
    return d, load_driver(d), SimBackend(small_build, p_in=0.6, p_out=0.6, seed=3)


def _board(monkeypatch, deployed, modes, ip="dma"):
    d, driver, backend = deployed
    mod, loads = _fake_pynq(backend, modes, ip)
    monkeypatch.setitem(sys.modules, "pynq", mod)
    return driver.HwflowAccel.on_board(d / "hwflow.bit", d, timeout=0.2), driver, loads


def test_pynq_path_equals_rtlsim(monkeypatch, deployed, small_build):
    accel, _, loads = _board(monkeypatch, deployed, ["ok"])
    x = random_images(accel.input_shape, 40, seed=8)
    want, _ = simulate_build(small_build, x)
    np.testing.assert_array_equal(accel.predict(x), want)
    assert len(loads) == 1


@pytest.mark.parametrize("mode,message", [("hang", "did not finish within 0.2 s"),
                                          ("error", "stopped with an error"),
                                          ("short", "ended after")])
def test_a_failed_transfer_resets_the_overlay_and_the_next_call_runs(monkeypatch, deployed, small_build, mode,
                                                                     message):
    accel, driver, loads = _board(monkeypatch, deployed, [mode, "ok"])
    x = random_images(accel.input_shape, 5, seed=9)
    with pytest.raises(driver.AccelError, match=message) as e:
        accel.predict(x)
    assert "downloaded again" in str(e.value) and len(loads) == 2
    want, _ = simulate_build(small_build, x)
    np.testing.assert_array_equal(accel.predict(x), want)


def test_an_overlay_without_the_dma_is_named(monkeypatch, deployed):
    _, driver, _ = deployed
    with pytest.raises(driver.AccelError, match="no AXI DMA named 'dma'"):
        _board(monkeypatch, deployed, ["ok"], ip="axi_dma_0")


def test_hwflow_deploy_repacks_with_a_bitstream(small_build, tmp_path, capsys):
    assert main(["deploy", str(small_build)]) == 0
    assert "no bitstream yet" in capsys.readouterr().out
    bit, hwh = tmp_path / "top.bit", tmp_path / "top.hwh"
    bit.write_bytes(b"\x00\x09bitstream")
    assert main(["deploy", str(small_build), "--bitfile", str(bit)]) == 1
    assert "top.hwh not found" in capsys.readouterr().err
    hwh.write_text("<hwh/>")
    assert main(["deploy", str(small_build), "--bitfile", str(bit)]) == 0
    assert "bitstream" in capsys.readouterr().out
    with zipfile.ZipFile(small_build / "deploy.zip") as z:
        assert z.read("deploy/hwflow.bit") == bit.read_bytes() and z.read("deploy/hwflow.hwh") == b"<hwh/>"
        assert "present" in z.read("deploy/README.md").decode()
    # the bitstream stays in deploy/: repacking again keeps it
    assert main(["deploy", str(small_build)]) == 0
    assert "deploy/hwflow.bit" in zipfile.ZipFile(small_build / "deploy.zip").namelist()


def test_hwflow_deploy_of_a_folder_that_is_no_build(tmp_path, capsys):
    assert main(["deploy", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not an hwflow build" in err
