"""k-bit activations in hardware.  Inside the MVAU: NT thresholds per neuron, output = lowest
level + how many thresholds the accumulator reaches (qonnx MultiThreshold's meaning).  The RTL
core (rtlsim, under stalls) and the HLS kernel (C-simulation) against the layer's numpy
execute, which is itself checked against qonnx's MultiThreshold.  And max-pool of k-bit
values (a signed max, not an OR), in RTL and HLS."""

from __future__ import annotations

import numpy as np
import pytest
from qonnx.core.datatype import DataType
from qonnx.custom_op.general.multithreshold import multithreshold

from hwflow.layers import MVAU
from hwflow.layers.base import BIPOLAR, int_type

from conftest import need_verilator

# (MW, MH, SIMD, PE, input type, thresholds per neuron, activation type, lowest level)
CASES = [
    pytest.param(64, 12, 16, 3, BIPOLAR, 3, DataType["UINT2"], 0, id="xnor-uint2"),
    pytest.param(40, 8, 8, 4, BIPOLAR, 2, DataType["INT2"], -1, id="xnor-int2-narrow"),
    pytest.param(27, 8, 3, 4, int_type(2, True), 2, DataType["INT2"], -1, id="int2-in-int2-out"),
    pytest.param(36, 6, 12, 2, int_type(8, False), 15, DataType["INT4"], -8, id="uint8-in-int4-out"),
    # bit planes (INT_FORM 2): 2-4-bit inputs over SIMD >= 8, signed and unsigned; SIMD 96 > 64
    # puts a register inside the popcounts
    pytest.param(64, 8, 16, 4, int_type(2, True), 2, DataType["INT2"], -1, id="planes-int2-in"),
    pytest.param(48, 6, 8, 3, int_type(2, False), 3, DataType["UINT2"], 0, id="planes-uint2-in"),
    pytest.param(192, 4, 96, 2, int_type(4, True), 3, DataType["UINT2"], 0, id="planes-int4-in-wide"),
]


def _layer(mw, mh, simd, pe, in_dt, nt, act, bias, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.integers(0, 2, (mh, mw), dtype=np.uint8)
    if in_dt == BIPOLAR:
        lo, hi = 0, mw  # hi + 1 = MW + 1: never reached
    else:
        amax = max(abs(in_dt.min()), in_dt.max())
        lo, hi = -mw * amax // 3, mw * amax // 3
    t = np.sort(rng.integers(lo, hi + 1, (mh, nt)), axis=1)
    t[0] = lo  # a neuron at its lowest and one at its highest level, always
    t[-1] = hi + 1
    return MVAU("mvau", w, t, pe=pe, simd=simd, in_dtype=in_dt, out_act=act, out_bias=bias)


def _inputs(layer, n, seed):
    rng = np.random.default_rng(seed)
    dt = layer.in_dtype
    if dt == BIPOLAR:
        return rng.integers(0, 2, (n, layer.in_elems))
    return rng.integers(int(dt.min()), int(dt.max()) + 1, (n, layer.in_elems))


@pytest.mark.parametrize("mw,mh,simd,pe,in_dt,nt,act,bias", CASES)
def test_execute_is_qonnx_multithreshold(mw, mh, simd, pe, in_dt, nt, act, bias):
    layer = _layer(mw, mh, simd, pe, in_dt, nt, act, bias)
    x = _inputs(layer, 50, 1)
    dot = MVAU("dot", layer.weights, None, in_dtype=in_dt).execute(x)
    acc = (dot + mw) // 2 if in_dt == BIPOLAR else dot  # the XNOR MVAU thresholds the popcount
    want = multithreshold(acc.astype(np.float32), layer.thresholds2d.astype(np.float32)) + bias
    got = layer.execute(x)
    np.testing.assert_array_equal(got, want.astype(np.int64))
    assert got.min() >= act.min() and got.max() <= act.max() and len(np.unique(got)) > 2
    assert layer.out_type.dtype == act and layer.rtl_instance()[1]["NT"] == nt


@pytest.mark.rtlsim
@pytest.mark.parametrize("mw,mh,simd,pe,in_dt,nt,act,bias", CASES)
def test_rtl_core(mw, mh, simd, pe, in_dt, nt, act, bias, tmp_path):
    need_verilator()
    from hwflow.sim import RtlSim
    layer = _layer(mw, mh, simd, pe, in_dt, nt, act, bias)
    x = _inputs(layer, 200, 2)
    sim = RtlSim([layer], tmp_path / "rtl", top="hwflow_mvau_top")
    for p in (1.0, 0.6):
        np.testing.assert_array_equal(sim.run(x, seed=3, p_in=p, p_out=p).outputs, layer.execute(x))


@pytest.mark.parametrize("mw,mh,simd,pe,in_dt,nt,act,bias", CASES)
def test_hls_kernel(mw, mh, simd, pe, in_dt, nt, act, bias, tmp_path):
    from hwflow import cppsim
    from hwflow.errors import HwflowError
    try:
        cppsim.find_ap_types(), cppsim.find_cxx()
    except HwflowError as e:
        pytest.skip(str(e))
    layer = _layer(mw, mh, simd, pe, in_dt, nt, act, bias)
    x = _inputs(layer, 60, 4)
    got = cppsim.CppSim([layer], tmp_path / "hls", werror=True).run(x)
    np.testing.assert_array_equal(got, layer.execute(x))


# max-pool of k-bit activations: (IFM_DIM, CH, POOL, PE, element type)
POOL_CASES = [
    pytest.param(6, 4, 2, 2, DataType["INT2"], id="int2"),
    pytest.param(5, 6, 2, 3, DataType["INT3"], id="int3-odd-dim"),
    pytest.param(6, 4, 3, 4, DataType["UINT2"], id="uint2-pool3"),
]


def _pool_inputs(pool, n, seed):
    dt = pool.dtype
    return np.random.default_rng(seed).integers(int(dt.min()), int(dt.max()) + 1, (n, pool.in_elems))


@pytest.mark.rtlsim
@pytest.mark.parametrize("dim,ch,k,pe,dt", POOL_CASES)
def test_maxpool_kbit_rtl(dim, ch, k, pe, dt, tmp_path):
    need_verilator()
    from hwflow.layers import MaxPool
    from hwflow.sim import RtlSim
    pool = MaxPool("pool", dim, ch, k, pe, dt)
    x = _pool_inputs(pool, 100, 5)
    ref = x.reshape(-1, dim, dim, ch)[:, :dim // k * k, :dim // k * k]
    ref = ref.reshape(-1, dim // k, k, dim // k, k, ch).max(axis=(2, 4)).reshape(len(x), -1)
    np.testing.assert_array_equal(pool.execute(x), ref)  # signed max, not OR
    sim = RtlSim([pool], tmp_path / "rtl", top="hwflow_pool_top")
    for p in (1.0, 0.6):
        np.testing.assert_array_equal(sim.run(x, seed=2, p_in=p, p_out=p).outputs, ref)


@pytest.mark.parametrize("dim,ch,k,pe,dt", POOL_CASES)
def test_maxpool_kbit_hls(dim, ch, k, pe, dt, tmp_path):
    from hwflow import cppsim
    from hwflow.errors import HwflowError
    from hwflow.layers import MaxPool
    try:
        cppsim.find_ap_types(), cppsim.find_cxx()
    except HwflowError as e:
        pytest.skip(str(e))
    pool = MaxPool("pool", dim, ch, k, pe, dt)
    x = _pool_inputs(pool, 60, 6)
    np.testing.assert_array_equal(cppsim.CppSim([pool], tmp_path / "hls", werror=True).run(x), pool.execute(x))
