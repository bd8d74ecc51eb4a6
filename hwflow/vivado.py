"""The Vivado project for a build: byte-aligned AXI-Stream wrapper, IP packaging, block design, bitstream.

Everything is written as files plus TCL (no tool needed to produce them); `run_vivado`
executes them when `vivado` is on PATH.  Layout of `build_dir/vivado/`:

    src/hwflow_accel.v      the IP's top: the network inside hwflow_axis_dma (DMA widths, TKEEP, TLAST)
    src/*.v, src/*.mem      the build's RTL, hwflow_axis_dma.v, weight/threshold ROM files
    settings.tcl            this build's values: part, board part, PS type, PL clock, stream widths
    common.tcl              helpers the scripts share
    package_ip.tcl          RTL -> IP (hwflow.org:hwflow:hwflow_accel:1.0); .mem files in its file groups
    block_design.tcl        Zynq PS + AXI DMA + the IP + proc_sys_reset, PL clock from the PS
    build_bitstream.tcl     synth, impl, bitstream, timing check -> timing.json; .bit/.hwh to build_dir/deploy/
    build.tcl               sources the three in order (the one command)
    run.sh                  `vivado -mode batch -source build.tcl` (arguments go to -tclargs)

The TCL other than settings.tcl is fixed text, shipped in hwflow/vivado_templates/.

Board files.  Vivado does not ship the PYNQ-Z1/Z2 board files, and usually not those of Ultra96-V2
or KV260.  block_design.tcl adds to Vivado's board repository paths (`board.repoPaths`), on the
machine that runs Vivado:
  1. the folder given as `write_vivado_project(..., board_files=DIR)` (`hwflow build --board-files DIR`);
  2. `~/.config/hwflow/board_files` (BOARD_FILES_HOME), the per-user default: unpack board files there once.
It then looks the board part up with `get_board_parts`.  Without it, a Zynq-7000 board with known PS
settings (Board.ps_presets) falls back to the bare part; any other board stops with an error that
says where to get its files (Board.board_files_source).

Timing.  After implementation build_bitstream.tcl writes vivado/timing.json (worst setup/hold
slack, requested and actual PL clock) and stops on negative slack unless allowed; `read_timing`
reads it back for the report (None: Vivado has not run).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from hwflow.boards import Board, get_board
from hwflow.errors import HwflowError

BD_NAME = "hwflow_bd"
IP_VLNV = "hwflow.org:hwflow:hwflow_accel:1.0"
# the hand-written core between the network and AXI DMA (widths, TKEEP, TLAST); not a layer's core
SHELL_CORE = "hwflow_axis_dma.v"
# Xilinx AXI DMA takes stream widths of 8, 16, ..., 1024 bits only
DMA_WIDTHS = (8, 16, 32, 64, 128, 256, 512, 1024)
# the per-user board-files folder block_design.tcl also searches (on the machine that runs Vivado)
BOARD_FILES_HOME = "~/.config/hwflow/board_files"
TEMPLATES = ("common.tcl", "package_ip.tcl", "block_design.tcl", "build_bitstream.tcl", "build.tcl")
# the PL clock Vivado's PS IP constrains: FCLK_CLK0 is clk_fpga_0 (PS7), pl_clk0 is clk_pl_0 (PS8)
PL_CLOCK = {"ps7": "clk_fpga_0", "ps8": "clk_pl_0"}
# the DMA's narrowest memory-map width: PS7's HP port width (the interconnect converts to PS8's 128)
HP_PORT_WIDTH = 64


def shell_core_path() -> Path:
    """The packaged hwflow_axis_dma.v."""
    return Path(str(resources.files("hwflow") / "rtl" / SHELL_CORE))


def padded_width(bits: int) -> int:
    """The byte-aligned stream width the wrapper presents: the smallest AXI DMA width that holds `bits`.

    A multiple of 8 alone (e.g. 56) is not a width AXI DMA accepts, so we round up to the
    next power of two >= 8; the data sits in the low bits and the padding is zero/ignored.
    """
    for w in DMA_WIDTHS:
        if bits <= w:
            return w
    raise HwflowError(f"a {bits}-bit stream is wider than AXI DMA's 1024 bits: fold the first/last layer more "
                      "(smaller SIMD on the first layer, smaller PE on the last)")


def stream_config(build_dir: Path) -> dict:
    """Stream geometry of a build, as the wrapper, the TCL and the host driver all need it."""
    from hwflow.dataflow import Dataflow
    df = Dataflow.load(Path(build_dir))
    first, last = df.net.first, df.net.last
    return {
        "in_width": first.in_width, "in_width_padded": padded_width(first.in_width),
        "in_elems": first.in_elems, "in_elem_bits": first.in_elem_bits, "in_elems_per_beat": first.in_epb,
        "in_beats_per_image": first.in_beats,
        "out_width": last.out_width, "out_width_padded": padded_width(last.out_width),
        "out_elems": last.out_elems, "out_elem_bits": last.out_elem_bits, "out_elems_per_beat": last.out_epb,
        "out_beats_per_image": last.out_beats, "out_signed": bool(last.out_signed),
        "input_shape": list(df.input_shape),
    }


def wrapper_verilog(cfg: dict, core: str = "hwflow_top", name: str = "hwflow_accel", depth_log2: int = 6) -> str:
    """The IP's top: the network `core` inside hwflow_axis_dma (DMA widths, TKEEP, TLAST per transfer).

    depth_log2: the shell tracks up to 2**depth_log2 images between input and output (beyond
    that the input waits), far more than a network holds unless its output is stalled.
    """
    iwp, owp = cfg["in_width_padded"], cfg["out_width_padded"]
    params = {"IN_W": cfg["in_width"], "IN_WP": iwp, "OUT_W": cfg["out_width"], "OUT_WP": owp,
              "IN_BEATS": cfg["in_beats_per_image"], "OUT_BEATS": cfg["out_beats_per_image"],
              "DEPTH_LOG2": depth_log2}
    plist = ", ".join(f".{k}({v})" for k, v in params.items())
    return f"""// {name}: generated by hwflow.  {core} between AXI DMA's two streams (hwflow_axis_dma.v):
