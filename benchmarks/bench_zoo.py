"""Benchmark the model zoo: build each network for a board at its default folding and
tabulate rtlsim throughput/latency, Yosys resources and build time next to FINN's published
figures.

    python benchmarks/bench_zoo.py [--no-synth] [--json out.json] [--markdown out.md]
                                   [--models tfc-w1a1,lfc-w1a1] [--trained tfc-w1a1=runs/tfc/model.onnx]
    python benchmarks/bench_zoo.py --bnn-pynq      # Brevitas's 11 BNN-PYNQ models (tfc_1w1a ... cnv_2w2a)
    python benchmarks/bench_zoo.py --folding both  # each model at the board default and at --target-fps max

Models are random-initialised (seed 0) unless a trained QONNX model is given with --trained:
throughput, latency and resources depend only on the shapes and the folding, not the weights.
A model from `hwflow train` (its folder holds test_x.npy, test_y.npy and metrics.json) also
gets its accuracy: torch's from metrics.json, and the build's own, every test image (or
--accuracy-images of them) through rtlsim.
Names with an underscore (tfc_1w2a, cnv_2w2a, ...) are Brevitas's own BNN-PYNQ models
(brevitas_examples.bnn_pynq, as the wheel ships them).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from hwflow import export, zoo
from hwflow.build import BuildOptions, build

ZOO = ["tfc-w1a1", "sfc-w1a1", "lfc-w1a1", "cnv-w1a1", "resnet-small-w1a1"]
BNN_PYNQ = ["tfc_1w1a", "sfc_1w1a", "lfc_1w1a", "cnv_1w1a", "tfc_1w2a", "sfc_1w2a", "lfc_1w2a", "cnv_1w2a",
            "tfc_2w2a", "sfc_2w2a", "cnv_2w2a"]

# Published reference points (FINN/BNN-PYNQ on a Pynq-Z1 / ZC706-class Zynq-7000 at its own folding).
FINN = {
    "tfc-w1a1": {"images_per_s": 837_019, "source": "finn-examples tfc_w1a1 (Pynq-Z1)"},
    "lfc-w1a1": {"images_per_s": 168_000, "lut": 28_360, "bram36": 110, "source": "BNN-PYNQ LFC-W1A1"},
    "cnv-w1a1": {"images_per_s": 3_020, "lut": 26_072, "source": "BNN-PYNQ CNV-W1A1"},
    # BNN-PYNQ's Pynq-Z1 figures (end to end, host included) for Brevitas's copies of its models
    "lfc_1w1a": {"images_per_s": 118_883, "lut": 28_360, "bram36": 110, "source": "BNN-PYNQ LFC-W1A1"},
    "lfc_1w2a": {"images_per_s": 118_882, "lut": 48_981, "bram36": 110, "source": "BNN-PYNQ LFC-W1A2"},
    "cnv_1w1a": {"images_per_s": 3_050, "lut": 26_072, "bram36": 124, "source": "BNN-PYNQ CNV-W1A1"},
    "cnv_1w2a": {"images_per_s": 3_050, "lut": 40_321, "bram36": 131.5, "source": "BNN-PYNQ CNV-W1A2"},
    "cnv_2w2a": {"images_per_s": 860, "lut": 37_302, "bram36": 140, "source": "BNN-PYNQ CNV-W2A2"},
}


def export_model(name: str, tmp: Path) -> Path:
    """A random-initialised (seed 0) model exported to QONNX: hwflow's zoo, or Brevitas's BNN-PYNQ copy."""
    import torch
    torch.manual_seed(0)
    if "_" in name:
        from brevitas_examples.bnn_pynq.models import model_with_cfg
        net, _ = model_with_cfg(name, pretrained=False)
        shape = (3, 32, 32) if name.startswith("cnv") else (1, 28, 28)
    else:
        net, shape = zoo.build_model(name), zoo.input_shape(name)
    return export.export_brevitas(net.eval(), shape, tmp / f"{name}.onnx")


def _is_conv(name: str) -> bool:
    return name.startswith("cnv") if "_" in name else zoo.parse(name).conv


def accuracy(build_dir: Path, trained: Path, n: int | None) -> dict:
    """Torch's test accuracy (metrics.json) and the build's: the test images through rtlsim."""
    import numpy as np

    from hwflow.sim import simulate_build
    metrics = json.loads((trained / "metrics.json").read_text())
    x, y = np.load(trained / "test_x.npy")[:n], np.load(trained / "test_y.npy")[:n]
    t0 = time.perf_counter()
    out, _ = simulate_build(build_dir, x)
    pred = out.reshape(len(x), -1).argmax(1) if out.ndim > 1 and out.shape[-1] > 1 else out.reshape(-1)
    # torch on the images rtlsim ran: all of them, or the first ones hwflow train checked QONNX on
    same = metrics["test_accuracy"] if len(x) == metrics["test_samples"] else \
        metrics["torch_test_accuracy_same_samples"] if len(x) == metrics["qonnx_test_samples"] else None
    return {"torch_accuracy": metrics["test_accuracy"], "torch_test_images": metrics["test_samples"],
            "torch_accuracy_same_images": same, "rtlsim_accuracy": float((pred == y).mean()),
            "rtlsim_test_images": len(x), "accuracy_s": round(time.perf_counter() - t0, 1)}


def bench_one(name: str, model: Path | None, board: str, synth: bool, verify_images: int | None, tmp: Path,
              accuracy_images: int | None = None, fold_max: bool = False) -> dict:
    if model is None:
        model = export_model(name, tmp)
    # conv nets simulate thousands of cycles per image: fewer check images keep the run in minutes
    n = verify_images or (100 if _is_conv(name) else 1000)
    # at max folding the build runs Yosys itself (its folding search checks the counts)
    opts = BuildOptions(board=board, verify_images=n, synth="top" if fold_max and synth else "none",
                        target_fps="max" if fold_max else None)
    t0 = time.perf_counter()
    res = build(model, tmp / (name.replace(":", "_") + ("-max" if fold_max else "")), opts, quiet=True)
    build_s = time.perf_counter() - t0
    rep, net = res.report, res.report["network"]
    row = {"model": name + (" (max)" if fold_max else ""), "trained": not str(model).startswith(str(tmp)),
           "board": rep["board"], "folding": rep["folding"],
           "clock_mhz": rep["clock_mhz"], "verified": rep["verified"], "build_s": round(build_s, 1),
           "cycles_per_image": net["sim_cycles_per_image"], "images_per_s": round(net["images_per_s"]),
           "latency_us": round(net["latency_us"], 3),
           "est_lut": rep["resources_estimate"]["lut"], "est_bram18": rep["resources_estimate"]["bram18"],
           "lut": None, "ff": None, "bram18": None, "depth": None, "synth_s": None, "finn": FINN.get(name),
           "torch_accuracy": None, "rtlsim_accuracy": None}
    if (model.parent / "test_y.npy").is_file() and (model.parent / "metrics.json").is_file():
        print(f"  {name}: test images through rtlsim ...", file=sys.stderr, flush=True)
        row.update(accuracy(res.out, model.parent, accuracy_images))
    # multiply-accumulates per image (every MVAU's MW x MH per vector), and per cycle at this rate
    from hwflow.dataflow import Dataflow
    macs = sum(lay.mw * lay.mh * lay.vectors for lay in Dataflow.load(res.out).layers if lay.kind == "MVAU")
    row.update(macs_per_image=macs, macs_per_cycle=round(macs / net["sim_cycles_per_image"], 1))
    row.update(steps={_short(k): round(v, 1) for k, v in res.steps.items()}, peak_gb=_peak_gb(),
               **sim_speed(res, net["sim_cycles_per_image"]))
    if "resources_synth" in rep:
        top = rep["resources_synth"]
        row.update(lut=top["lut"], ff=top["ff"], bram18=top["bram18"], depth=top.get("depth"), synth_s=top["seconds"],
                   build_s=round(build_s - top["seconds"], 1))
    elif synth and not rep.get("synth_failed"):
        # the same Yosys run as the build's `--synth top` step
        from hwflow.synth import YosysCrashed, synthesize_top
        try:
            top = synthesize_top(res.out / "rtl", rep["part"])
            row.update(lut=top["lut"], ff=top["ff"], bram18=top["bram18"], depth=top["depth"], synth_s=top["seconds"])
        except YosysCrashed as e:
            rep["synth_failed"] = str(e)
    row["synth_failed"] = rep.get("synth_failed")
    return row


# the simulator's speed from a run long enough that starting it and moving files do not count
SPEED_CYCLES = 4_000_000


def sim_speed(res, cycles_per_image: float) -> dict:
    """The network simulator's cycles/s at full speed on random inputs, about SPEED_CYCLES cycles."""
    from hwflow.build import random_hw_inputs
    from hwflow.sim import RtlSim
    sim = RtlSim(res.dataflow.net, res.out / "rtl", write=False)
    first = sim.net.first
    n = int(min(200_000, max(50, SPEED_CYCLES // max(1.0, cycles_per_image))))
    run = sim.run(random_hw_inputs(first, (n, first.in_elems), 0))
    return {"rtlsim_cycles_per_s": round(run.sim_rate), "rtlsim_speed_images": n}


def _peak_gb() -> float:
    """Peak resident memory of this process and of its largest child (simulators, Yosys) so far."""
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return round(peak / 2**20, 2)


def _short(step: str) -> str:
    """A build step's name without its explanation: 'rtlsim each layer alone', 'streamline', ..."""
    return re.split(r" \(| and check| on \d|, then", step)[0]


def _n(v, fmt="{:,}") -> str:
    return "-" if v is None else fmt.format(v)


def _accuracy_text(r: dict) -> str:
    """'torch / rtlsim' on the same images, plus torch on the whole test set if rtlsim ran fewer."""
    n, same = r["rtlsim_test_images"], r.get("torch_accuracy_same_images")
    text = f"{'?' if same is None else f'{same:.2%}'} / {r['rtlsim_accuracy']:.2%} ({n:,} images)"
    if n != r["torch_test_images"]:
        text += f"; torch {r['torch_accuracy']:.2%} on all {r['torch_test_images']:,}"
    return text


def markdown(rows: list[dict]) -> str:
    head = ("| model | verified | accuracy torch / rtlsim | images/s (rtlsim) | latency µs | LUT | FF | BRAM18 | depth "
            "| LUT per MAC/cycle | build s | peak GB | rtlsim cycles/s | FINN images/s | FINN LUT | FINN BRAM18 |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        f = r["finn"] or {}
        # without Yosys, show the analytic estimate marked with ~
        lut = _n(r["lut"]) if r["lut"] is not None else "~" + _n(r["est_lut"])
        bram = _n(r["bram18"]) if r["bram18"] is not None else "~" + _n(r["est_bram18"])
        acc = "-" if r.get("rtlsim_accuracy") is None else _accuracy_text(r)
        lines.append(
            f"| {r['model']}{'' if r['trained'] else ' (random)'} | {'yes' if r['verified'] else 'NO'} | {acc} "
            f"| {r['images_per_s']:,} | {r['latency_us']:.2f} | {lut} | {_n(r['ff'])} | {bram} | {_n(r.get('depth'))} "
            f"| {_n(r['lut'] / r['macs_per_cycle'] if r['lut'] else None, '{:.2f}')} | {r['build_s']:.1f} "
            f"| {r['peak_gb']:.2f} | {r['rtlsim_cycles_per_s'] / 1e6:.2f} M | {_n(f.get('images_per_s'))} | {_n(f.get('lut'))} "
            f"| {_n(round(2 * f['bram36'])) if 'bram36' in f else '-'} |")
    board = rows[0]["board"] if rows else "?"
    lines.append("")
    lines.append(f"{board} at {rows[0]['clock_mhz']:g} MHz, default folding (rows marked (max): --target-fps max). LUT/FF/BRAM18 from Yosys synth_xilinx; "
                 "~ marks the analytic estimate (run without --no-synth for Yosys); depth: the longest path in "
                 "LUT/carry cells between registers (Yosys ltp); LUT per MAC/cycle is the "
                 "LUTs over the multiply-accumulates the design does per cycle at its rate. Our images/s are rtlsim "
                 "cycles at the board clock; FINN/BNN-PYNQ figures are published numbers at their own folding, "
                 "measured end to end on the board (BRAM36 counted as 2 BRAM18). Build s: QONNX to verified "
                 "rtlsim on the check images (Yosys not included); peak GB: the build's largest process "
                 "(Yosys included only in (max) rows, whose folding search runs it); rtlsim cycles/s: the whole network at full "
                 f"speed on random images, about {SPEED_CYCLES / 1e6:g} M cycles.")
    crashed = [f"- {r['model']}: no Yosys counts (~ the estimate): Yosys stopped without a result, out of its "
               "4 GB WebAssembly memory" for r in rows if r.get("synth_failed")]
    lines += ["", *crashed] if crashed else []
    lines += ["", "What stops a faster folding (by the estimate):", ""]
    lines += [f"- {r['model']}: {r['folding'].split('faster is stopped by ')[-1].removesuffix(')')}" for r in rows
              if "faster is stopped by" in r.get("folding", "")]
    steps = list(dict.fromkeys(k for r in rows for k in r["steps"]))
    lines += ["", "Build seconds per step:", "", "| model | " + " | ".join(steps) + " |", "|---" * (len(steps) + 1) + "|"]
    for r in rows:
        lines.append(f"| {r['model']} | " + " | ".join(_n(r["steps"].get(k), "{:.1f}") for k in steps) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(ZOO), help="comma-separated zoo names (hwflow's, or "
                    "Brevitas's BNN-PYNQ names such as cnv_2w2a)")
    ap.add_argument("--bnn-pynq", action="store_true", help="the 11 BNN-PYNQ models from the brevitas wheel")
    ap.add_argument("--trained", action="append", default=[], metavar="NAME=MODEL.onnx",
                    help="use this trained QONNX model for NAME (repeatable)")
    ap.add_argument("--board", default="Pynq-Z1")
    ap.add_argument("--no-synth", action="store_true", help="skip Yosys (minutes on the big tops)")
    ap.add_argument("--verify-images", type=int, default=None, help="images for each build's checks "
                    "(default 1000, 100 for conv nets)")
    ap.add_argument("--accuracy-images", type=int, default=None, help="test images through rtlsim for a "
                    "model from `hwflow train` (default: all)")
    ap.add_argument("--folding", choices=("default", "max", "both"), default="default",
                    help="the board's default folding, `--target-fps max` (the fastest within 85%% of the "
                         "LUTs and 90%% of the BRAM, checked by Yosys), or a row for each")
    ap.add_argument("--json", type=Path, help="write the rows as JSON")
    ap.add_argument("--markdown", type=Path, help="write the table as Markdown")
    a = ap.parse_args(argv)
    trained = dict(t.split("=", 1) for t in a.trained)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in (BNN_PYNQ if a.bnn_pynq else a.models.split(",")):
            print(f"building {name} ...", file=sys.stderr, flush=True)
            path = Path(trained[name]) if name in trained else None
            for fold_max in {"default": [False], "max": [True], "both": [False, True]}[a.folding]:
                # each build in a fresh process, so its peak memory is its own
                with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                    rows.append(pool.submit(bench_one, name, path, a.board, not a.no_synth, a.verify_images,
                                            Path(tmp), a.accuracy_images, fold_max).result())
                r = rows[-1]
                synth = f", {r['lut']:,} LUT, {r['bram18']} BRAM18 (Yosys {r['synth_s']} s)" if r["lut"] is not None else ""
                acc = "" if r["rtlsim_accuracy"] is None else f", accuracy torch / rtlsim {_accuracy_text(r)}"
                print(f"  {r['model']}: {r['images_per_s']:,} images/s, build {r['build_s']} s{synth}{acc}",
                      file=sys.stderr, flush=True)
                if a.json:  # a long run keeps what it has measured
                    a.json.write_text(json.dumps(rows, indent=1))
    table = markdown(rows)
    print(table)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    if a.markdown:
        a.markdown.write_text(table)


if __name__ == "__main__":
    main()
