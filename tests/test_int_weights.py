"""Integer weights: ternary and k-bit weights, and binary weights with a scale per output
channel (XNOR-Net), from the weight tensor to the hardware.

- `int_weights` recovers integers times a scale from the folded float weights;
- the MVAU's integer datapath (numpy, RTL core under stalls, HLS kernel) against a plain
  integer matmul and qonnx's MultiThreshold;
- Brevitas models with per-channel scaled binary weights and biases, and with 4-bit
  weights on 1-bit activations, through `hwflow build` and `hwflow sim` against torch.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from qonnx.core.datatype import DataType
from qonnx.custom_op.general.multithreshold import multithreshold
from torch import nn

from hwflow import export
from hwflow.layers import MVAU
from hwflow.layers.base import BIPOLAR
from hwflow.streamline import int_weights, streamline

from conftest import need_verilator, random_images, xnor_weight_quant

warnings.filterwarnings("ignore", message=".*fast_hadamard_transform.*")


# --- recovering integers from folded weights ----------------------------------------------

def test_int_weights_per_tensor_and_per_channel():
    rng = np.random.default_rng(0)
    q = rng.integers(-7, 8, (40, 6)).astype(np.float32)
    q[0, :] = 1                                             # the scale's own level is used
    w = (q * np.float32(0.037)).astype(np.float32)
    got_q, s = int_weights(w, 1)
    assert isinstance(s, float) and np.isclose(s, 0.037, rtol=1e-6)
    np.testing.assert_array_equal(got_q, q)

    alpha = rng.uniform(0.01, 2.0, 6).astype(np.float32)   # XNOR-Net: +-alpha_c per output column
    pm = rng.choice([-1.0, 1.0], (40, 6)).astype(np.float32)
    got_q, s = int_weights((pm * alpha).astype(np.float32), 1)
    np.testing.assert_array_equal(got_q, pm)
    np.testing.assert_allclose(s, alpha, rtol=1e-6)

    t = rng.integers(-1, 2, (5, 3, 3, 3)).astype(np.float32)  # ternary conv weights, one channel all zero
    t[2] = 0
    got_q, s = int_weights(t * np.float32(0.5), 0)
    np.testing.assert_array_equal(got_q, t)


def test_int_weights_refuses_float_weights():
    w = np.random.default_rng(1).normal(0, 1, (30, 8)).astype(np.float32)
    assert int_weights(w, 1) is None
    assert int_weights(np.float32(0.01) * np.arange(-200, 200, dtype=np.float32).reshape(40, 10), 1) is None


# --- the MVAU's integer datapath ------------------------------------------------------------

# (MW, MH, SIMD, PE, input type, weight type, thresholds per neuron (0: dot), activation, lowest level)
CASES = [
    pytest.param(36, 8, 6, 4, DataType["INT2"], DataType["INT2"], 2, DataType["INT2"], -1, id="ternary-x-int2"),
    pytest.param(32, 6, 8, 3, BIPOLAR, DataType["INT4"], 1, None, 0, id="int4-x-bipolar"),
    pytest.param(27, 4, 9, 2, DataType["UINT8"], DataType["INT3"], 0, None, 0, id="int3-x-uint8-dot"),
    pytest.param(20, 6, 5, 6, DataType["INT4"], DataType["INT8"], 3, DataType["UINT2"], 0, id="int8-x-int4"),
    # bit planes (INT_FORM 2, the ROM holding planes): 2 x 2 bits, signed and unsigned inputs,
    # and dot mode over SIMD 80 (a register inside the popcounts)
    pytest.param(64, 8, 16, 4, DataType["INT2"], DataType["INT2"], 2, DataType["INT2"], -1, id="planes-ternary-x-int2"),
    pytest.param(160, 4, 80, 2, DataType["UINT2"], DataType["INT2"], 0, None, 0, id="planes-ternary-x-uint2-dot"),
    # sign tables (INT_FORM 3): +-1 weights on 8-bit pixels, a beat of 3 channels (CNV's first
    # layer) or 4 in dot mode, and signed inputs; the ROM as for products
    pytest.param(27, 16, 3, 8, DataType["UINT8"], BIPOLAR, 1, None, 0, id="table-bipolar-x-uint8"),
    pytest.param(16, 16, 4, 8, DataType["INT8"], BIPOLAR, 0, None, 0, id="table-bipolar-x-int8-dot"),
    pytest.param(12, 8, 2, 4, DataType["INT4"], BIPOLAR, 3, DataType["UINT2"], 0, id="table-bipolar-x-int4"),
]


def _values(dt, shape, rng):
    if dt == BIPOLAR:
        return rng.integers(0, 2, shape)
    return rng.integers(int(dt.min()), int(dt.max()) + 1, shape)


def _layer(mw, mh, simd, pe, in_dt, w_dt, nt, act, bias, seed=0):
    rng = np.random.default_rng(seed)
    lo = -127 if w_dt == DataType["INT8"] else int(w_dt.min())   # int8 weights are narrow-range
    w = rng.integers(-1 if w_dt == DataType["INT2"] else lo, int(w_dt.max()) + 1, (mh, mw)).astype(np.int8)
    if w_dt == BIPOLAR:
        w = rng.integers(0, 2, (mh, mw)).astype(np.uint8)
    t = None
    if nt:
        amax = 1 if in_dt == BIPOLAR else max(abs(in_dt.min()), in_dt.max())
        lim = mw * int(amax) * int(np.abs(w).max()) // 4
        t = np.sort(rng.integers(-lim, lim + 1, (mh, nt)), axis=1)
        t[0], t[-1] = -10 ** 6, 10 ** 6                  # always and never reached
        t = t[:, 0] if nt == 1 and act is None else t
    return MVAU("mvau", w, t, pe=pe, simd=simd, in_dtype=in_dt, out_act=act, out_bias=bias, w_dtype=w_dt)


def _reference(layer, x):
    """A plain integer matmul on the values the elements stand for, then qonnx's MultiThreshold."""
    a = 2 * x - 1 if layer.in_dtype == BIPOLAR else x
    dot = a.astype(np.int64) @ layer.weight_values().T
    if layer.thresholds is None:
        return dot
    levels = multithreshold(dot.astype(np.float32), layer.thresholds2d.astype(np.float32))
    return levels.astype(np.int64) + layer.out_bias


