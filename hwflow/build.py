"""The build recipe: QONNX model -> verified, folded, simulated RTL and a report.

One list of named steps, each followed by a check against the stage before it.
Tests and the CLI both call `build()`; nothing else knows the order of steps.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import numpy as np

from hwflow import export
from hwflow.boards import Board, get_board
from hwflow.dataflow import Dataflow, lower
from hwflow.errors import HwflowError
from hwflow.fold import apply_folding_file, fold_for_board, fold_to_fps, folding_json
from hwflow.streamline import streamline

# package data, so an installed hwflow (not only a checkout) has it
DEFAULT_MODEL = Path(str(files("hwflow") / "models" / "tfc-w1a1-digits" / "model.onnx"))
RTL_NOT_SIMULATED = ("the Verilog RTL that Yosys, the Vivado project and the deployment package use "
                     "was not simulated (--no-rtlsim)")
FLOAT_TOL = 1e-5  # relative to the output's size (at least 1): float32 rounding, not a wrong level
# what each check ran: a check covers one artefact, and only the RTL is what Yosys, Vivado and deploy use
CHECK_ARTEFACTS = {
    "streamline_vs_qonnx": "streamlined ONNX graph (streamlined.onnx)",
    "dataflow_vs_qonnx": "dataflow layers (numpy model, dataflow.json)",
    "cppsim_vs_dataflow": "HLS C++ (hls/), g++ C-simulation",
    "rtlsim_vs_dataflow": "Verilog RTL (rtl/), Verilator",
    "rtlsim_vs_qonnx": "Verilog RTL (rtl/), Verilator, with the numpy head and tail, against the QONNX model",
}


def float_error(got: np.ndarray, want: np.ndarray) -> float:
    """The largest difference, each relative to its reference value's magnitude (at least 1):
    the same float ops in another order leave ~1e-7 of a large logit, a wrong level far more."""
    return float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want)), initial=0.0))


@dataclass
class BuildOptions:
    board: str = "Pynq-Z1"
    target_fps: float | str | None = None  # images/s, or "max": the fastest folding within the budget below
    folding: Path | None = None
    lut_budget: float = 0.85       # --target-fps max: shares of the board's LUTs and BRAM18 the design may use
    bram_budget: float = 0.9
    verify_images: int = 1000      # random inputs for the graph-level and rtlsim checks
    rtlsim: bool = True
    stall_seed: int = 1
    clock_mhz: float | None = None
    synth: str = "top"             # Yosys: "top", "layers" (each layer and the top) or "none"
    backend: str = "rtl"           # "rtl" (Verilog) or "hls" (HLS C++ checked by g++ C-sim, and the Verilog too)
    board_files: Path | None = None  # Vivado board files to search (Pynq-Z1/Z2 ones are not shipped with Vivado)


@dataclass
class BuildResult:
    out: Path
    dataflow: Dataflow
    report: dict
    steps: dict = field(default_factory=dict)


class Progress:
    """One line per step on stderr, with its time."""

    def __init__(self, total: int, quiet: bool = False):
        self.total, self.i, self.quiet, self.times = total, 0, quiet, {}

    def step(self, name: str):
        progress = self

        class _Step:
            def __enter__(self):
                progress.i += 1
                self.t0 = time.perf_counter()
                if not progress.quiet:
                    print(f"[{progress.i}/{progress.total}] {name} ...", file=sys.stderr, flush=True)

            def __exit__(self, *exc):
                progress.times[name] = round(time.perf_counter() - self.t0, 3)
                if not progress.quiet and exc[0] is None:
                    print(f"      {name}: done in {progress.times[name]:.1f} s", file=sys.stderr, flush=True)
        return _Step()

    def warn(self, msg: str) -> None:
        if not self.quiet:
            print(f"      warning: {msg}", file=sys.stderr, flush=True)


def _random_inputs(shape: tuple, n: int, seed: int) -> np.ndarray:
    """Images in [0, 1] as training feeds them, plus a few exact 0s, 0.5s and 1s to hit ties."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, *shape), dtype=np.float32)
    ties = rng.random(x.shape) < 0.05
    x[ties] = rng.choice(np.array([0.0, 0.5, 1.0], dtype=np.float32), size=int(ties.sum()))
    return x


