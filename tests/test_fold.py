"""Folding: targets are met, limits respected, shipped folding files stay valid."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hwflow import export
from hwflow.boards import BOARDS, get_board
from hwflow.dataflow import lower
from hwflow.layers import MVAU
from hwflow.errors import HwflowError
from hwflow.fold import IO_BITS, apply_folding_file, fold_for_board, fold_to_fps
from hwflow.streamline import streamline

from conftest import make_model

CONFIGS = sorted((Path(__file__).parents[1] / "build_configs").glob("*.json"))


@pytest.fixture(scope="module")
def dataflows(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            _, path = make_model(name, tmp_path_factory.mktemp(name), seed=0, ties=False)
            cache[name] = lower(streamline(export.load_qonnx(path)))
        return cache[name]
    return get


@pytest.mark.parametrize("name,fps", [("tfc-w1a1", 1e5), ("tfc-w1a1", 1e6), ("tfc-w1a1", 5e6),
                                      ("cnv-small-w1a1", 2e3), ("cnv-small-w1a1", 1.5e4)])
def test_target_fps_is_met(dataflows, name, fps):
    """Every layer, window generators and pools included, meets the target with a legal folding."""
    df = dataflows(name)
    fold_to_fps(df, fps, 100.0)
    assert df.cycles() <= 100e6 / fps
    for layer in df.layers:
        layer.check_folding()


@pytest.mark.parametrize("board", list(BOARDS))
def test_board_default_respects_link_and_budget(dataflows, board):
    b = get_board(board)
    for name in ("tfc-w1a1", "cnv-small-w1a1"):
        df = dataflows(name)
        fold_for_board(df, b)
        first = df.layers[0]
        assert first.in_width <= IO_BITS[b.ps]
        res = df.resources()
        assert res["lut"] <= 0.5 * b.lut and res["bram18"] <= 0.8 * b.bram18
        for layer in df.layers:
            layer.check_folding()


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_shipped_folding_files_apply(dataflows, config):
    spec = json.loads(config.read_text())
    df = dataflows(spec["model"])
    apply_folding_file(df, config)
    assert round(get_board(spec["board"]).clock_mhz * 1e6 / df.cycles()) == spec["est_images_per_s"]


def test_bad_folding_is_explained(dataflows, tmp_path):
    df = dataflows("tfc-w1a1")
    f = tmp_path / "f.json"
    f.write_text(json.dumps({"mvau0": {"pe": 7, "simd": 16}}))
    with pytest.raises(HwflowError, match="PE=7 must divide"):
        apply_folding_file(df, f)
    f.write_text(json.dumps({"nope": {"pe": 1}}))
    with pytest.raises(HwflowError, match="unknown layer 'nope'"):
        apply_folding_file(df, f)
    f.write_text("{not json")
    with pytest.raises(HwflowError, match="not valid JSON"):
        apply_folding_file(df, f)


def test_mvau_cycles_and_execute_agree_with_definition():
    rng = np.random.default_rng(0)
    w = rng.integers(0, 2, (12, 20)).astype(np.uint8)
    t = rng.integers(0, 22, 12)
    layer = MVAU("m", w, t, pe=3, simd=5)
    assert layer.cycles() == (12 // 3) * (20 // 5)
    x = rng.integers(0, 2, (50, 20))
    pc = np.array([[np.sum(xi == wi) for wi in w] for xi in x])
    np.testing.assert_array_equal(layer.execute(x), (pc >= t).astype(np.int64))