@pytest.mark.parametrize("mw,mh,simd,pe,in_dt,w_dt,nt,act,bias", CASES)
def test_execute(mw, mh, simd, pe, in_dt, w_dt, nt, act, bias, request):
    layer = _layer(mw, mh, simd, pe, in_dt, w_dt, nt, act, bias)
    x = _values(in_dt, (80, mw), np.random.default_rng(1))
    got = layer.execute(x)
    np.testing.assert_array_equal(got, _reference(layer, x))
    assert len(np.unique(got)) > 1
    params = layer.rtl_instance()[1]
    assert not layer.binary and params["W_BITS"] == w_dt.bitwidth()
    form = request.node.callspec.id.split("-")[0]
    assert params["INT_FORM"] == {"planes": 2, "table": 3}.get(form, 1)


@pytest.mark.rtlsim
@pytest.mark.parametrize("mw,mh,simd,pe,in_dt,w_dt,nt,act,bias", CASES)
def test_rtl_core(mw, mh, simd, pe, in_dt, w_dt, nt, act, bias, tmp_path):
    need_verilator()
    from hwflow.sim import RtlSim
    layer = _layer(mw, mh, simd, pe, in_dt, w_dt, nt, act, bias)
    x = _values(in_dt, (150, mw), np.random.default_rng(2))
    sim = RtlSim([layer], tmp_path / "rtl", top="hwflow_mvau_top")
    want = _reference(layer, x)
    for p in (1.0, 0.6):
        np.testing.assert_array_equal(sim.run(x, seed=3, p_in=p, p_out=p).outputs, want)


@pytest.mark.parametrize("mw,mh,simd,pe,in_dt,w_dt,nt,act,bias", CASES)
def test_hls_kernel(mw, mh, simd, pe, in_dt, w_dt, nt, act, bias, tmp_path):
    from hwflow import cppsim
    from hwflow.errors import HwflowError
    try:
        cppsim.find_ap_types(), cppsim.find_cxx()
    except HwflowError as e:
        pytest.skip(str(e))
    layer = _layer(mw, mh, simd, pe, in_dt, w_dt, nt, act, bias)
    x = _values(in_dt, (60, mw), np.random.default_rng(4))
    np.testing.assert_array_equal(cppsim.CppSim([layer], tmp_path / "hls", werror=True).run(x),
                                  _reference(layer, x))


# --- Brevitas models ---------------------------------------------------------------------------

def _randomise_bn(net, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                n = m.num_features
                m.weight.copy_(torch.randn(n, generator=g))       # negative scales included
                m.bias.copy_(torch.randn(n, generator=g) * 0.5)
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            if getattr(m, "bias", None) is not None and not isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.3)


