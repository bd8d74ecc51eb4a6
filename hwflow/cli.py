"""Command line: python -m hwflow {train,build,sim,deploy,boards,models}."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hwflow.errors import HwflowError


def _cmd_train(a) -> None:
    from hwflow.train import train
    metrics = train(a.model, a.dataset, Path(a.out), data_dir=a.data_dir, seed=a.seed, epochs=a.epochs,
                    batch_size=a.batch_size, lr=a.lr, dropout=a.dropout, train_samples=a.train_samples,
                    test_samples=a.test_samples)
    print(f"{a.model} on {a.dataset}: test accuracy {metrics['test_accuracy']:.2%}, train "
          f"{metrics['train_accuracy']:.2%} (model and QONNX export in {a.out})")


def _cmd_build(a) -> None:
    from hwflow.build import BuildOptions, build, summary
    opts = BuildOptions(board=a.board, target_fps=a.target_fps, folding=a.folding, lut_budget=a.lut_budget,
                        bram_budget=a.bram_budget,
                        verify_images=a.verify_images, rtlsim=not a.no_rtlsim, clock_mhz=a.clock_mhz,
                        synth=a.synth, backend=a.backend, board_files=a.board_files)
    if a.model is not None and not Path(a.model).exists():
        raise HwflowError(f"model file not found: {a.model}")
    out = Path(a.out) if a.out else Path("build") / (Path(a.model).parent.name if a.model else "tfc-w1a1-digits")
    result = build(a.model, out, opts)
    print(summary(result.report))
    print(f"build written to {result.out} (report.md with plots, report.json, rtl/, vivado/, deploy.zip)")


def _cmd_sim(a) -> None:
    import numpy as np

    from hwflow.sim import simulate_build
    try:
        x = np.load(a.input)
    except FileNotFoundError:
        raise HwflowError(f"input file not found: {a.input}") from None
    except ValueError as e:
        raise HwflowError(f"cannot read {a.input} as a .npy array: {e}") from None
    y, info = simulate_build(Path(a.build_dir), x, raw=a.raw, stalls=a.stalls, mode=a.mode)
    np.save(a.output, y)
    if a.mode == "cppsim":
        print(f"{len(x)} images through the HLS C-simulation; outputs {y.shape} -> {a.output}")
        return
    print(f"{len(x)} images: {info['cycles_per_image']:.1f} cycles/image, latency {info['latency_cycles']} cycles, "
          f"{info['images_per_s']:,.0f} images/s at {info['clock_mhz']:g} MHz; outputs {y.shape} -> {a.output}")


def _cmd_deploy(a) -> None:
    from hwflow.deploy import write_deploy
    out = write_deploy(Path(a.build_dir), a.bitfile)
    bit = out / "hwflow.bit"
    state = (f"bitstream {bit} ({bit.stat().st_size:,} bytes) and its .hwh" if bit.is_file() else
             f"no bitstream yet: run {Path(a.build_dir) / 'vivado' / 'run.sh'} where Vivado is installed, "
             "then this command again (or pass --bitfile)")
    print(f"deployment package {out} and {out.parent / 'deploy.zip'}: driver.py, accel.json, head_tail.npz, "
          f"validate.py; {state}")


def _cmd_boards(a) -> None:
    from hwflow.boards import BOARDS
    print(f"{'board':11} {'part':22} {'MHz':>5} {'LUT':>7} {'FF':>7} {'BRAM36':>6} {'DSP':>5} PS")
    for b in BOARDS.values():
        print(f"{b.name:11} {b.part:22} {b.clock_mhz:>5g} {b.lut:>7} {b.ff:>7} {b.bram36:>6} {b.dsp:>5} {b.ps}")


def _cmd_models(a) -> None:
    from hwflow.zoo import list_models
    print("\n".join(list_models()))


def _fps(text: str) -> float | str:
    if text.lower() == "max":
        return "max"
    try:
        fps = float(text)
    except ValueError:
        fps = 0.0
    if fps <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' is neither a positive number of images/s nor 'max'")
    return fps


def _share(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a share of the board in (0, 1], e.g. 0.85")
    return v


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hwflow", description="Binary neural networks from Brevitas to "
                                "verified streaming FPGA hardware.")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train a 1- or 2-bit Brevitas model (BNN-PYNQ recipe) and export it to QONNX")
    t.add_argument("--model", default="tfc-w1a1", help="zoo name: topology-wWaA with precision w1a1, w1a2 or w2a2, "
                   "e.g. tfc-w1a2, cnv-small-w2a2, mlp-w2a2:64-100-10 (see `hwflow models`)")
    t.add_argument("--dataset", default="digits", help="digits (bundled with scikit-learn), mnist or "
                   "fashion-mnist (IDX files in --data-dir)")
    t.add_argument("--data-dir", help="folder with the IDX files for --dataset mnist / fashion-mnist")
    t.add_argument("--out", required=True, help="output folder for model.pt, model.onnx, metrics.json")
    t.add_argument("--epochs", type=int, help="default per dataset: digits 40, mnist/fashion-mnist 10")
    t.add_argument("--batch-size", type=int, help="default per dataset: digits 64, mnist/fashion-mnist 128")
    t.add_argument("--lr", type=float, help="Adam's initial learning rate, cosine-decayed to 0 (default 0.01)")
    t.add_argument("--dropout", type=float, help="dropout on the FC inputs and hidden activations "
                   "(default: none on mnist/fashion-mnist, else BNN-PYNQ's: 0.2 for FC nets, 0 for conv nets)")
    t.add_argument("--train-samples", type=int, help="train on the first N training images only")
    t.add_argument("--test-samples", type=int, help="test on the first N test images only")
    t.add_argument("--seed", type=int, default=0)
    t.set_defaults(func=_cmd_train)

    b = sub.add_parser("build", help="QONNX model -> folded, verified RTL with a report")
    b.add_argument("model", nargs="?", help="QONNX .onnx file (default: the bundled TFC-w1a1 trained on digits)")
    b.add_argument("--board", default="Pynq-Z1", help="target board (see `hwflow boards`)")
    b.add_argument("--out", help="output folder (default: build/<model folder name>)")
    g = b.add_mutually_exclusive_group()
    g.add_argument("--target-fps", type=_fps, help="fold every layer to reach this many images/s, or 'max': the "
                   "fastest folding within --lut-budget/--bram-budget (checked by Yosys unless --synth none). "
                   "Default: the fastest folding within half the board's LUTs and 80%% of its BRAM, weights in "
                   "block RAM or LUTs to fit; the report says what stops a faster one")
    g.add_argument("--folding", help="JSON file with PE/SIMD per layer, as the build's folding.json")
    b.add_argument("--clock-mhz", type=float, help="override the board's default clock (folding, report and "
                   "the PS clock of the Vivado project)")
    b.add_argument("--board-files", type=Path, help="folder of Vivado board files (Pynq-Z1/Z2 ones do not ship "
                   "with Vivado; ~/.config/hwflow/board_files is searched too)")
    b.add_argument("--lut-budget", type=_share, default=0.85, help="--target-fps max: share of the board's "
                   "LUTs to use (default 0.85)")
    b.add_argument("--bram-budget", type=_share, default=0.9, help="--target-fps max: share of the board's "
                   "BRAM to use (default 0.9)")
    b.add_argument("--verify-images", type=int, default=1000,
                   help="random inputs for the checks (default 1000; the whole-network rtlsim runs twice as many: "
                        "these and as many uniformly random hardware inputs)")
    b.add_argument("--no-rtlsim", action="store_true", help="skip Verilator (generate RTL only, not verified)")
    b.add_argument("--synth", choices=("top", "layers", "none"), default="top",
                   help="Yosys resource counts and the fit check: the top (default), each layer too, or none")
    b.add_argument("--backend", choices=("rtl", "hls"), default="rtl",
                   help="rtl: Verilog checked in Verilator (default); hls: also HLS C++, checked by g++ "
                   "C-simulation (the Verilog is still simulated: Yosys, Vivado and deploy use it)")
    b.set_defaults(func=_cmd_build)

    s = sub.add_parser("sim", help="run a build's RTL in Verilator on your inputs")
    s.add_argument("build_dir", help="a folder written by `hwflow build`")
    s.add_argument("--input", required=True, help=".npy of model inputs, shape [N, *input_shape]")
    s.add_argument("--output", required=True, help=".npy to write the model outputs to")
    s.add_argument("--raw", action="store_true", help="write the hardware's integer outputs, not the float tail's")
    s.add_argument("--stalls", action="store_true", help="random valid/ready stalls (slower; for checking)")
    s.add_argument("--mode", choices=("rtlsim", "cppsim"), default="rtlsim",
                   help="rtlsim: the Verilog in Verilator (default); cppsim: the HLS C++ (a --backend hls build)")
    s.set_defaults(func=_cmd_sim)

    d = sub.add_parser("deploy", help="(re)pack a build's PYNQ deployment package (deploy/, deploy.zip), with "
                       "the bitstream once Vivado has made it")
    d.add_argument("build_dir", help="a folder written by `hwflow build`")
    d.add_argument("--bitfile", type=Path, help="a .bit made outside hwflow (its .hwh beside it, same name), "
                   "copied in as hwflow.bit/hwflow.hwh")
    d.set_defaults(func=_cmd_deploy)

    sub.add_parser("boards", help="list supported boards").set_defaults(func=_cmd_boards)
    sub.add_parser("models", help="list the model zoo").set_defaults(func=_cmd_models)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except HwflowError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except MemoryError:
        print("error: out of memory; a failed build is kept as <out>.partial: retry with fewer check images "
              "(--verify-images 200) or on a machine with more RAM", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