// {cfg["in_width"]} of {iwp} input bits used, {cfg["out_width"]}-bit output zero-padded to {owp}; an output
// transfer ends (m_axis_tlast) with the last image of the input transfer (s_axis_tlast) it answers.
`default_nettype none
module {name} (
  input  wire ap_clk,
  input  wire ap_rst_n,
  input  wire [{iwp - 1}:0] s_axis_tdata,
  input  wire [{iwp // 8 - 1}:0] s_axis_tkeep,
  input  wire s_axis_tvalid,
  output wire s_axis_tready,
  input  wire s_axis_tlast,
  output wire [{owp - 1}:0] m_axis_tdata,
  output wire [{owp // 8 - 1}:0] m_axis_tkeep,
  output wire m_axis_tvalid,
  input  wire m_axis_tready,
  output wire m_axis_tlast
);
  wire [{cfg["in_width"] - 1}:0] in_tdata;
  wire [{cfg["out_width"] - 1}:0] out_tdata;
  wire in_tvalid, in_tready, out_tvalid, out_tready;
  hwflow_axis_dma #({plist}) shell (
    .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
    .s_axis_tdata(s_axis_tdata), .s_axis_tkeep(s_axis_tkeep), .s_axis_tvalid(s_axis_tvalid),
    .s_axis_tready(s_axis_tready), .s_axis_tlast(s_axis_tlast),
    .net_in_tdata(in_tdata), .net_in_tvalid(in_tvalid), .net_in_tready(in_tready),
    .net_out_tdata(out_tdata), .net_out_tvalid(out_tvalid), .net_out_tready(out_tready),
    .m_axis_tdata(m_axis_tdata), .m_axis_tkeep(m_axis_tkeep), .m_axis_tvalid(m_axis_tvalid),
    .m_axis_tready(m_axis_tready), .m_axis_tlast(m_axis_tlast)
  );
  {core} net (
    .ap_clk(ap_clk), .ap_rst_n(ap_rst_n),
    .s_axis_tdata(in_tdata), .s_axis_tvalid(in_tvalid), .s_axis_tready(in_tready),
    .m_axis_tdata(out_tdata), .m_axis_tvalid(out_tvalid), .m_axis_tready(out_tready)
`ifdef HWFLOW_SIM
    , .dbg_fifo_full()  // the generated top's simulation-only FIFO flags