class XnorMLP(nn.Module):
    """XNOR-Net style MLP: per-channel scaled binary weights with biases, 1-bit activations;
    `w4` puts 4-bit per-tensor weights in the middle layer instead."""

    def __init__(self, w4: bool = False):
        super().__init__()
        import brevitas.nn as qnn
        from brevitas.quant import SignedBinaryActPerTensorConst
        xq = xnor_weight_quant()
        act = lambda: qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst)  # noqa: E731
        mid = dict(weight_bit_width=4) if w4 else dict(weight_quant=xq)
        self.net = nn.Sequential(
            act(), qnn.QuantLinear(64, 48, bias=True, weight_quant=xq), nn.BatchNorm1d(48), act(),
            qnn.QuantLinear(48, 32, bias=True, **mid), nn.BatchNorm1d(32), act(),
            qnn.QuantLinear(32, 10, bias=True, weight_quant=xq))

    def forward(self, x):
        return self.net(torch.flatten(x, 1) * 2 - 1)


class XnorConv(nn.Module):
    """A small conv net with per-channel scaled binary conv and FC weights, biases everywhere."""

    def __init__(self):
        super().__init__()
        import brevitas.nn as qnn
        from brevitas.quant import Int8ActPerTensorFixedPoint, SignedBinaryActPerTensorConst
        xq = xnor_weight_quant()
        act = lambda: qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst)  # noqa: E731
        self.inq = qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, min_val=-1.0, max_val=1.0 - 2.0 ** -7)
        self.features = nn.Sequential(
            qnn.QuantConv2d(1, 8, 3, bias=True, weight_quant=xq), nn.BatchNorm2d(8), act(),
            qnn.QuantConv2d(8, 12, 3, bias=True, weight_quant=xq), nn.BatchNorm2d(12), act(), nn.MaxPool2d(2))
        self.fc = nn.Sequential(qnn.QuantLinear(12 * 3 * 3, 10, bias=True, weight_quant=xq))

    def forward(self, x):
        return self.fc(torch.flatten(self.features(self.inq(2 * x - 1)), 1))


def _export(net, shape, tmp_path, seed):
    torch.manual_seed(seed)
    _randomise_bn(net, seed)
    net.eval()
    return export.export_brevitas(net, shape, tmp_path / "m.onnx")


MODELS = [pytest.param(XnorMLP, (1, 8, 8), {"BIPOLAR"}, id="xnor-mlp"),
          pytest.param(lambda: XnorMLP(w4=True), (1, 8, 8), {"BIPOLAR", "INT4"}, id="w4-mlp"),
          pytest.param(XnorConv, (1, 10, 10), {"BIPOLAR"}, id="xnor-conv")]


@pytest.mark.parametrize("make,shape,w_types", MODELS)
def test_streamlining_is_exact(make, shape, w_types, tmp_path):
    """The streamlined graph computes what the exported one does, with integer weights only."""
    torch.manual_seed(0)
    net = make()
    path = _export(net, shape, tmp_path, 0)
    model = export.load_qonnx(path)
    s = streamline(model)
    x = random_images(shape, 200, seed=1)
    np.testing.assert_allclose(export.run_qonnx(s, x, sanitize=False), export.run_qonnx(model, x),
                               rtol=1e-5, atol=1e-5)
    for n in s.graph.node:
        if n.op_type in ("MatMul", "Conv", "XnorPopcountMatMul"):
            w = s.get_initializer(n.input[1])
            assert np.array_equal(w, np.round(w)) and np.abs(w).max() <= 7


# the builds of the two MLPs (a few minutes each) run with `make test-slow`; their streamlining,
# the datapaths they use (test_rtl_core) and the conv net's build run by default
BUILDS = [pytest.param(*p.values, marks=pytest.mark.slow, id=p.id) if p.id != "xnor-conv" else p for p in MODELS]


@pytest.mark.rtlsim
@pytest.mark.parametrize("make,shape,w_types", BUILDS)
def test_build_equals_torch(make, shape, w_types, tmp_path):
    """hwflow build (every check on) + hwflow sim under random stalls == torch."""
    need_verilator()
    from hwflow.build import BuildOptions, build
    from hwflow.sim import simulate_build
    torch.manual_seed(0)
    net = make()
    path = _export(net, shape, tmp_path, 0)
    res = build(path, tmp_path / "b", BuildOptions(verify_images=200, synth="none"), quiet=True)
    assert res.report["verified"] is True
    x = random_images(shape, 300, seed=2)
    got, _ = simulate_build(res.out, x, stalls=True)
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert {lay.w_dtype.name for lay in res.dataflow.layers if isinstance(lay, MVAU)} == w_types


