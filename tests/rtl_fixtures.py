"""Fixtures shared by the core-level RTL tests: Verilator, and one cached build per parameter set."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwflow import rtlsim
from hwflow.errors import HwflowError

RTL = Path(__file__).resolve().parent.parent / "hwflow" / "rtl"
STALLS = (0.7, 0.6)  # p_in, p_out


def clog2(n: int) -> int:
    return (n - 1).bit_length()


@pytest.fixture(scope="module")
def verilator():
    try:
        return rtlsim.find_verilator()
    except HwflowError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def build(verilator, tmp_path_factory):
    """build(top, **params) -> simulator executable, one build per parameter set."""
    root = tmp_path_factory.mktemp("rtl_builds")
    cache: dict = {}

    def get(top: str, **params) -> Path:
        key = (top, tuple(sorted(params.items())))
        if key not in cache:
            name = top + "".join(f"_{k}{v}" for k, v in sorted(params.items()))
            cache[key] = rtlsim.build_sim(RTL, top, [f"{top}.v"], root / name,
                                          [f"-G{k}={v}" for k, v in params.items()])
        return cache[key]

    return get
