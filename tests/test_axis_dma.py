"""The IP top the board sees (hwflow_accel: the network inside hwflow_axis_dma.v) in Verilator,
with TLAST on both streams: 1, 2 and 7 images per DMA transfer under random stalls, on an MLP
and on a conv net whose last output leaves before the last input row has gone in.  Every output
beat, every TLAST position and TKEEP are checked against the dataflow model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn as nn
from conftest import make_model, need_verilator
from rtl_fixtures import assert_lint_clean, assert_lint_rejects

from hwflow import export, rtlsim
from hwflow.build import BuildOptions, build, random_hw_inputs
from hwflow.dataflow import Dataflow
from hwflow.deploy import SimBackend
from hwflow.sim import RtlSim

pytestmark = pytest.mark.rtlsim

# SIMD 4 and PE 2 x 7-bit outputs: 16 input beats of 4 bits (padded to 8) and 5 output beats
# of 14 bits (padded to 16) per image
MLP_FOLDING = {"mvau0": {"pe": 4, "simd": 4}, "mvau1": {"pe": 2, "simd": 16}}


class EarlyNet(nn.Module):
    """3x11x24 input, a 1x1 conv, then a 3x3 max-pool that reads rows 9 and 10 and drops them
    (floor): the network has an image's last output while that image's last 48 input beats are
    still to come.  (The window generator emits a row while the next arrives, and a conv's
    last row of windows takes longer than the rows its stride skips, so a strided conv alone
    does not get ahead of the input.)"""

    def __init__(self):
        super().__init__()
        import brevitas.nn as qnn
        from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst
        w = {"bias": False, "weight_quant": SignedBinaryWeightPerTensorConst, "weight_scaling_const": 1.0}
        self.body = nn.Sequential(
            qnn.QuantIdentity(bit_width=8), qnn.QuantConv2d(3, 4, 1, **w), nn.BatchNorm2d(4),
            qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst), nn.MaxPool2d(3), nn.Flatten(),
            qnn.QuantLinear(4 * 3 * 8, 10, **w))

    def forward(self, x):
        return self.body(x)


def _build(tmp, path, folding=None):
    opts = BuildOptions(rtlsim=False, verify_images=50, synth="none")
    if folding:
        (tmp / "folding.json").write_text(json.dumps(folding))
        opts.folding = tmp / "folding.json"
    return build(path, tmp / "build", opts, quiet=True).out


@pytest.fixture(scope="module")
def mlp_build(tmp_path_factory):
    need_verilator()
    tmp = tmp_path_factory.mktemp("axis_mlp")
    _, path = make_model("mlp-w1a1:64-32-10", tmp, seed=5)
    return _build(tmp, path, MLP_FOLDING)


@pytest.fixture(scope="module")
def conv_build(tmp_path_factory):
    need_verilator()
    tmp = tmp_path_factory.mktemp("axis_conv")
    torch.manual_seed(0)
    net = EarlyNet()
    with torch.no_grad():
        bn = net.body[2]
        bn.running_mean.copy_(torch.randn(4) * 20)
        bn.running_var.copy_(torch.rand(4) * 400 + 1)
    # a pixel per cycle everywhere, the FC an image per cycle: the output keeps up with the input
    return _build(tmp, export.export_brevitas(net.eval(), (3, 11, 24), tmp / "early.onnx"),
                  {"mvau0": {"pe": 4, "simd": 3}, "mvau1": {"pe": 10, "simd": 96}})


def _hw_inputs(df: Dataflow, n: int, seed: int) -> np.ndarray:
    return random_hw_inputs(df.net.first, (n, df.net.first.in_elems), seed)


def _stream_through_accel(build_dir, n: int, per_transfer: int, seed: int, p_in: float, p_out: float | None = None,
                          exe=None):
    """n random images through hwflow_accel (or the simulator `exe` of a variant of it) in
    transfers of per_transfer images; checks every output beat, TLAST and TKEEP."""
    df = Dataflow.load(build_dir)
    sim = SimBackend(build_dir)
    c, first, last = sim.cfg, df.net.first, df.net.last
    bits = _hw_inputs(df, n, seed)
    beats = rtlsim.pack_beats(bits, first.in_elem_bits, first.in_epb)
    in_words = -(-c["in_width_padded"] // 32)
    padded = np.zeros((len(beats), in_words), np.uint32)
    padded[:, :beats.shape[1]] = beats
    out, stats = rtlsim.run_sim(exe or sim.exe, padded, n, c["in_beats_per_image"], c["out_beats_per_image"],
                                out_width=c["out_width_padded"], seed=seed, p_in=p_in,
                                p_out=p_in if p_out is None else p_out, cwd=build_dir / "rtl",
                                images_per_transfer=per_transfer)
    want = rtlsim.pack_beats(df.execute_hw(bits), last.out_elem_bits, last.out_epb)
    np.testing.assert_array_equal(out[:, :want.shape[1]], want)
    assert not out[:, want.shape[1]:].any()
    nf = c["out_beats_per_image"]
    ends = [min(t + per_transfer, n) * nf - 1 for t in range(0, n, per_transfer)]
    assert stats["out_tlast"] == ends
    assert stats["tkeep_ones_min"] == stats["tkeep_ones_max"] == c["out_width_padded"] // 8


@pytest.mark.parametrize("per_transfer", [1, 2, 7])
def test_mlp_tlast_per_transfer_under_stalls(mlp_build, per_transfer):
    cfg = SimBackend(mlp_build).cfg
    assert (cfg["in_width"], cfg["in_width_padded"], cfg["out_width"], cfg["out_width_padded"]) == (4, 8, 14, 16)
    for seed, p in ((1, 0.5), (2, 1.0)):
        _stream_through_accel(mlp_build, 15, per_transfer, seed, p)


def test_conv_net_whose_last_output_leaves_before_its_last_input(conv_build):
    df = Dataflow.load(conv_build)
    first, last = df.net.first, df.net.last
    # the bare network: some image's last output beat goes before its last input beat
    net = RtlSim(df.net, conv_build / "rtl", write=False)
    bits = _hw_inputs(df, 6, 3)
    _, stats = rtlsim.run_sim(net.exe, rtlsim.pack_beats(bits, first.in_elem_bits, first.in_epb), 6,
                              first.in_beats, last.out_beats, out_width=last.out_width, cwd=conv_build / "rtl")
    early = [i for i in range(6) if stats["last_out"][i] < stats["last_in"][i]]
    assert early, (stats["last_in"], stats["last_out"])
    # through the IP top every image's TLAST still lands where its transfer ends
    for per_transfer in (1, 2, 7):
        for seed, p in ((4, 1.0), (5, 0.6)):
            _stream_through_accel(conv_build, 9, per_transfer, seed, p)


def test_flag_queue_full_holds_the_input(mlp_build, tmp_path):
    """A 2-image flag queue on a network that holds more images: the input waits, nothing is lost."""
    from hwflow.vivado import wrapper_verilog
    sim = SimBackend(mlp_build)
    text = wrapper_verilog(sim.cfg, depth_log2=1)
    assert ".DEPTH_LOG2(1)" in text
    (tmp_path / "hwflow_accel.v").write_text(text)
    sources = [*sim.sources[:-1], str(tmp_path / "hwflow_accel.v")]   # the wrapper comes last
    exe = rtlsim.build_sim(mlp_build / "rtl", "hwflow_accel", sources, tmp_path / "obj")
    # the output stalls far more than the input: images pile up inside the network
    _stream_through_accel(mlp_build, 20, 3, 6, p_in=1.0, p_out=0.1, exe=exe)


@pytest.mark.parametrize("params", [
    [], ["-GIN_W=4", "-GIN_WP=8", "-GOUT_W=14", "-GOUT_WP=16", "-GIN_BEATS=16", "-GOUT_BEATS=5"],
    ["-GIN_W=64", "-GIN_WP=64", "-GOUT_W=1", "-GOUT_WP=8", "-GIN_BEATS=784", "-GDEPTH_LOG2=1"]])
def test_core_lints_clean(params):
    need_verilator()
    assert_lint_clean(rtlsim.find_verilator(), *params, "hwflow_axis_dma.v")


@pytest.mark.parametrize("params,name", [
    (["-GIN_W=9", "-GIN_WP=12"], "IN_WP"), (["-GOUT_W=17", "-GOUT_WP=16"], "OUT_WP"),
    (["-GIN_BEATS=0"], "BEATS"), (["-GDEPTH_LOG2=0"], "DEPTH_LOG2")])
def test_core_rejects_illegal_parameters(params, name):
    need_verilator()
    assert_lint_rejects(rtlsim.find_verilator(), "hwflow_axis_dma", params, name)
