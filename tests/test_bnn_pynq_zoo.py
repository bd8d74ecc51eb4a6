"""Brevitas's own BNN-PYNQ models (brevitas_examples.bnn_pynq, as the wheel ships them), random
weights with randomised BatchNorm/TensorNorm statistics (negative and zero scales, ties):
`hwflow build` then `hwflow sim` under random stalls equals torch's output."""

from __future__ import annotations

import numpy as np
import pytest

from hwflow import export
from hwflow.sim import simulate_build

from conftest import brevitas_zoo_model, build_and_check, need_verilator, random_images, tie_images

FAST = ["tfc_1w2a", "tfc_2w2a"]
SLOW = ["tfc_1w1a", "sfc_1w1a", "lfc_1w1a", "sfc_1w2a", "lfc_1w2a", "cnv_1w1a", "cnv_1w2a", "sfc_2w2a", "cnv_2w2a"]


def _check(name, tmp_path, backend):
    """Two builds (each checking itself on 100 images; 300 more go through `hwflow sim`): BN statistics with exact ties against qonnx on inputs with ties (the
    reference semantics, bit for bit), and without ties against torch itself (at an exact
    tie torch's and onnxruntime's float BatchNorm may round a 0 to either side)."""
    import torch
    mode = "rtlsim" if backend == "rtl" else "cppsim"
    for ties in (True, False):
        net, path, shape = brevitas_zoo_model(name, tmp_path / str(ties), seed=5, ties=ties)
        res = build_and_check(path, tmp_path / f"b{ties}", backend)
        x = tie_images(shape, 300, seed=11) if ties else random_images(shape, 300, seed=12) * 2 - 1
        got, _ = simulate_build(res.out, x, stalls=True, mode=mode)
        np.testing.assert_allclose(got, export.run_qonnx(export.load_qonnx(path), x), atol=1e-5, rtol=0)
        if not ties:
            with torch.no_grad():
                want = net(torch.from_numpy(x)).numpy()
            np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    return res


# the RTL builds (4-5 min each) run with `make test-slow`: their datapaths are in the MVAU core
# tests (ternary x INT2 in test_int_weights), the padding and property tests, and the HLS builds below
@pytest.mark.slow
@pytest.mark.rtlsim
@pytest.mark.parametrize("name", ["tfc_1w2a", "tfc_2w2a"])
def test_bnn_pynq_rtl(name, tmp_path):
    need_verilator()
    res = _check(name, tmp_path, "rtl")
    kinds = {lay.in_type.dtype.name for lay in res.dataflow.layers}
    assert kinds == {"INT2"}


def _need_cppsim():
    from hwflow.cppsim import find_ap_types, find_cxx
    from hwflow.errors import HwflowError
    try:
        find_ap_types(), find_cxx()
    except HwflowError as e:
        pytest.skip(str(e))


@pytest.mark.parametrize("name", FAST)
def test_bnn_pynq_hls(name, tmp_path):
    _need_cppsim()
    _check(name, tmp_path, "hls")


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_bnn_pynq_hls_slow(name, tmp_path):
    _need_cppsim()
    _check(name, tmp_path, "hls")


@pytest.mark.slow
@pytest.mark.rtlsim
@pytest.mark.parametrize("name", SLOW)
def test_bnn_pynq_rtl_slow(name, tmp_path):
    need_verilator()
    _check(name, tmp_path, "rtl")


def test_cnv_w1a2_dataflow_equals_qonnx(tmp_path):
    """CNV-W1A2: 8-bit input, 2-bit activations through window generators and max-pools of
    2-bit values; the lowered layers equal the QONNX model on inputs with ties (the full
    build is a slow test)."""
    from hwflow.dataflow import lower
    from hwflow.streamline import streamline
    _, path, shape = brevitas_zoo_model("cnv_1w2a", tmp_path, seed=2)
    model = export.load_qonnx(path)
    df = lower(streamline(model))
    pools = [lay for lay in df.layers if lay.kind == "MaxPool"]
    assert len(pools) == 2 and all(p.in_type.dtype.name == "INT2" for p in pools)
    x = tie_images(shape, 60, seed=3)
    np.testing.assert_allclose(df.execute(x), export.run_qonnx(model, x), atol=1e-5, rtol=0)


def test_cnv_w2a2_dataflow_equals_qonnx(tmp_path):
    """CNV-W2A2: ternary weights in every layer (the first on 8-bit pixels), 2-bit activations;
    the lowered layers equal the QONNX model on inputs with ties (the full build is a slow test)."""
    from hwflow.dataflow import lower
    from hwflow.streamline import streamline
    _, path, shape = brevitas_zoo_model("cnv_2w2a", tmp_path, seed=4)
    model = export.load_qonnx(path)
    df = lower(streamline(model))
    mvaus = [lay for lay in df.layers if lay.kind == "MVAU"]
    assert len(mvaus) == 9 and {m.w_dtype.name for m in mvaus} == {"INT2"}
    assert all(set(np.unique(m.weights)) <= {-1, 0, 1} for m in mvaus)
    x = tie_images(shape, 60, seed=5)
    np.testing.assert_allclose(df.execute(x), export.run_qonnx(model, x), atol=1e-5, rtol=0)
