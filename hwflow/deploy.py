"""The deployment package for a PYNQ board, and a simulated backend that runs the same driver on rtlsim.

`write_deploy(build_dir)` fills build_dir/deploy/ with the numpy-only driver (package data
hwflow/deploy_templates/driver.py), accel.json + head_tail.npz (stream geometry and the host
head/tail as small numpy programs, so the board needs neither onnxruntime nor qonnx),
validate.py, a README, the .bit/.hwh when Vivado has made them, and deploy.zip.

`SimBackend(build_dir)` is the board's DMA replaced by Verilator: it streams the driver's
padded bytes through the `hwflow_accel` wrapper (the IP that goes into the block design).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import zipfile
from importlib.resources import files
from pathlib import Path

import numpy as np
from onnx import helper, numpy_helper

from hwflow.errors import HwflowError

_HOST_OPS = {"Identity", "Flatten", "Reshape", "Mul", "Add", "Sub", "Div", "MultiThreshold",
             "BatchNormalization", "Softmax", "LogSoftmax", "Quant", "Round", "ArgMax"}


def _program(model, prefix: str, consts: dict) -> dict:
    """An ONNX sub-model -> {"input", "output", "nodes"}; initializers go into consts as prefix+name."""
    g = model.graph
    ren = {i.name: prefix + i.name for i in g.initializer}
    for init in g.initializer:
        consts[prefix + init.name] = numpy_helper.to_array(init)
    nodes = []
    for n in g.node:
        if n.op_type not in _HOST_OPS:
            raise HwflowError(f"host op {n.op_type} has no numpy implementation in the deploy driver")
        attrs = {}
        for a in n.attribute:
            v = helper.get_attribute_value(a)
            attrs[a.name] = v.decode() if isinstance(v, bytes) else (list(v) if isinstance(v, (list, tuple)) else v)
        nodes.append({"op": n.op_type, "inputs": [ren.get(i, i) for i in n.input],
                      "outputs": list(n.output), "attrs": attrs})
    return {"input": g.input[0].name, "output": g.output[0].name, "nodes": nodes}


def deploy_config(build_dir: Path) -> tuple[dict, dict]:
    """(accel.json contents, head/tail constants) for a build."""
    from hwflow.dataflow import Dataflow
    from hwflow.vivado import stream_config
    build_dir = Path(build_dir)
    df = Dataflow.load(build_dir)
    consts: dict = {}
    report = json.loads((build_dir / "report.json").read_text()) if (build_dir / "report.json").is_file() else {}
    cfg = {"stream": stream_config(build_dir), "head": _program(df.head.model, "head/", consts),
           "tail": _program(df.tail.model, "tail/", consts), "tail_decode": {"scale": df.tail_scale, "bias": df.tail_bias},
           "board": report.get("board"), "clock_mhz": report.get("clock_mhz")}
    return cfg, consts


VALIDATE = '''"""Accuracy and throughput on the board: python validate.py images.npy labels.npy [--batch N]

images.npy: float32 [N, *input_shape] (as the model was trained on, e.g. 0..1); labels.npy: int [N].
"""
import argparse
import time

import numpy as np

from driver import HwflowAccel

ap = argparse.ArgumentParser()
ap.add_argument("images")
ap.add_argument("labels")
ap.add_argument("--batch", type=int, default=1000)
ap.add_argument("--bitfile", default=None)
a = ap.parse_args()
x, y = np.load(a.images), np.load(a.labels)
accel = HwflowAccel.on_board(a.bitfile) if a.bitfile else HwflowAccel.on_board()
correct, hw_s, t0 = 0, 0.0, time.perf_counter()
for i in range(0, len(x), a.batch):
    pred = accel.classify(x[i:i + a.batch])
    hw_s += accel.last_seconds
    correct += int((pred == y[i:i + a.batch]).sum())
total = time.perf_counter() - t0
print(f"accuracy   {correct / len(x):.4f} ({correct}/{len(x)})")
print(f"throughput {len(x) / hw_s:,.0f} images/s on the accelerator (DMA included), "
      f"{len(x) / total:,.0f} images/s end to end (host head/tail included)")
'''

README = """# hwflow deployment package ({board}, {clock} MHz)

Copy this directory to the board (PYNQ image; needs numpy and pynq, nothing else) and run

    python3 validate.py images.npy labels.npy

Files:
- `driver.py`: `HwflowAccel.on_board("hwflow.bit").predict(x)` -> model outputs; `.classify(x)` -> classes.
  It packs the first layer's input bits into {iwp}-bit DMA beats ({iw} data bits, low bits first) and
  unpacks {owp}-bit output beats ({ow} data bits) into integers; the host head (input thresholds) and
  tail (affine) run in numpy from `accel.json` + `head_tail.npz`.
