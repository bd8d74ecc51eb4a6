"""The per-layer check names the first layer whose RTL disagrees with the numpy model, with the
image and element; the layers after it (fed the numpy model's stream) still pass."""

from __future__ import annotations

import numpy as np
import pytest

from hwflow.errors import HwflowError
from hwflow.layers import MVAU
from hwflow.verify import check_layers

from conftest import need_verilator


@pytest.mark.rtlsim
def test_first_disagreeing_layer_is_named(tmp_path, monkeypatch):
    need_verilator()
    rng = np.random.default_rng(0)
    sizes = [32, 16, 16, 8]
    layers = []
    for i, (mw, mh) in enumerate(zip(sizes, sizes[1:])):
        last = i == len(sizes) - 2
        t = None if last else rng.integers(mw // 2 - 2, mw // 2 + 3, mh)
        layers.append(MVAU(f"mvau{i}", rng.integers(0, 2, (mh, mw), dtype=np.uint8), t, pe=4, simd=8))
    x = rng.integers(0, 2, (80, sizes[0]))
    checks, net_out = check_layers(layers, tmp_path / "ok", x, seed=1)
    assert [c.images for c in checks] == [80, 80, 80]
    # the numpy pass ran every image, so it hands back the network's outputs for the whole-network check
    want = x
    for layer in layers:
        want = layer.execute(want)
    np.testing.assert_array_equal(net_out, want)
    # with every layer checked on fewer images the pass stops short: no outputs, not partial ones
    monkeypatch.setattr("hwflow.verify.layer_images", lambda layer, n: 40)
    checks, net_out = check_layers(layers, tmp_path / "ok", x, seed=1)
    assert [c.images for c in checks] == [40, 40, 40] and net_out is None
    monkeypatch.undo()

    # the RTL of mvau1 gets one neuron's weights inverted: the numpy model keeps the originals
    bad = layers[1]
    real = type(bad).write_rtl_data

    def corrupt(self, out):
        real(self, out)
        if self is bad:
            flipped = MVAU(self.name, self.weights.copy(), self.thresholds, self.pe, self.simd)
            flipped.weights[5] ^= 1
            real(flipped, out)
    monkeypatch.setattr(MVAU, "write_rtl_data", corrupt)
    with pytest.raises(HwflowError, match=r"rtlsim of layer mvau1( under random stalls)? differs from the dataflow "
                                          r"model, first at image \d+, output \d+: [01] vs [01]"):
        check_layers(layers, tmp_path / "bad", x, seed=1)