# --- per-channel activation scales --------------------------------------------------------------

def _per_channel_graph(s_in: np.ndarray, s_hid: np.ndarray, seed: int = 0):
    """x -> 4-bit Quant (per-feature scales s_in) -> MatMul(+-1) -> BatchNorm -> 3-bit Quant
    (per-channel scales s_hid) -> MatMul(+-1) -> y."""
    from onnx import TensorProto, helper
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.infer_shapes import InferShapes
    rng = np.random.default_rng(seed)
    k, h, c = len(s_in), len(s_hid), 5
    inits = {"s_in": s_in.reshape(1, k), "s_hid": s_hid.reshape(1, h), "zp": np.float32(0), "b4": np.float32(4),
             "b3": np.float32(3), "w1": rng.choice([-1.0, 1.0], (k, h)), "w2": rng.choice([-1.0, 1.0], (h, c)),
             "gamma": rng.normal(0, 2, h), "beta": rng.normal(0, 1, h), "mean": rng.normal(0, 1, h),
             "var": rng.uniform(0.5, 2, h)}
    q = dict(domain="qonnx.custom_op.general", signed=1, narrow=0, rounding_mode="ROUND")
    nodes = [helper.make_node("Quant", ["x", "s_in", "zp", "b4"], ["xq"], name="in_quant", **q),
             helper.make_node("MatMul", ["xq", "w1"], ["d1"], name="fc1"),
             helper.make_node("BatchNormalization", ["d1", "gamma", "beta", "mean", "var"], ["bn"]),
             helper.make_node("Quant", ["bn", "s_hid", "zp", "b3"], ["a1"], name="act1", **q),
             helper.make_node("MatMul", ["a1", "w2"], ["y"], name="fc2")]
    graph = helper.make_graph(nodes, "pc", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, c])],
                              initializer=[helper.make_tensor(n, TensorProto.FLOAT, np.shape(v),
                                                              np.ravel(np.asarray(v, np.float32)))
                                           for n, v in inits.items()])
    return ModelWrapper(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])).transform(InferShapes())


def test_per_channel_activation_scales_fold_into_weights():
    """Per-channel scales in ratios of powers of two (as a per-channel power-of-two quantizer
    gives) fold exactly into the next layer's weights, which become k-bit integers."""
    from hwflow.dataflow import lower
    c = np.float32(0.125)
    model = _per_channel_graph(c * 2.0 ** np.array([0, 1, 2, 0, 1, 3, 0, 2]), 0.3 * 2.0 ** np.array([0, 1, 0, 2, 1, 0]))
    x = np.random.default_rng(1).normal(0, 1, (300, 8)).astype(np.float32)
    want = export.run_qonnx(model, x)
    s = streamline(model)
    np.testing.assert_allclose(export.run_qonnx(s, x, sanitize=False), want, rtol=1e-5, atol=1e-5)
    df = lower(s)
    np.testing.assert_allclose(df.execute(x), want, rtol=1e-5, atol=1e-5)
    assert [lay.w_dtype.name for lay in df.layers] == ["INT5", "INT4"]


def test_per_channel_activation_scales_that_do_not_fold_are_named():
    from hwflow.errors import HwflowError
    model = _per_channel_graph(np.linspace(0.1, 0.37, 8), np.full(6, 0.3))
    with pytest.raises(HwflowError, match="fc1.*per-channel scales of its input do not fold"):
        streamline(model)


@pytest.mark.rtlsim
def test_rtl_core_bit_planes_of_bipolar_inputs(monkeypatch, tmp_path):
    """The core's bit-plane form also takes bipolar inputs (a = 2x - 1, so pc(w_j) terms
    enter); the flow keeps products there (fewer LUTs), so force the form to check it."""
    need_verilator()
    from hwflow.sim import RtlSim
    monkeypatch.setattr(MVAU, "bit_planes", property(lambda self: not self.binary))
    layer = _layer(48, 6, 16, 3, BIPOLAR, DataType["INT2"], 2, DataType["INT2"], -1)
    assert layer.rtl_instance()[1]["INT_FORM"] == 2
    x = _values(BIPOLAR, (100, 48), np.random.default_rng(4))
    sim = RtlSim([layer], tmp_path / "rtl", top="hwflow_mvau_top")
    for p in (1.0, 0.6):
        np.testing.assert_array_equal(sim.run(x, seed=5, p_in=p, p_out=p).outputs, _reference(layer, x))