`endif
  );
endmodule
`default_nettype wire
"""


def _tcl_word(value) -> str:
    """One Tcl word for settings.tcl: numbers and plain names bare, anything else in braces."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return f"{value:g}"
    text = str(value)
    if re.fullmatch(r"[\w.:/+@,-]+", text):
        return text
    if re.search(r"[{}\\]", text):
        raise HwflowError(f"cannot write {text!r} into the Vivado TCL: it contains braces or backslashes")
    return "{" + text + "}"


def settings_tcl(board: Board, cfg: dict, clock_mhz: float, board_files: Path | None = None,
                 allow_negative_slack: bool = False) -> str:
    """settings.tcl: every value the fixed scripts read, as the array `hw`."""
    presets = " ".join(f"{_tcl_word(k)} {_tcl_word(v)}" for k, v in board.ps_presets)
    values = [
        ("board", _tcl_word(board.name), ""),
        ("part", _tcl_word(board.part), ""),
        ("board_part", _tcl_word(board.board_part), "needs the board's Vivado board files"),
        ("board_files", _tcl_word(board_files or ""), "the folder given to hwflow; {}: none"),
        ("board_files_source", _tcl_word(board.board_files_source), ""),
        ("ps_presets", "{" + presets + "}", "PS CONFIG for the bare part when board files are missing; {}: none"),
        ("ps", _tcl_word(board.ps), "ps7: Zynq-7000, ps8: Zynq UltraScale+"),
        ("pl_clock", PL_CLOCK[board.ps], "the PS's PL clock as timing analysis names it"),
        ("clock_mhz", _tcl_word(float(clock_mhz)), "requested PL clock (the build's --clock-mhz)"),
        ("in_width", cfg["in_width_padded"], "MM2S stream width (bits)"),
        ("out_width", cfg["out_width_padded"], "S2MM stream width (bits)"),
        ("mm2s_mm_width", max(HP_PORT_WIDTH, cfg["in_width_padded"]), "DMA memory-map widths: >= the stream's"),
        ("s2mm_mm_width", max(HP_PORT_WIDTH, cfg["out_width_padded"]), ""),
        ("allow_negative_slack", _tcl_word(allow_negative_slack), "1: keep a bitstream that misses timing"),
    ]
    lines = ["# This build's values for the hwflow Vivado scripts (written by hwflow; the other scripts are fixed)."]
    lines += [f"set hw({key}) {word}" + (f"  ;# {note}" if note else "") for key, word, note in values]
    return "\n".join(lines) + "\n"


def write_tcl(out: Path, board: Board, cfg: dict, clock_mhz: float, board_files: Path | None = None,
              allow_negative_slack: bool = False) -> None:
    """settings.tcl for this build, the fixed scripts next to it, and run.sh."""
    out = Path(out)
    (out / "settings.tcl").write_text(settings_tcl(board, cfg, clock_mhz, board_files, allow_negative_slack))
    templates = resources.files("hwflow") / "vivado_templates"
    for name in TEMPLATES:
        (out / name).write_text((templates / name).read_text())
    run = out / "run.sh"
    run.write_text('#!/bin/sh\n# Needs Vivado on PATH (source <Vivado>/settings64.sh first).\n'
                   '# Arguments go to the TCL, e.g. ./run.sh --allow-negative-slack\nset -e\n'
                   'cd "$(dirname "$0")"\nif [ $# -gt 0 ]; then set -- -tclargs "$@"; fi\n'
                   'exec vivado -mode batch -source build.tcl -log vivado.log -journal vivado.jou "$@"\n')
    run.chmod(0o755)