def build(model_path: Path | None, out: Path, opts: BuildOptions = BuildOptions(), quiet: bool = False) -> BuildResult:
    board = get_board(opts.board)
    clock = opts.clock_mhz or board.clock_mhz
    model_path = Path(model_path) if model_path else _default_model()
    if opts.synth not in ("top", "layers", "none"):
        raise HwflowError(f"--synth must be top, layers or none, not '{opts.synth}'")
    if opts.backend not in ("rtl", "hls"):
        raise HwflowError(f"--backend must be rtl or hls, not '{opts.backend}'")
    # load, streamline, lower, fold; HLS; rtlsim (2) or generate RTL; Yosys; Vivado, deploy
    n_steps = 4 + (opts.backend == "hls") + (2 if opts.rtlsim else 1) + (opts.synth != "none") + 2
    progress = Progress(n_steps, quiet)
    out = Path(out)
    failed = out.with_name(out.name + ".partial")
    for old in (out, failed):
        shutil.rmtree(old, ignore_errors=True)
    out.mkdir(parents=True)
    try:
        report, df = _run_steps(model_path, out, board, clock, opts, progress)
    except BaseException:
        # a failed build keeps its evidence under another name, never as `out`
        out.rename(failed)
        raise
    return BuildResult(out, df, report, progress.times)


def _run_steps(model_path: Path, out: Path, board: Board, clock: float, opts: BuildOptions, progress: Progress):
    verified = {}

    with progress.step("load and tidy the QONNX model"):
        model = export.load_qonnx(model_path)
    x = _random_inputs(tuple(model.get_tensor_shape(model.graph.input[0].name))[1:], opts.verify_images, 0)
    with progress.step("streamline (thresholds, XNOR-popcount) and check against the QONNX model"):
        golden = export.run_qonnx(model, x)
        slim = streamline(model)
        slim.save(str(out / "streamlined.onnx"))
        got = export.run_qonnx(slim, x, sanitize=False)  # exact by construction, checked here
        err = float_error(got, golden)
        if err > FLOAT_TOL:
            raise HwflowError(f"streamlined graph differs from the QONNX model by {err:g} (relative): please report this bug")
        verified["streamline_vs_qonnx"] = True
    with progress.step("lower to dataflow layers and check against the QONNX model"):
        df = lower(slim)
        bits = df.run_head(x)
        ints = df.execute_hw(bits)
        err = float_error(df.run_tail(ints), golden)
        if err > FLOAT_TOL:
            raise HwflowError(f"dataflow layers differ from the QONNX model by {err:g} (relative): please report this bug")
        verified["dataflow_vs_qonnx"] = True
    top_synth, synth_failed = None, None
    with progress.step("fold" + (" (the fastest within the budget, checked by Yosys)" if _max(opts) and
                                  opts.synth != "none" else "")):
        if opts.folding:
            apply_folding_file(df, Path(opts.folding))
            how = f"file {opts.folding}"
        elif _max(opts):
            how, top_synth, synth_failed = _fold_max(df, out, board, opts, progress)
        elif opts.target_fps:
            fold_to_fps(df, opts.target_fps, clock)
            how = f"target {opts.target_fps:g} images/s"
        else:
            target, limit = fold_for_board(df, board)
            how = f"board default (target {target} cycles/image; faster is stopped by {limit})"
        df.net.check()
        _fits_estimate(df, board)
        df.save(out)
        (out / "folding.json").write_text(json.dumps(folding_json(df), indent=1))
    hls_synthesis = _hls_steps(df, out, bits, progress, verified) if opts.backend == "hls" else None
    # every backend delivers the Verilog RTL (Yosys, Vivado and deploy use it), so it is simulated for both
    sim, layer_cycles = _rtl_steps(df, out, bits, ints, golden, opts, progress, verified)
    report = make_report(model_path, board, clock, df, sim, verified, progress.times, how, layer_cycles,
                         opts.backend)
    if hls_synthesis:
        report["hls_synthesis"] = hls_synthesis
    (out / "report.json").write_text(json.dumps(report, indent=1))
    if synth_failed:  # the folding step's Yosys run stopped without a result: a second would too
        report["synth_failed"] = synth_failed
    elif opts.synth != "none":
        with progress.step(f"synthesize with Yosys ({'each layer and ' if opts.synth == 'layers' else ''}the top)"):
            _synth_step(out, board, report, opts.synth, progress, top_synth)
    _board_steps(out, board, clock, opts, report, progress)
    report["step_seconds"] = progress.times
    # rewritten last: a report.json with "finished": true marks a finished build
    report["finished"] = True
    (out / "report.json").write_text(json.dumps(report, indent=1))
    from hwflow.report import write_human_report
    write_human_report(out, report)
    return report, df