- `hwflow.bit`, `hwflow.hwh`: the overlay ({bit_state}).
- `validate.py`: accuracy on a .npy dataset and throughput.
"""


def write_deploy(build_dir: Path, bitfile: Path | None = None) -> Path:
    """Create build_dir/deploy/ and deploy.zip, keeping a .bit/.hwh that Vivado already put there.

    bitfile: a bitstream made outside hwflow (its .hwh beside it, same name) to copy in as
    hwflow.bit/hwflow.hwh.
    """
    build_dir = Path(build_dir)
    if not (build_dir / "dataflow.json").is_file():
        raise HwflowError(f"{build_dir} is not an hwflow build (no dataflow.json): run `python -m hwflow build` first")
    out = build_dir / "deploy"
    if bitfile is not None:
        bitfile = Path(bitfile)
        hwh = bitfile.with_suffix(".hwh")
        for f in (bitfile, hwh):
            if not f.is_file():
                raise HwflowError(f"{f} not found: PYNQ needs the .bit and its .hwh (same name, same folder)")
    out.mkdir(exist_ok=True)
    if bitfile is not None:
        shutil.copyfile(bitfile, out / "hwflow.bit")
        shutil.copyfile(hwh, out / "hwflow.hwh")
    cfg, consts = deploy_config(build_dir)
    (out / "accel.json").write_text(json.dumps(cfg, indent=1))
    np.savez(out / "head_tail.npz", **consts)
    with (files("hwflow") / "deploy_templates" / "driver.py").open("rb") as src, open(out / "driver.py", "wb") as dst:
        shutil.copyfileobj(src, dst)
    (out / "validate.py").write_text(VALIDATE)
    has_bit = (out / "hwflow.bit").is_file() and (out / "hwflow.hwh").is_file()
    s = cfg["stream"]
    (out / "README.md").write_text(README.format(
        board=cfg["board"], clock=cfg["clock_mhz"], iwp=s["in_width_padded"], iw=s["in_width"],
        owp=s["out_width_padded"], ow=s["out_width"],
        bit_state="present" if has_bit else "not built yet: run vivado/run.sh where Vivado is installed, "
        "then `python -m hwflow deploy BUILD_DIR` to pack it in"))
    zpath = build_dir / "deploy.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(out.iterdir()):
            if p.is_file():
                z.write(p, f"deploy/{p.name}")
    return out


def load_driver(deploy_dir: Path):
    """Import the driver.py that was written into deploy_dir (the file that goes to the board)."""
    spec = importlib.util.spec_from_file_location(f"hwflow_deploy_driver_{abs(hash(str(deploy_dir)))}",
                                                  Path(deploy_dir) / "driver.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class SimBackend:
    """The DMA + accelerator replaced by Verilator running the `hwflow_accel` IP top as it is packaged.

    Each `transfer` is one DMA transfer in each direction: TLAST on the last input beat, and the
    output must carry TLAST on its last beat and nowhere else (where the S2MM channel stops),
    with TKEEP all ones.  `p_in`/`p_out` stall the two streams at random, as a busy DMA would.
    """

    def __init__(self, build_dir: Path, p_in: float = 1.0, p_out: float = 1.0, seed: int = 0):
        from hwflow import rtlsim
        from hwflow.codegen_rtl import CORES
        from hwflow.vivado import shell_core_path, stream_config, wrapper_verilog
        self.build_dir = Path(build_dir)
        self.cfg = stream_config(self.build_dir)
        self.p_in, self.p_out, self.seed = p_in, p_out, seed
        sim_dir = self.build_dir / "accel_sim"
        sim_dir.mkdir(exist_ok=True)
        (sim_dir / "hwflow_accel.v").write_text(wrapper_verilog(self.cfg))
        rtl = self.build_dir / "rtl"
        srcs = [str((rtl / s).resolve()) for s in (*CORES, "hwflow_top.v")] + \
               [str(shell_core_path().resolve()), str((sim_dir / "hwflow_accel.v").resolve())]
        self.sources = srcs
        self.exe = rtlsim.build_sim(rtl, "hwflow_accel", srcs, sim_dir / "obj")
        self.stats = None

    def transfer(self, in_beats: np.ndarray, n_out_beats: int, out_beat_bytes: int) -> np.ndarray:
        from hwflow import rtlsim
        c = self.cfg
        b = np.asarray(in_beats, np.uint8)
        in_words = -(-c["in_width_padded"] // 32)
        padded = np.zeros((len(b), in_words * 4), np.uint8)
        padded[:, :b.shape[1]] = b
        n = len(b) // c["in_beats_per_image"]
        out, self.stats = rtlsim.run_sim(self.exe, padded.view("<u4"), n, c["in_beats_per_image"],
                                         c["out_beats_per_image"], out_width=c["out_width_padded"],
                                         cwd=self.build_dir / "rtl", p_in=self.p_in, p_out=self.p_out,
                                         seed=self.seed, images_per_transfer=n)
        if len(out) != n_out_beats:
            raise HwflowError(f"simulated accelerator returned {len(out)} beats, expected {n_out_beats}")
        if self.stats["out_tlast"] != [n_out_beats - 1]:
            raise HwflowError(f"simulated accelerator put TLAST on output beats {self.stats['out_tlast'][:8]}, "
                              f"expected only on the last, {n_out_beats - 1}: the DMA would end the transfer there")
        if self.stats["tkeep_ones_min"] != c["out_width_padded"] // 8 or \
                self.stats["tkeep_ones_max"] != c["out_width_padded"] // 8:
            raise HwflowError("simulated accelerator's output TKEEP is not all ones")
        return np.ascontiguousarray(out, dtype="<u4").view(np.uint8)[:, :out_beat_bytes]