def write_vivado_project(build_dir: Path, board: Board | str | None = None, board_files: Path | str | None = None,
                         clock_mhz: float | None = None, allow_negative_slack: bool = False) -> Path:
    """Write build_dir/vivado/ (wrapper, RTL copies, TCL, run.sh); returns that directory.

    board: default the build's (report.json).  clock_mhz: the PL clock the PS generates; default the
    build's clock when the board comes from report.json, else the board's.  board_files: a folder of
    Vivado board files to search (see the module docstring for the per-user default).
    """
    build_dir = Path(build_dir)
    rtl = build_dir / "rtl"
    if not (rtl / "hwflow_top.v").is_file():
        raise HwflowError(f"{build_dir} has no rtl/hwflow_top.v: run `python -m hwflow build` first")
    if board is None:
        report = json.loads((build_dir / "report.json").read_text())
        board = report["board"]
        clock_mhz = clock_mhz or report.get("clock_mhz")
    if isinstance(board, str):
        board = get_board(board)
    if board_files is not None:
        board_files = Path(board_files).expanduser().resolve()
        if not board_files.is_dir():
            raise HwflowError(f"board files folder {board_files} does not exist")
    cfg = stream_config(build_dir)
    out = build_dir / "vivado"
    src = out / "src"
    shutil.rmtree(out, ignore_errors=True)
    src.mkdir(parents=True)
    from hwflow.codegen_rtl import CORES
    for name in (*CORES, "hwflow_top.v"):
        shutil.copyfile(rtl / name, src / name)
    shutil.copyfile(shell_core_path(), src / SHELL_CORE)
    for mem in sorted(rtl.glob("*.mem")):
        shutil.copyfile(mem, src / mem.name)
    (src / "hwflow_accel.v").write_text(wrapper_verilog(cfg))
    (out / "stream.json").write_text(json.dumps(cfg, indent=1))
    write_tcl(out, board, cfg, float(clock_mhz or board.clock_mhz), board_files, allow_negative_slack)
    return out


def read_timing(build_dir: Path) -> dict | None:
    """vivado/timing.json of the last Vivado run as a dict; None when Vivado has not run (or not that far)."""
    path = Path(build_dir) / "vivado" / "timing.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise HwflowError(f"{path} is not valid JSON ({e}): rerun vivado/run.sh") from None


def timing_summary(timing: dict | None) -> str:
    """One line for the report: worst slacks and PL clock of the Vivado run, or "not run"."""
    if timing is None:
        return "not run (no Vivado implementation of this build)"
    slack = {k: "n/a" if timing.get(k) is None else f"{timing[k]:+.3f} ns" for k in ("wns_ns", "whs_ns")}
    clock = timing.get("clock_mhz_actual") or timing.get("clock_mhz_requested")
    kept = " (bitstream kept: negative slack allowed)" if timing.get("negative_slack_allowed") else ""
    verdict = "met" if timing.get("met") else "NOT met" + kept
    return f"WNS {slack['wns_ns']}, WHS {slack['whs_ns']} at {clock:g} MHz: timing {verdict}"


def run_vivado(build_dir: Path, timeout: float | None = None) -> bool:
    """Run the project's build.tcl when `vivado` is on PATH; False (nothing run) when it is not."""
    exe = shutil.which("vivado")
    if exe is None:
        return False
    out = Path(build_dir) / "vivado"
    if not (out / "build.tcl").is_file():
        write_vivado_project(Path(build_dir))
    log = out / "vivado.log"
    r = subprocess.run([exe, "-mode", "batch", "-source", "build.tcl", "-log", str(log.name),
                        "-journal", "vivado.jou"], cwd=out, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        lines = (r.stdout + r.stderr).splitlines()
        # our own checks (board files, ROM files, timing) say what to do; prefer them
        errs = ([ln for ln in lines if ln.startswith("ERROR: [hwflow]")]
                or [ln for ln in lines if ln.startswith("ERROR")])
        raise HwflowError(f"Vivado failed: {(errs or ['exit ' + str(r.returncode)])[0]} (log: {log})")
    return True
