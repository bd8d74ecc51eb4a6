"""Memory bounds: a conv net's checks must not hold its streams unpacked for a whole batch.

CNV-w1a1's second window generator emits 451,584 elements per image: 600 check images as
int64 would be 2.2 GB for that stream alone, and the default build once took the whole
24 GB machine.  The numpy model and the per-layer expected streams run in chunks of
images; these tests hold them to a bound far below the unchunked size.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from hwflow import export
from hwflow.build import random_hw_inputs
from hwflow.dataflow import lower
from hwflow.streamline import streamline

from conftest import make_model, need_verilator

BOUND = 400 << 20


@pytest.fixture(scope="module")
def cnv(tmp_path_factory):
    _, path = make_model("cnv-w1a1", tmp_path_factory.mktemp("cnv"), seed=3)
    return lower(streamline(export.load_qonnx(path)))


def _peak(fn):
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_chunked_execution_stays_bounded_and_exact(cnv):
    n = 600
    widest = max(lay.out_elems for lay in cnv.layers)
    assert n * widest * 8 > 5 * BOUND  # the bound means something: unchunked is far above it
    x = random_hw_inputs(cnv.layers[0], (n, cnv.layers[0].in_elems), 0)
    y, peak = _peak(lambda: cnv.execute_hw(x))
    assert peak < BOUND, f"execute_hw peaked at {peak / 2**20:.0f} MB"
    # chunking changes nothing: the first images layer by layer, unchunked
    ref = x[:3]
    for layer in cnv.layers:
        ref = layer.execute(ref)
    np.testing.assert_array_equal(y[:3], ref)


def test_per_layer_expected_streams_stay_bounded(cnv, tmp_path):
    from hwflow import rtlsim
    from hwflow.verify import _expected_streams
    n = 600
    x = random_hw_inputs(cnv.layers[0], (n, cnv.layers[0].in_elems), 1)
    counts = [n] * len(cnv.layers)
    (files, net_out), peak = _peak(lambda: _expected_streams(cnv.layers, cnv.layers, x, counts, tmp_path))
    assert peak < BOUND, f"expected streams peaked at {peak / 2**20:.0f} MB"
    # the files hold exactly the packed streams: check the first layer's and the last's
    first, last = cnv.layers[0], cnv.layers[-1]
    got_in = np.fromfile(files[0][0], dtype="<u4").reshape(-1, -(-first.in_width // 32))
    np.testing.assert_array_equal(got_in, rtlsim.pack_beats(x, first.in_elem_bits, first.in_epb))
    got_out = np.fromfile(files[-1][1], dtype="<u4").reshape(-1, -(-last.out_width // 32))
    np.testing.assert_array_equal(
        rtlsim.unpack_beats(got_out, last.out_elem_bits, last.out_epb, last.out_elems, last.out_signed),
        cnv.execute_hw(x))
    # the pass covered every image, so it also hands back the network's outputs
    np.testing.assert_array_equal(net_out, cnv.execute_hw(x))


@pytest.mark.slow
@pytest.mark.rtlsim
def test_cnv_default_build_within_2gb(tmp_path):
    """`hwflow build` of CNV-w1a1 with every default (1,000 check images): peak resident
    memory of the build and its simulators stays within 2 GB."""
    need_verilator()
    _, path = make_model("cnv-w1a1", tmp_path, seed=31)
    code = ("import resource, sys; from hwflow.cli import main; rc = main(sys.argv[1:]); "
            "print('PEAK_KB', max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code, "build", str(path), "--synth", "none", "--out",
                        str(tmp_path / "b")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    peak_kb = int(r.stdout.split("PEAK_KB")[-1].split()[0])
    assert peak_kb < 2 * 2**20, f"peak resident memory {peak_kb / 2**20:.2f} GB"
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < 2 * 2**20