def _rtl_steps(df: Dataflow, out: Path, bits: np.ndarray, ints: np.ndarray, golden: np.ndarray,
               opts: BuildOptions, progress: Progress, verified: dict):
    """The Verilog RTL in rtl/, each layer and the whole network checked in Verilator unless
    --no-rtlsim; returns the network's SimResult and the per-layer checks (None without rtlsim)."""
    from hwflow.codegen_rtl import write_rtl
    if not opts.rtlsim:
        with progress.step("generate RTL"):
            write_rtl(df.net, out / "rtl")
        return None, None
    from threadpoolctl import threadpool_limits

    from hwflow.sim import RtlSim
    from hwflow.verify import check_layers, check_network
    hw_bits = np.concatenate([bits, random_hw_inputs(df.net.first, bits.shape, opts.stall_seed)])
    sources = write_rtl(df.net, out / "rtl")
    # The simulators take the cores; BLAS threads would spin against them (measured on CNV:
    # the build's own CPU time 102 -> 42 s with one BLAS thread).  The network's simulator
    # is compiled meanwhile, filling what the per-layer runs leave idle.
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(1) as bg:
        net_sim = bg.submit(RtlSim, df.net, out / "rtl", write=False, sources=sources)
        with progress.step("rtlsim each layer alone (random stalls, then full speed; the network's "
                           "simulator compiles meanwhile)"):
            layer_cycles, want = _failing_in(out, check_layers, df.net, out / "rtl", hw_bits, opts.stall_seed)
        with progress.step(f"rtlsim the whole network on {len(hw_bits)} images (random stalls, then full speed)"):
            if want is None:  # the per-layer pass stopped short of the last images: finish them here
                want = np.concatenate([ints, df.execute_hw(hw_bits[len(bits):])])
            net = _failing_in(out, net_sim.result)  # a compile error names the kept build too
            sim = _failing_in(out, check_network, net, hw_bits, want, opts.stall_seed)
    verified["rtlsim_vs_dataflow"] = True
    verified["rtlsim_vs_qonnx"] = float_error(df.run_tail(sim.outputs[:len(bits)]), golden) <= FLOAT_TOL
    return sim, layer_cycles


def _fits_estimate(df: Dataflow, board: Board) -> None:
    """Refuse a folding whose analytic estimate already exceeds the board (synthesis only adds)."""
    from hwflow.synth import fit_check
    try:
        fit_check(df.resources(), board)
    except HwflowError as e:
        raise HwflowError(f"by the analytic estimate, {e}") from None


def _max(opts: BuildOptions) -> bool:
    return isinstance(opts.target_fps, str) and opts.target_fps.lower() == "max"


