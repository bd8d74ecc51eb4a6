"""Fixtures shared by the core-level RTL tests: Verilator, and one cached build per parameter set."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hwflow import rtlsim
from hwflow.errors import HwflowError

RTL = Path(__file__).resolve().parent.parent / "hwflow" / "rtl"
STALLS = (0.7, 0.6)  # p_in, p_out


def clog2(n: int) -> int:
    return (n - 1).bit_length()


def _lint(verilator, args: list[str], wall: bool = True) -> tuple[int, str]:
    r = subprocess.run([str(verilator), "--lint-only", *(["-Wall"] if wall else []), *args], cwd=RTL,
                       capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def assert_lint_clean(verilator, *args: str) -> None:
    """`verilator --lint-only -Wall ARGS` (in the RTL folder) passes without a warning."""
    code, out = _lint(verilator, list(args))
    warnings = [ln for ln in out.splitlines() if ln.startswith("%")]
    assert code == 0 and not warnings, "\n".join(warnings)


def assert_lint_rejects(verilator, top: str, params: list[str], name: str) -> None:
    """Linting core `top` with -G `params` fails on the module whose name flags the error."""
    code, out = _lint(verilator, [*params, f"{top}.v"], wall=False)
    assert code != 0 and f"{top}_ILLEGAL_{name}" in out, out


def mvau_widths(mw: int, thresh: int = 1, in_bits: int = 1, in_signed: int = 1, w_bits: int = 1) -> dict:
    """ACC_W, TW and OUT_BITS for hwflow_mvau as the flow computes them (hwflow.layers.MVAU),
    so the core tests use the one formula the builds use."""
    import numpy as np

    from hwflow.layers import MVAU
    from hwflow.layers.base import BIPOLAR, int_type
    dtype = BIPOLAR if in_bits == 1 else int_type(in_bits, bool(in_signed))
    w_dtype = BIPOLAR if w_bits == 1 else int_type(w_bits, True)
    layer = MVAU("m", np.zeros((1, mw), np.uint8), np.zeros(1, np.int64) if thresh else None, in_dtype=dtype,
                 w_dtype=w_dtype)
    params = layer.rtl_instance()[1]
    return {k: params[k] for k in ("ACC_W", "TW", "OUT_BITS")}


def mvau_lint_params(**params) -> list[str]:
    """-G options for a lint run: the given parameters plus the widths they imply."""
    widths = mvau_widths(params["MW"], params.get("THRESH", 1), params.get("IN_BITS", 1), params.get("IN_SIGNED", 1),
                         params.get("W_BITS", 1))
    return [f"-G{k}={v}" for k, v in {**widths, **params}.items()]


@pytest.fixture(scope="module")
def verilator():
    try:
        return rtlsim.find_verilator()
    except HwflowError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def build(verilator, tmp_path_factory):
    """build(top, defines=(), **params) -> simulator executable, one build per parameter set
    (and Verilog defines)."""
    root = tmp_path_factory.mktemp("rtl_builds")
    cache: dict = {}

    def get(top: str, defines: tuple[str, ...] = (), **params) -> Path:
        key = (top, defines, tuple(sorted(params.items())))
        if key not in cache:
            name = top + "".join(f"_{k}{v}" for k, v in sorted(params.items())).replace('"', "")
            name += "".join(f"_D{d}" for d in defines)
            cache[key] = rtlsim.build_sim(RTL, top, [f"{top}.v"], root / name,
                                          [f"-G{k}={v}" for k, v in params.items()] + [f"-D{d}" for d in defines])
        return cache[key]

    return get


def write_mvau_mem(d: Path, W, T, simd: int, pe: int, tw: int) -> None:
    """The MVAU's ROM files, written independently of hwflow.codegen_rtl.

    weights.mem line nf*SF+sf: bit p*SIMD+j = W[nf*PE+p][sf*SIMD+j];
    thresh.mem line nf: T[nf*PE+p] in TW-bit two's complement at bits [p*TW +: TW].
    """
    mh, mw = W.shape
    sf, nf = mw // simd, mh // pe
    with open(d / "weights.mem", "w") as f:
        for n in range(nf):
            for s in range(sf):
                row = W[n * pe:(n + 1) * pe, s * simd:(s + 1) * simd].reshape(-1)
                f.write(format(sum(int(b) << i for i, b in enumerate(row)), "x") + "\n")
    if T is not None:
        with open(d / "thresh.mem", "w") as f:
            for n in range(nf):
                v = 0
                for p in range(pe):
                    v |= (int(T[n * pe + p]) & ((1 << tw) - 1)) << (p * tw)
                f.write(format(v, "x") + "\n")
