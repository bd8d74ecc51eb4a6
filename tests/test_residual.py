"""Residual networks: fan-out, residual adds of shared 4-bit quantizers with requantization,
a max-pool over the blocks' multi-bit outputs, an average-pooled 1x1 downsampling shortcut,
global average pooling.

The network is a DAG of streams; the FIFOs on the branches into an add are sized by
analysis (hwflow.streams.fifo_depths).  `hwflow build` + `hwflow sim` under random stalls
must equal torch with the RTL and the HLS backends, and a shortcut FIFO shrunk below its
computed depth must deadlock in rtlsim: it is the analysis that keeps the design running."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
from conftest import build_and_check, need_verilator, random_images
from test_padding_pooling import _acts, _conv, _linear, _randomise_bn

from hwflow import export
from hwflow.dataflow import lower
from hwflow.errors import HwflowError
from hwflow.sim import simulate_build
from hwflow.streamline import streamline

SHAPE = (1, 12, 12)


def _q4():
    import brevitas.nn as qnn
    return qnn.QuantIdentity(bit_width=4)


class Block(nn.Module):
    """Bi-Real-style basic block: two 3x3 binary-weight convs; the main branch ends in the
    quantizer that made the block's input (shared), so the add is an add of levels; a
    stride-2 block downsamples its shortcut by average pooling and a 1x1 conv."""

    def __init__(self, cin, cout, qin, stride=1):
        super().__init__()
        _, tact = _acts()
        self.qout = _q4()
        self.main = nn.Sequential(_conv(cin, cout, 3, stride=stride, padding=1), nn.BatchNorm2d(cout), tact(),
                                  _conv(cout, cout, 3, padding=1), nn.BatchNorm2d(cout))
        self.short = None if stride == 1 and cin == cout else \
            nn.Sequential(nn.AvgPool2d(stride), _conv(cin, cout, 1), nn.BatchNorm2d(cout))
        self.qshare = qin if self.short is None else _q4()

    def forward(self, x):
        y = self.qshare(self.main(x))
        s = x if self.short is None else self.qshare(self.short(x))
        return self.qout(y + s)


class TinyResNet(nn.Module):
    def __init__(self):
        super().__init__()
        import brevitas.nn as qnn
        self.inq, self.q0 = qnn.QuantIdentity(bit_width=8), _q4()
        self.stem = nn.Sequential(_conv(1, 8, 3, padding=1), nn.BatchNorm2d(8))
        self.b1 = Block(8, 8, self.q0)
        self.pool = nn.MaxPool2d(2)
        self.b2 = Block(8, 16, self.b1.qout, stride=2)
        self.fc = _linear(16, 10)

    def forward(self, x):
        x = self.b1(self.q0(self.stem(self.inq(2 * x - 1))))
        y = self.b2(self.pool(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(y, 1), 1))


def _model(tmp_path, seed=0):
    torch.manual_seed(seed)
    net = TinyResNet()
    _randomise_bn(net, seed)
    net.train()
    with torch.no_grad():  # let the activation quantizers' scales see data
        for _ in range(3):
            net(torch.rand(16, *SHAPE))
    net.eval()
    return net, export.export_brevitas(net, SHAPE, tmp_path / "res.onnx")


def test_lowering_is_a_dag_that_equals_qonnx(tmp_path):
    net, path = _model(tmp_path)
    model = export.load_qonnx(path)
    x = random_images(SHAPE, 100, seed=1)
    want = export.run_qonnx(model, x)
    with torch.no_grad():
        np.testing.assert_allclose(net(torch.from_numpy(x)).numpy(), want, rtol=1e-5, atol=1e-5)
    slim = streamline(model)
    np.testing.assert_allclose(export.run_qonnx(slim, x, sanitize=False), want, rtol=1e-5, atol=1e-5)
    df = lower(slim)
    np.testing.assert_allclose(df.execute(x), want, rtol=1e-5, atol=1e-5)
    kinds = [lay.kind for lay in df.layers]
    assert kinds.count("Dup") == 2 and kinds.count("AddStreams") == 2 and kinds.count("Threshold") == 2
    adds = [lay for lay in df.layers if lay.kind == "AddStreams"]
    assert {lay.in_dtype.name for lay in adds} == {"INT4"}
    # the first block's shortcut goes straight from its Dup to the add: it holds the most
    depths = df.net.fifo_depths()
    shortcut = next(s for s in df.net.ins(adds[0]) if df.net.producer(s).kind == "Dup")
    assert depths[shortcut] == max(depths.values()) > 100


def test_different_scales_on_an_add_are_named(tmp_path):
    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            import brevitas.nn as qnn
            self.inq, self.qa, self.qb = qnn.QuantIdentity(bit_width=8), _q4(), _q4()
            self.c = nn.Sequential(_conv(1, 4, 3, padding=1), nn.BatchNorm2d(4))
            self.fc = _linear(4 * 36, 10)

        def forward(self, x):
            y = self.c(self.inq(2 * x - 1))
            return self.fc(torch.flatten(self.qa(y) + self.qb(-y), 1))

    torch.manual_seed(0)
    net = Bad()
    net.train()
    with torch.no_grad():
        net(torch.rand(8, 1, 6, 6))
        net.qb(torch.rand(8, 4, 6, 6) * 5)
    path = export.export_brevitas(net.eval(), (1, 6, 6), tmp_path / "bad.onnx")
    with pytest.raises(HwflowError, match="different scales.*same quantizer"):
        lower(streamline(export.load_qonnx(path)))


def _build_equals_torch(tmp_path, backend):
    net, path = _model(tmp_path)
    res = build_and_check(path, tmp_path / "b", backend, verify_images=50)
    x = random_images(SHAPE, 100, seed=2)
    got, _ = simulate_build(res.out, x, stalls=True, mode="rtlsim" if backend == "rtl" else "cppsim")
    with torch.no_grad():
        np.testing.assert_allclose(got, net(torch.from_numpy(x)).numpy(), rtol=1e-5, atol=1e-5)
    return res


@pytest.mark.slow  # ~3 min of Verilator builds and rtlsim; `make test-slow`
@pytest.mark.rtlsim
def test_build_equals_torch_rtl_and_a_short_fifo_deadlocks(tmp_path):
    need_verilator()
    from hwflow.codegen_rtl import write_rtl
    from hwflow.dataflow import Dataflow
    from hwflow.sim import RtlSim
    res = _build_equals_torch(tmp_path, "rtl")
    for row in res.report["layers"]:       # the cycle model holds for every layer simulated alone
        if row["sim_cycles"] is not None:
            assert abs(row["sim_cycles"] - row["est_cycles"]) <= 0.1 * row["est_cycles"] + 8, row
    df = Dataflow.load(res.out)
    depths = df.net.fifo_depths()
    add = next(lay for lay in df.layers if lay.kind == "AddStreams")
    shortcut = next(s for s in df.net.ins(add) if df.net.producer(s).kind == "Dup")
    short = {**depths, shortcut: depths[shortcut] // 4}
    sim = RtlSim(df.net, tmp_path / "short", write=False, sources=write_rtl(df.net, tmp_path / "short",
                                                                            depths=short))
    x = df.run_head(random_images(SHAPE, 4, seed=3))
    with pytest.raises(HwflowError, match=f"deadlock.*full streams.*{shortcut} \\(dup\\d+ -> add\\d+, a join"):
        sim.run(x)


def test_build_equals_torch_hls(tmp_path):
    from hwflow import cppsim
    try:
        cppsim.find_cxx()
        cppsim.find_ap_types()
    except HwflowError as e:
        pytest.skip(str(e))
    _build_equals_torch(tmp_path, "hls")


# --- channel concatenation (DenseNet-style: a block's output beside its input) -------------

class ConcatNet(nn.Module):
    """The stem's 4-bit output and a 3x3 conv of it (ending in the same quantizer) side by
    side, then a conv over both, a max-pool and a linear layer."""

    def __init__(self):
        super().__init__()
        import brevitas.nn as qnn
        bact, _ = _acts()
        self.inq, self.q = qnn.QuantIdentity(bit_width=8), _q4()
        self.stem = nn.Sequential(_conv(1, 4, 3, padding=1), nn.BatchNorm2d(4))
        self.grow = nn.Sequential(_conv(4, 6, 3, padding=1), nn.BatchNorm2d(6))
        self.mix = nn.Sequential(_conv(10, 8, 3), nn.BatchNorm2d(8), bact(), nn.MaxPool2d(2))
        self.fc = _linear(8 * 3 * 3, 10)

    def forward(self, x):
        x = self.q(self.stem(self.inq(2 * x - 1)))
        y = torch.cat([x, self.q(self.grow(x))], 1)
        return self.fc(torch.flatten(self.mix(y), 1))


@pytest.mark.parametrize("backend", ["numpy", "hls", pytest.param("rtl", marks=[pytest.mark.slow, pytest.mark.rtlsim])])
def test_concat_equals_torch(backend, tmp_path):
    torch.manual_seed(1)
    net = ConcatNet()
    _randomise_bn(net, 1)
    net.train()
    with torch.no_grad():
        net(torch.rand(16, 1, 8, 8))
    net.eval()
    path = export.export_brevitas(net, (1, 8, 8), tmp_path / "cat.onnx")
    x = random_images((1, 8, 8), 100, seed=4)
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    if backend == "numpy":
        df = lower(streamline(export.load_qonnx(path)))
        assert [lay.kind for lay in df.layers].count("Concat") == 1
        np.testing.assert_allclose(df.execute(x), want, rtol=1e-5, atol=1e-5)
        return
    if backend == "rtl":
        need_verilator()
    else:
        from hwflow import cppsim
        try:
            cppsim.find_cxx()
            cppsim.find_ap_types()
        except HwflowError as e:
            pytest.skip(str(e))
    res = build_and_check(path, tmp_path / "b", backend, verify_images=50)
    got, _ = simulate_build(res.out, x, stalls=True, mode="rtlsim" if backend == "rtl" else "cppsim")
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_a_sum_whose_rounding_depends_on_its_split_is_named(tmp_path):
    """Scales s and 2s around an add: q1*s + q2*s and (q1 + q2)*s round to different sides of
    the requantizer's ties in float32, so the model's level is not a function of the sum.
    The flow says so (and what to do) instead of building something that cannot match."""
    class Split(nn.Module):
        def __init__(self):
            super().__init__()
            import brevitas.nn as qnn
            self.inq, self.q, self.qout = qnn.QuantIdentity(bit_width=8), _q4(), _q4()
            self.a = nn.Sequential(_conv(1, 4, 3, padding=1), nn.BatchNorm2d(4))
            self.b = nn.Sequential(_conv(1, 4, 3, padding=1), nn.BatchNorm2d(4))
            self.fc = _linear(4 * 36, 10)

        def forward(self, x):
            x = self.inq(2 * x - 1)
            return self.fc(torch.flatten(self.qout(self.q(self.a(x)) + self.q(self.b(x))), 1))

    def value(q):  # the scale's statistics (its value until the quantizer has trained 300 steps)
        return q.act_quant.fused_activation_quant_proxy.tensor_quant.scaling_impl.buffer

    torch.manual_seed(0)
    net = Split()
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.rand(8, 1, 6, 6))
        value(net.q).fill_(8 * 0.3)     # scales 0.3 and 0.6: ties at every odd sum
        value(net.qout).fill_(8 * 0.6)
    path = export.export_brevitas(net.eval(), (1, 6, 6), tmp_path / "split.onnx")
    with pytest.raises(HwflowError, match="depends on how the sum splits.*power-of-two scales"):
        lower(streamline(export.load_qonnx(path)))