def _fold_max(df: Dataflow, out: Path, board: Board, opts: BuildOptions, progress: Progress):
    """The fastest folding within the budget by the estimate; with Yosys on, its counts must also
    keep to the budget: where they exceed it the budget shrinks by the overshoot and the search
    runs again.  Returns (how, the last Yosys result of the top or None, why Yosys stopped without
    a result or None)."""
    from hwflow.codegen_rtl import write_rtl
    from hwflow.fold import fold_max
    from hwflow.synth import YosysCrashed, synthesize_top
    lut_share, bram_share = opts.lut_budget, opts.bram_budget
    top, notes = None, ""
    for attempt in range(4):
        target, limit = fold_max(df, board, lut_share, bram_share)
        if opts.synth == "none":
            break
        write_rtl(df.net, out / "rtl")
        try:
            top = synthesize_top(out / "rtl", board.part)
        except YosysCrashed as e:
            progress.warn(f"{e}: this folding is the estimate's, not checked by Yosys")
            return (f"max within {opts.lut_budget:.0%} LUT / {opts.bram_budget:.0%} BRAM18 (target {target} "
                    f"cycles/image, not checked by Yosys: it stopped without a result; faster is stopped by {limit})",
                    None, str(e))
        over = max(top["lut"] / (opts.lut_budget * board.lut), top["bram18"] / (opts.bram_budget * board.bram18))
        if not progress.quiet:
            print(f"      {df.cycles():,} cycles/image: Yosys {top['lut']:,} LUT, {top['bram18']} BRAM18 "
                  f"({top['lut'] / board.lut:.0%} / {top['bram18'] / board.bram18:.0%} of {board.name})",
                  file=sys.stderr)
        if over <= 1:
            notes = f", Yosys {top['lut']:,} LUT" + (f" after {attempt} re-fold(s)" if attempt else "")
            break
        # the estimate undercounts this design by the overshoot: ask it for that much less
        lut_share, bram_share = lut_share / over * 0.98, bram_share / over * 0.98
    else:
        raise HwflowError(f"--target-fps max: Yosys counts stay over the budget ({opts.lut_budget:.0%} LUT, "
                          f"{opts.bram_budget:.0%} BRAM) after 4 foldings: pass a larger budget or --folding")
    how = (f"max within {opts.lut_budget:.0%} LUT / {opts.bram_budget:.0%} BRAM18 (target {target} "
           f"cycles/image{notes}; faster is stopped by {limit})")
    return how, top, None


def _synth_step(out: Path, board: Board, report: dict, mode: str, progress: Progress,
                top: dict | None = None) -> None:
    """Yosys counts for the top (and each layer), then the fit check against the board.
    `top`: a Yosys result of this same top from the folding step, reused."""
    from hwflow.synth import YosysCrashed, family_for_part, fit_check, synthesize_layers, synthesize_top
    family = family_for_part(board.part)
    try:
        if mode == "layers":
            rows = synthesize_layers(out, family=family)
            top = rows.pop()
            for lay, row in zip(report["layers"], rows):
                lay["synth"] = {k: row[k] for k in ("lut", "ff", "bram18", "dsp", "depth")}
        elif top is None:
            top = synthesize_top(out / "rtl", board.part)
    except YosysCrashed as e:
        # the design is whole; only the counts are missing, and the report says so
        report["synth_failed"] = str(e)
        progress.warn(f"{e}: no Yosys counts, the fit check used the estimate")
        return
    counts = {k: top[k] for k in ("lut", "ff", "bram18", "dsp", "carry")}
    report["resources_synth"] = {**counts, "depth": top.get("depth"), "tool": "yosys synth_xilinx",
                                 "family": family, "seconds": top["seconds"], "fits": True}
    fit_check(counts, board)


def _board_steps(out: Path, board: Board, clock: float, opts: BuildOptions, report: dict,
                 progress: Progress) -> None:
    """The Vivado project (run when Vivado is installed) and the PYNQ deployment package."""
    from hwflow.deploy import write_deploy
    from hwflow.vivado import read_timing, run_vivado, timing_summary, write_vivado_project
    with progress.step("Vivado project (bitstream when Vivado is installed)"):
        write_vivado_project(out, board, board_files=opts.board_files, clock_mhz=clock)
        built = run_vivado(out)
        report["bitstream"] = str(out / "deploy" / "hwflow.bit") if built else None
        timing = read_timing(out) if built else None
        report["timing"] = {**(timing or {}), "summary": timing_summary(timing)}
        if not built and not progress.quiet:
            print(f"      Vivado not found: the project is in {out / 'vivado'}; make the bitstream with "
                  f"`{out / 'vivado' / 'run.sh'}` where Vivado is installed", file=sys.stderr)
    with progress.step("PYNQ deployment package"):
        write_deploy(out)
        report["deploy"] = str(out / "deploy.zip")


