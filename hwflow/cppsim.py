"""C simulation of the generated HLS C++ with g++: no vendor tool needed.

The Vitis-HLS types (``ap_int.h``, ``hls_stream.h``) come from Xilinx's open headers
carried by the hls4ml wheel (``hls4ml/templates/vivado/ap_types``); they are found
through the installed package's location (the package is not imported: importing hls4ml
is slow and not needed), never through an environment variable.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from hwflow import rtlsim
from hwflow.codegen_hls import TOP, write_hls
from hwflow.errors import HwflowError
from hwflow.streams import StreamGraph

HLS4ML_PIN = "hls4ml==1.3.0"

CXX_FLAGS = ("-std=c++14", "-O2")
# Our code builds clean with -Wall -Wextra.  HLS pragmas are unknown to g++ by design.
# The three middle-end warnings below fire inside the Xilinx headers after inlining
# (ap_private reads its own uninitialized storage in clearUnusedBits, and a range
# assignment has an unreachable reversed-range loop); -isystem cannot silence warnings
# that are issued after inlining into our functions.
WARN_FLAGS = ("-Wall", "-Wextra", "-Wno-unknown-pragmas", "-Wno-uninitialized",
              "-Wno-maybe-uninitialized", "-Wno-aggressive-loop-optimizations")


def find_ap_types() -> Path:
    """Directory holding Xilinx's open ap_int.h / hls_stream.h (from the hls4ml wheel)."""
    spec = importlib.util.find_spec("hls4ml")
    locs = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locs:
        d = Path(loc) / "templates" / "vivado" / "ap_types"
        if (d / "ap_int.h").is_file() and (d / "hls_stream.h").is_file():
            return d
    raise HwflowError("HLS C simulation needs the open ap_int.h/hls_stream.h headers: "
                      f"install them with `pip install {HLS4ML_PIN}`")


def find_cxx() -> Path:
    exe = shutil.which("g++")
    if exe is None:
        raise HwflowError("HLS C simulation needs g++, which is not on PATH: install it "
                          "(Debian/Ubuntu: `apt-get install g++`)")
    return Path(exe)


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hwflow" / "cppsim"


def compile_csim(sources: Sequence, exe, *, include_dirs: Iterable = (), defines: Iterable[str] = (),
                 extra: Iterable[str] = (), werror: bool = False) -> Path:
    """Compile C++ ``sources`` against the open HLS headers into ``exe``.

    Cached by content: a hash of the sources, every header in their directories (and in
    ``include_dirs``), the flags and the compiler's version.  A hit in ``exe``'s directory
    (stamp file) or in ``$XDG_CACHE_HOME/hwflow/cppsim`` skips g++.
    """
    cxx, ap = find_cxx(), find_ap_types()
    srcs = [Path(s).resolve() for s in sources]
    for s in srcs:
        if not s.is_file():
            raise HwflowError(f"C++ source not found: {s}")
    incs = [Path(d).resolve() for d in include_dirs]
    flags = [*CXX_FLAGS, *WARN_FLAGS, *(["-Werror"] if werror else []),
             *[f"-D{d}" for d in defines], *[str(e) for e in extra],
             *[f"-I{d}" for d in incs], "-isystem", str(ap)]
    h = hashlib.sha256()
    ver = subprocess.run([str(cxx), "--version"], capture_output=True, text=True).stdout
    for part in (str(cxx), ver, *flags):
        h.update(part.encode() + b"\0")
    # Headers the sources may include: everything below their directories and the include dirs.
    roots = sorted({s.parent for s in srcs} | set(incs))
    deps = sorted({p for r in roots for p in r.rglob("*.h")} | set(srcs))
    for p in deps:
        h.update(str(p.relative_to(p.anchor)).encode() + b"\0" + p.read_bytes() + b"\0")
    digest = h.hexdigest()

    exe = Path(exe).resolve()
    exe.parent.mkdir(parents=True, exist_ok=True)
    stamp = exe.with_name(exe.name + ".stamp")
    if exe.is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
        return exe
    cached = _cache_root() / digest[:32] / "a.out"
    if cached.is_file():
        shutil.copy2(cached, exe)
        stamp.write_text(digest + "\n")
        return exe
    cmd = [str(cxx), *flags, *[str(s) for s in srcs], "-o", str(exe)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        log = exe.with_name(exe.name + ".build.log")
        log.write_text("$ " + " ".join(cmd) + "\n" + r.stdout + r.stderr)
        errs = [ln.strip() for ln in r.stderr.splitlines() if "error" in ln][:3]
        raise HwflowError(f"g++ failed on {srcs[0].name}: {' | '.join(errs) or r.stderr[-300:]} "
                          f"(full log: {log})")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".a.out.{os.getpid()}")
        shutil.copy2(exe, tmp)
        os.replace(tmp, cached)  # atomic: concurrent builds are safe
    except OSError:
        pass  # the cache is an optimisation only
    stamp.write_text(digest + "\n")
    return exe


class CppSim:
    """The generated HLS network compiled with g++ (C simulation); mirrors RtlSim."""

    def __init__(self, layers, out_dir, *, werror: bool = False):
        self.net, self.out_dir = StreamGraph.of(layers), Path(out_dir)
        self.layers = self.net.layers
        self.sources = write_hls(self.net, self.out_dir)
        self.exe = compile_csim([self.out_dir / f"{TOP}_tb.cpp", self.out_dir / f"{TOP}.cpp"],
                                self.out_dir / "csim" / f"{TOP}_csim", werror=werror)

    def run(self, bits: np.ndarray, *, timeout: float | None = None) -> np.ndarray:
        """Input elements [N, first.in_elems] (bits, or integers for a multi-bit first layer)
        -> integers [N, last.out_elems], as RtlSim.run(...).outputs."""
        first, last = self.net.first, self.net.last
        bits = np.asarray(bits, dtype=np.int64)
        if bits.ndim != 2 or bits.shape[1] != first.in_elems:
            raise HwflowError(f"CppSim.run: expected inputs of shape [N, {first.in_elems}], got {bits.shape}")
        n = len(bits)
        beats = rtlsim.pack_beats(bits, first.in_elem_bits, first.in_epb)
        with tempfile.TemporaryDirectory(prefix="hwflow_csim_") as td:
            fin, fout = Path(td) / "in.bin", Path(td) / "out.bin"
            np.ascontiguousarray(beats, dtype="<u4").tofile(fin)
            try:
                r = subprocess.run([str(self.exe), str(fin), str(fout), str(n)], capture_output=True,
                                   text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise HwflowError(f"HLS C simulation of {n} images did not finish within {timeout} s") from None
            if r.returncode != 0:
                msg = (r.stderr.strip().splitlines() or [""])[-1]
                raise HwflowError(f"HLS C simulation failed (exit {r.returncode}): {msg}")
            out = np.fromfile(fout, dtype="<u4")
        words = -(-last.out_width // 32)
        out = out.reshape(-1, words)
        if out.shape[0] != n * last.out_beats:
            raise HwflowError(f"HLS C simulation returned {out.shape[0]} beats, expected {n * last.out_beats}")
        if n == 0:
            return np.zeros((0, last.out_elems), dtype=np.int64)
        return rtlsim.unpack_beats(out, last.out_elem_bits, last.out_epb, last.out_elems, signed=last.out_signed)