def _hls_steps(df: Dataflow, out: Path, bits: np.ndarray, progress: Progress, verified: dict) -> str:
    """HLS C++ for every layer and the network, checked by g++ C-simulation; Vitis HLS when
    installed. Returns what became of the HLS synthesis, for the report."""
    import shutil as _shutil
    import subprocess

    from hwflow.cppsim import CppSim
    with progress.step(f"HLS C++ and its C-simulation on {len(bits)} images"):
        csim = CppSim(df.net, out / "hls")
        _expect_equal(csim.run(bits), df.execute_hw(bits), "the HLS C-simulation", out)
        verified["cppsim_vs_dataflow"] = True
        if _shutil.which("vitis_hls"):
            r = subprocess.run(["vitis_hls", "-f", "hwflow_top.tcl"], cwd=out / "hls", capture_output=True, text=True)
            if r.returncode != 0:
                raise HwflowError(f"Vitis HLS failed (exit {r.returncode}); see {out / 'hls'}")
            return "done: vitis_hls -f hwflow_top.tcl in hls/"
        if not progress.quiet:
            print(f"      Vitis HLS not found: the HLS project is in {out / 'hls'}; synthesize it with "
                  f"`cd {out / 'hls'} && vitis_hls -f hwflow_top.tcl` where Vitis is installed", file=sys.stderr)
        return "not run: vitis_hls not on PATH"


def random_hw_inputs(first, shape, seed: int) -> np.ndarray:
    """Uniformly random hardware inputs over the whole range of the first layer's input encoding."""
    rng = np.random.default_rng(seed)
    t = first.in_type
    lo, hi = (-(1 << (t.elem_bits - 1)), 1 << (t.elem_bits - 1)) if t.signed else (0, 1 << t.elem_bits)
    return rng.integers(lo, hi, shape)


def _expect_equal(got: np.ndarray, want: np.ndarray, what: str, out: Path) -> None:
    if not np.array_equal(got, want):
        from hwflow.verify import first_mismatch
        raise HwflowError(f"rtlsim of {what} differs from the dataflow model, {first_mismatch(got, want)}; "
                          f"the build is kept in {out.with_name(out.name + '.partial')}")


def _failing_in(out: Path, check, *args):
    """Run a check; its error says where the failed build is kept."""
    try:
        return check(*args)
    except HwflowError as e:
        raise HwflowError(f"{e}; the build is kept in {out.with_name(out.name + '.partial')}") from None


def _default_model() -> Path:
    if not DEFAULT_MODEL.exists():
        raise HwflowError(f"no model given and the default model {DEFAULT_MODEL} is missing: pass MODEL.onnx, "
                          "or make one with `python -m hwflow train --model tfc-w1a1 --dataset digits --out runs/tfc`")
    return DEFAULT_MODEL


def make_report(model_path: Path, board: Board, clock: float, df: Dataflow, sim, verified: dict,
                times: dict, folding: str, layer_cycles: list | None = None, backend: str = "rtl") -> dict:
    est = df.cycles()
    res = df.resources()
    layers = []
    for i, layer in enumerate(df.layers):
        check = layer_cycles[i] if layer_cycles else None
        layers.append({**layer.to_json(), "shape": layer.describe(), "in_stream": layer.in_type.to_json(),
                       "out_stream": layer.out_type.to_json(), "in_width": layer.in_width, "out_width": layer.out_width,
                       "est_cycles": layer.cycles(), "sim_cycles": check.cycles_per_image if check else None,
                       "check_images": check.images if check else None,
                       **{f"est_{k}": v for k, v in layer.resources().items()}})
    net = {"est_cycles_per_image": est, "est_images_per_s": clock * 1e6 / est}
    if sim is not None:
        net.update({"sim_cycles_per_image": sim.cycles_per_image, "sim_latency_cycles": sim.latency_cycles,
                    "images_per_s": clock * 1e6 / sim.cycles_per_image,
                    "latency_us": sim.latency_cycles / clock, "rtlsim_cycles_per_s": sim.sim_rate,
                    "est_vs_sim": est / sim.cycles_per_image})
    fits = all(res[k] <= cap for k, cap in (("lut", board.lut), ("ff", board.ff), ("bram18", board.bram18)))
    rtl_simulated = "rtlsim_vs_dataflow" in verified
    return {
        "model": str(model_path), "board": board.name, "part": board.part, "clock_mhz": clock,
        "folding": folding, "layers": layers, "network": net,
        "resources_estimate": {**res, "board_lut": board.lut, "board_ff": board.ff,
                               "board_bram18": board.bram18, "fits": fits},
        "backend": backend,
        # verified only if the RTL that is delivered was simulated, whatever else was checked
        "verified": bool(verified) and all(verified.values()) and rtl_simulated,
        "checks": verified, "check_artefacts": {k: CHECK_ARTEFACTS[k] for k in verified},
        "delivered": {"artefact": "rtl", "path": "rtl/", "used_by": ["Yosys", "Vivado project", "deploy package"],
                      "simulated": rtl_simulated},
        "step_seconds": times,
    }


def summary(report: dict) -> str:
    """The report as a few readable lines for the terminal."""
    net, res = report["network"], report["resources_estimate"]
    rows = [f"{'layer':8} {'kind':7} {'shape':>18} {'PE':>4} {'SIMD':>4} {'cycles':>7} {'(sim)':>7} "
            f"{'LUT':>7} {'BRAM18':>6}"]
    for lay in report["layers"]:
        simc = f"{lay['sim_cycles']:.0f}" if lay.get("sim_cycles") else "-"
        rows.append(f"{lay['name']:8} {lay['kind']:7} {_shape(lay):>18} {lay.get('pe', '-'):>4} "
                    f"{lay.get('simd', '-'):>4} {lay['est_cycles']:>7} {simc:>7} {lay['est_lut']:>7} "
                    f"{lay['est_bram18']:>6}")
    rows.append(f"board {report['board']} ({report['part']}) at {report['clock_mhz']:g} MHz, folding: "
                f"{report['folding']}")
    rows.append(f"estimated: {net['est_cycles_per_image']} cycles/image = {net['est_images_per_s']:,.0f} images/s; "
                f"LUT {res['lut']:,}/{res['board_lut']:,}, BRAM18 {res['bram18']}/{res['board_bram18']} "
                f"({'fits' if res['fits'] else 'DOES NOT FIT'})")
    if "sim_cycles_per_image" in net:
        rows.append(f"rtlsim:    {net['sim_cycles_per_image']:.1f} cycles/image = {net['images_per_s']:,.0f} "
                    f"images/s, latency {net['sim_latency_cycles']} cycles = {net['latency_us']:.2f} us, "
                    f"simulated at {net['rtlsim_cycles_per_s'] / 1e6:.1f} M cycles/s")
    syn = report.get("resources_synth")
    if report.get("synth_failed"):
        rows.append(f"yosys:     no counts: {report['synth_failed']}")
    if syn:
        rows.append(f"yosys:     LUT {syn['lut']:,}/{res['board_lut']:,}, FF {syn['ff']:,}/{res['board_ff']:,}, "
                    f"BRAM18 {syn['bram18']}/{res['board_bram18']}, DSP {syn['dsp']} (fits; {syn['seconds']:.0f} s)"
                    + (f"; logic depth {syn['depth']} cells between registers" if syn.get("depth") else ""))
    rows.append(f"bitstream: {report['bitstream']}" if report.get("bitstream") else
                "bitstream: not built (no Vivado here); project in vivado/, run vivado/run.sh")
    rows.append("verified bit-exact: " + ", ".join(f"{k}={'yes' if v else 'NO'}" for k, v in report["checks"].items()))
    if not report.get("delivered", {}).get("simulated", True):
        rows.append("NOT VERIFIED: " + RTL_NOT_SIMULATED)
    return "\n".join(rows)


def _shape(lay: dict) -> str:
    return lay.get("shape", lay["kind"])
