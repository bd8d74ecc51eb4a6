"""Issue 11: the Vivado TCL runs in a real Tcl interpreter against a strict fake of every Vivado command.

No Vivado is installed here, so the scripts are executed with Python's tkinter.Tcl() and each
Vivado command is a stub that records its call and rejects unknown options, properties, objects
and pins (tables below, with their sources).  Syntax errors, undefined variables, misspelt
properties and broken control flow therefore fail these tests.  The stubs also do what the
scripts rely on: files Vivado would write (wrapper, run logs, .bit, .hwh) appear, get_board_parts
answers from a list, get_property SLACK returns the WNS a test chooses.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import tkinter
from pathlib import Path

import pytest

from hwflow import vivado
from hwflow.boards import BOARDS, get_board
from hwflow.errors import HwflowError

# ----------------------------------------------------------------------------- the tables

# Options each command takes (True: the option takes a value) and how many positional arguments.
# Source: the Syntax sections of the Vivado Design Suite Tcl Command Reference Guide (UG835) for
# each command; the ipx:: commands from UG1118 (Creating and Packaging Custom IP) and their use in
# FINN's IP packaging.  Every Vivado command also takes -quiet and -verbose (UG835).
COMMANDS: dict[str, tuple[dict[str, bool], tuple[int, int]]] = {
    "create_project": ({"-part": True, "-force": False, "-in_memory": False, "-ip": False}, (0, 2)),
    "close_project": ({"-delete": False}, (0, 0)),
    "current_project": ({}, (0, 1)),
    "current_fileset": ({"-constrset": False, "-simset": False}, (0, 1)),
    "add_files": ({"-fileset": True, "-norecurse": False, "-scan_for_includes": False, "-copy_to": True,
                   "-force": False}, (1, 1)),
    "get_files": ({"-regexp": False, "-nocase": False, "-filter": True, "-of_objects": True, "-all": False,
                   "-used_in": True, "-compile_order": True}, (0, 1)),
    "update_compile_order": ({"-fileset": True, "-force_gui": False}, (0, 0)),
    "set_property": ({"-dict": True, "-name": True, "-value": True, "-objects": True}, (1, 3)),
    "get_property": ({"-min": False, "-max": False, "-object": True}, (2, 2)),
    "set_param": ({}, (2, 2)),
    "get_param": ({}, (1, 1)),
    "set_msg_config": ({"-id": True, "-string": True, "-severity": True, "-limit": True, "-new_severity": True,
                        "-suppress": False, "-regexp": False}, (0, 0)),
    "get_board_parts": ({"-regexp": False, "-nocase": False, "-latest_file_version": False,
                         "-latest_hw_revision": False, "-filter": True}, (0, 1)),
    "update_ip_catalog": ({"-rebuild": False, "-scan_changes": False, "-repo_path": True}, (0, 0)),
    "ipx::package_project": ({"-root_dir": True, "-vendor": True, "-library": True, "-name": True,
                              "-version": True, "-taxonomy": True, "-import_files": False, "-set_current": True,
                              "-force": False, "-module": True, "-generated_files": False}, (0, 0)),
    "ipx::current_core": ({}, (0, 1)),
    "ipx::infer_bus_interfaces": ({}, (2, 2)),
    "ipx::associate_bus_interfaces": ({"-busif": True, "-clock": True, "-reset": True, "-remove": False}, (1, 1)),
    "ipx::get_bus_interfaces": ({"-of_objects": True, "-filter": True, "-regexp": False, "-nocase": False},
                                (0, 1)),
    "ipx::get_bus_parameters": ({"-of_objects": True, "-filter": True, "-regexp": False, "-nocase": False},
                                (0, 1)),
    "ipx::add_bus_parameter": ({}, (2, 2)),
    "ipx::get_file_groups": ({"-of_objects": True, "-filter": True, "-regexp": False, "-nocase": False}, (0, 1)),
    "ipx::get_files": ({"-of_objects": True, "-filter": True, "-regexp": False, "-nocase": False}, (0, 1)),
    "ipx::add_file": ({}, (2, 2)),
    "ipx::remove_file": ({}, (2, 2)),
    "ipx::create_xgui_files": ({}, (1, 1)),
    "ipx::update_checksums": ({}, (1, 1)),
    "ipx::check_integrity": ({"-quiet": False, "-xrules_only": False}, (1, 1)),
    "ipx::save_core": ({}, (1, 1)),
    "create_bd_design": ({"-dir": True, "-bdsource": True, "-cell": True, "-mode": True}, (1, 1)),
    "create_bd_cell": ({"-type": True, "-vlnv": True, "-reference": True}, (1, 1)),
    "get_bd_cells": ({"-of_objects": True, "-hierarchical": False, "-filter": True}, (0, 1)),
    "get_bd_pins": ({"-of_objects": True, "-hierarchical": False, "-filter": True}, (0, 1)),
    "get_bd_intf_pins": ({"-of_objects": True, "-hierarchical": False, "-filter": True}, (0, 1)),
    "apply_bd_automation": ({"-rule": True, "-config": True, "-dict": True, "-opts": True}, (1, 1)),
    "connect_bd_net": ({"-net": True, "-boundary_type": True}, (2, 99)),
    "connect_bd_intf_net": ({"-intf_net": True, "-boundary_type": True}, (2, 2)),
    "assign_bd_address": ({"-target_address_space": True, "-offset": True, "-range": True,
                           "-export_to_file": True, "-import_from_file": True}, (0, 1)),
    "validate_bd_design": ({"-force": False, "-design": True}, (0, 0)),
    "save_bd_design": ({}, (0, 1)),
    "make_wrapper": ({"-files": True, "-top": False, "-testbench": False, "-inst_template": False,
                      "-fileset": True, "-import": False}, (0, 0)),
    "launch_runs": ({"-jobs": True, "-to_step": True, "-next_step": False, "-scripts_only": False,
                     "-host": True, "-remote_cmd": True, "-email_to": True, "-pre_launch_script": True,
                     "-post_launch_script": True, "-lsf": True, "-dir": True, "-force": False}, (1, 1)),
    "wait_on_run": ({"-timeout": True}, (1, 1)),
    "get_runs": ({"-regexp": False, "-nocase": False, "-filter": True, "-of_objects": True}, (0, 1)),
    "open_run": ({"-name": True, "-pr_config": True}, (1, 1)),
    "report_timing_summary": ({"-file": True, "-max_paths": True, "-delay_type": True, "-append": False,
                               "-report_unconstrained": False, "-warn_on_violation": False, "-no_header": False,
                               "-return_string": False, "-nworst": True}, (0, 0)),
    "get_timing_paths": ({"-delay_type": True, "-setup": False, "-hold": False, "-max_paths": True,
                          "-nworst": True, "-from": True, "-to": True, "-through": True, "-group": True,
                          "-unique_pins": False, "-sort_by": True, "-filter": True}, (0, 0)),
    "get_clocks": ({"-regexp": False, "-nocase": False, "-filter": True, "-of_objects": True,
                    "-include_generated_clocks": False}, (0, 1)),
    "version": ({"-short": False}, (0, 0)),
}

# Properties by object kind (lower case: Vivado's property names are case-insensitive).  Sources:
# UG835 (project, fileset, file, run, timing path and clock objects), UG1118 (ipx objects).
PROPERTIES = {
    "project": {"board_part", "ip_repo_paths", "board_part_repo_paths"},
    "fileset": {"top"},
    "file": {"file_type", "synth_checkpoint_mode"},
    "ipxcore": {"name", "version", "display_name", "description", "vendor", "library", "taxonomy"},
    "ipxbusparam": {"value"},
    "ipxfile": {"type"},
    "run": {"progress", "status", "stats.wns", "stats.whs"},
    "timingpath": {"slack"},
    "clock": {"period"},
}
READ_ONLY = {"run", "timingpath", "clock"}
VALUES = {
    ("file", "file_type"): {"Verilog", "SystemVerilog", "Memory File", "Memory Initialization Files", "XDC"},
    ("file", "synth_checkpoint_mode"): {"None", "Singular", "Hierarchical"},
    ("ipxfile", "type"): {"verilogSource", "systemVerilogSource", "mif", "xdc", "tclSource"},
    ("ipxbusparam", "value"): {"ACTIVE_LOW", "ACTIVE_HIGH"},
}

# Block-design IPs: CONFIG parameters the scripts may set (with a check of the value) and pins.
# Sources: the IPs' product guides (PG082 processing_system7, PG201 zynq_ultra_ps_e, PG021 axi_dma,
# PG059 axi_interconnect, PG164 proc_sys_reset), TUL's PYNQ-Z2 preset.xml for the PCW_* names,
# FINN's Zynq shell (templates.py) for the PSU__* names.  A pin given as (param, value) exists only
# once that CONFIG parameter has that value.
_bool = {"0", "1"}.__contains__


def _positive(v):
    return re.fullmatch(r"\d+(\.\d+)?", v) is not None and float(v) > 0


def _one_of(*vals):
    return {str(v) for v in vals}.__contains__


_STREAM = _one_of(8, 16, 32, 64, 128, 256, 512, 1024)
_MM = _one_of(32, 64, 128, 256, 512, 1024)
_PS7_USE_GP0, _PS7_USE_HP0 = ("CONFIG.PCW_USE_M_AXI_GP0", "1"), ("CONFIG.PCW_USE_S_AXI_HP0", "1")
_PS8_USE_HPM0, _PS8_USE_HP0 = ("CONFIG.PSU__USE__M_AXI_GP0", "1"), ("CONFIG.PSU__USE__S_AXI_GP2", "1")
IPS = {
    "processing_system7": {
        "config": {"CONFIG.PCW_USE_M_AXI_GP0": _bool, "CONFIG.PCW_USE_S_AXI_HP0": _bool,
                   "CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ": _positive,
                   "CONFIG.PCW_CRYSTAL_PERIPHERAL_FREQMHZ": _positive,
                   "CONFIG.PCW_PRESET_BANK0_VOLTAGE": _one_of("LVCMOS 3.3V", "LVCMOS 2.5V", "LVCMOS 1.8V"),
                   "CONFIG.PCW_PRESET_BANK1_VOLTAGE": _one_of("LVCMOS 3.3V", "LVCMOS 2.5V", "LVCMOS 1.8V"),
                   "CONFIG.PCW_UIPARAM_DDR_MEMORY_TYPE": _one_of("DDR 3", "DDR 3 (Low Voltage)", "DDR 2", "LPDDR 2"),
                   "CONFIG.PCW_UIPARAM_DDR_PARTNO": lambda v: v.startswith("MT41"),
                   "CONFIG.PCW_UIPARAM_DDR_BUS_WIDTH": _one_of("16 Bit", "32 Bit")},
        "defaults": {"CONFIG.PCW_USE_M_AXI_GP0": "0", "CONFIG.PCW_USE_S_AXI_HP0": "0"},
        "pins": {"FCLK_CLK0": None, "FCLK_RESET0_N": None, "M_AXI_GP0_ACLK": _PS7_USE_GP0,
                 "S_AXI_HP0_ACLK": _PS7_USE_HP0},
        "intf": {"DDR": None, "FIXED_IO": None, "M_AXI_GP0": _PS7_USE_GP0, "S_AXI_HP0": _PS7_USE_HP0},
        "clock_out": "FCLK_CLK0",
    },
    "zynq_ultra_ps_e": {
        "config": {"CONFIG.PSU__USE__M_AXI_GP0": _bool, "CONFIG.PSU__USE__M_AXI_GP1": _bool,
                   "CONFIG.PSU__USE__S_AXI_GP2": _bool, "CONFIG.PSU__OVERRIDE__BASIC_CLOCK": _bool,
                   "CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ": _positive},
        "defaults": {"CONFIG.PSU__USE__M_AXI_GP0": "0", "CONFIG.PSU__USE__S_AXI_GP2": "0"},
        "pins": {"pl_clk0": None, "pl_resetn0": None, "maxihpm0_fpd_aclk": _PS8_USE_HPM0,
                 "saxihp0_fpd_aclk": _PS8_USE_HP0},
        "intf": {"M_AXI_HPM0_FPD": _PS8_USE_HPM0, "S_AXI_HP0_FPD": _PS8_USE_HP0},
        "clock_out": "pl_clk0",
    },
    "axi_dma": {
        "config": {"CONFIG.c_include_sg": _bool, "CONFIG.c_sg_include_stscntrl_strm": _bool,
                   "CONFIG.c_sg_length_width": lambda v: v.isdigit() and 8 <= int(v) <= 26,
                   "CONFIG.c_m_axis_mm2s_tdata_width": _STREAM, "CONFIG.c_s_axis_s2mm_tdata_width": _STREAM,
                   "CONFIG.c_m_axi_mm2s_data_width": _MM, "CONFIG.c_m_axi_s2mm_data_width": _MM,
                   "CONFIG.c_mm2s_burst_size": _one_of(2, 4, 8, 16, 32, 64, 128, 256),
                   "CONFIG.c_s2mm_burst_size": _one_of(2, 4, 8, 16, 32, 64, 128, 256),
                   "CONFIG.c_include_mm2s": _bool, "CONFIG.c_include_s2mm": _bool},
        "defaults": {"CONFIG.c_m_axi_mm2s_data_width": "32", "CONFIG.c_m_axi_s2mm_data_width": "32",
                     "CONFIG.c_m_axis_mm2s_tdata_width": "32", "CONFIG.c_s_axis_s2mm_tdata_width": "32"},
        "pins": {"s_axi_lite_aclk": None, "m_axi_mm2s_aclk": None, "m_axi_s2mm_aclk": None, "axi_resetn": None,
                 "mm2s_introut": None, "s2mm_introut": None},
        "intf": {"S_AXI_LITE": None, "M_AXI_MM2S": None, "M_AXI_S2MM": None, "M_AXIS_MM2S": None,
                 "S_AXIS_S2MM": None},
    },
    "axi_interconnect": {
        "config": {"CONFIG.NUM_SI": lambda v: v.isdigit() and 1 <= int(v) <= 16,
                   "CONFIG.NUM_MI": lambda v: v.isdigit() and 1 <= int(v) <= 64},
        "defaults": {"CONFIG.NUM_SI": "1", "CONFIG.NUM_MI": "2"},
        "pins": {"ACLK": None, "ARESETN": None}, "intf": {},   # + Sxx_/Mxx_ per NUM_SI/NUM_MI, below
    },
    "proc_sys_reset": {
        "config": {}, "defaults": {}, "intf": {},
        "pins": {p: None for p in ("slowest_sync_clk", "ext_reset_in", "aux_reset_in", "mb_debug_sys_rst",
                                   "dcm_locked", "mb_reset", "bus_struct_reset", "peripheral_reset",
                                   "interconnect_aresetn", "peripheral_aresetn")},
    },
    "hwflow_accel": {   # our IP: the ports of vivado.wrapper_verilog
        "config": {}, "defaults": {}, "pins": {"ap_clk": None, "ap_rst_n": None},
        "intf": {"s_axis": None, "m_axis": None},
    },
}
# apply_bd_automation rules and their -config keys (UG994, Designing IP Subsystems Using IP Integrator;
# the keys as Vivado's own journal files write them)
AUTOMATION = {
    "xilinx.com:bd_rule:processing_system7": {"make_external", "apply_board_preset", "Master", "Slave"},
    "xilinx.com:bd_rule:zynq_ultra_ps_e": {"apply_board_preset"},
    "xilinx.com:bd_rule:axi4": {"Clk_master", "Clk_slave", "Clk_xbar", "Master", "Slave", "intc_ip",
                                "master_apm", "ddr_seg"},
}
IPX_BUS_TYPES = {"xilinx.com:interface:axis_rtl:1.0": ("s_axis", "m_axis"),
                 "xilinx.com:signal:clock_rtl:1.0": ("ap_clk",), "xilinx.com:signal:reset_rtl:1.0": ("ap_rst_n",)}
FILE_GROUPS = ("xilinx_anylanguagesynthesis", "xilinx_anylanguagebehavioralsimulation")


# ----------------------------------------------------------------------------- the fake Vivado

class Reject(Exception):
    """What Vivado would refuse: becomes a Tcl error in the script."""


class FakeVivado:
    def __init__(self, board_parts=(), wns=0.25, whs=0.05, clock_period=10.0, synth_log="", argv=None):
        self.board_parts, self.wns, self.whs = list(board_parts), wns, whs
        self.clock_period, self.synth_log = clock_period, synth_log
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.props: dict[str, dict[str, str]] = {}
        self.params = {"board.repoPaths": ""}
        self.project = self.project_dir = self.core = self.ip_root = None
        self.project_files: list[Path] = []
        self.busifs: set[str] = set()
        self.bus_params: set[str] = set()
        self.file_groups: dict[str, list[str]] = {}
        self.cells: dict[str, str] = {}        # name -> IP name
        self.net_of: dict[str, int] = {}       # bd pin -> net id
        self.intf_links: set[frozenset] = set()
        self.progress: dict[str, str] = {}
        self.tcl = tkinter.Tcl()
        self.tcl.eval("namespace eval ipx {}")
        for name in COMMANDS:
            self._register(name)
        if argv is not None:
            self.tcl.call("set", "argv", argv)

    # --- plumbing: every command is a Tcl proc around a Python callback that never raises
    def _register(self, name):
        py = "_stub_" + name.replace("::", "__")

        def callback(*args):
            self.calls.append((name, args))
            try:
                return ("ok", self._dispatch(name, list(args)))
            except Reject as e:
                return ("err", f"{name}: {e}")
        self.tcl.createcommand(py, callback)
        self.tcl.eval(f"proc {name} args {{ lassign [{py} {{*}}$args] status value\n"
                      f"  if {{$status eq \"err\"}} {{ return -code error $value }}\n  return $value }}")

    def _dispatch(self, name, args):
        spec, (lo, hi) = COMMANDS[name]
        opts, pos, i = {}, [], 0
        while i < len(args):
            a = args[i]
            if a.startswith("-") and not re.fullmatch(r"-[\d.]+", a):
                if a in ("-quiet", "-verbose"):
                    opts[a] = True
                elif a not in spec:
                    raise Reject(f"unknown option {a}")
                elif spec[a]:
                    if i + 1 == len(args):
                        raise Reject(f"option {a} needs a value")
                    i += 1
                    opts[a] = args[i]
                else:
                    opts[a] = True
            else:
                pos.append(a)
            i += 1
        if not lo <= len(pos) <= hi:
            raise Reject(f"takes {lo}..{hi} arguments, got {pos}")
        method = getattr(self, "c_" + name.replace("::", "__"), None)
        return method(opts, pos) if method else ""

    def split(self, value) -> list[str]:
        return list(self.tcl.splitlist(value))

    def objects(self, value, kind=None) -> list[str]:
        objs = self.split(value)
        if not objs:
            raise Reject("no objects given (an empty result was passed on)")
        for o in objs:
            if kind and not o.startswith(kind + ":"):
                raise Reject(f"{o} is not a {kind}")
        return objs

    def source(self, script: Path):
        self.tcl.eval(f"source {{{script}}}")

    def called(self, name) -> list[tuple[str, ...]]:
        return [args for n, args in self.calls if n == name]

    def config_of(self, cell) -> dict[str, str]:
        ip = IPS[self.cells[cell]]
        return {**ip["defaults"], **self.props.get(f"bdcell:/{cell}", {})}

    # --- projects and files
    def c_create_project(self, opts, pos):
        if "-part" not in opts or len(pos) != 2:
            raise Reject("needs a name, a directory and -part")
        self.project, self.project_dir = pos[0], Path(pos[1])
        self.project_dir.mkdir(parents=True, exist_ok=True)
        self.project_files = []
        return f"project:{self.project}"

    def c_close_project(self, opts, pos):
        self.project = None

    def c_current_project(self, opts, pos):
        if self.project is None:
            raise Reject("no open project")
        return f"project:{self.project}"

    def c_current_fileset(self, opts, pos):
        return "fileset:sources_1"

    def c_add_files(self, opts, pos):
        for f in self.split(pos[0]):
            if not Path(f).is_file():
                raise Reject(f"no such file {f}")
            self.project_files.append(Path(f))

    def c_get_files(self, opts, pos):
        pats = self.split(pos[0]) if pos else ["*"]
        return tuple(f"file:{f}" for f in self.project_files
                     if any(fnmatch.fnmatch(str(f), p) or fnmatch.fnmatch(f.name, p) for p in pats))

    def c_set_property(self, opts, pos):
        if "-dict" in opts:
            if len(pos) != 1:
                raise Reject("-dict takes the objects as its one argument")
            pairs = self.split(opts["-dict"])
            if len(pairs) % 2:
                raise Reject("-dict needs name value pairs")
            items = list(zip(pairs[::2], pairs[1::2]))
        elif len(pos) == 3:
            items = [(pos[0], pos[1])]
        else:
            raise Reject("needs a property, a value and objects")
        for obj in self.objects(pos[-1]):
            for prop, value in items:
                self._check_property(obj, prop, value)
                self.props.setdefault(obj, {})[prop if obj.startswith("bdcell:") else prop.lower()] = value

    def _check_property(self, obj, prop, value=None):
        kind = obj.split(":", 1)[0]
        if kind == "bdcell":
            check = IPS[self.cells[obj.split("/", 1)[1]]]["config"].get(prop)
            if check is None:
                raise Reject(f"{obj} has no property {prop}")
            if value is not None and not check(value):
                raise Reject(f"{value!r} is not a valid value of {prop}")
            return
        if prop.lower() not in PROPERTIES.get(kind, ()):
            raise Reject(f"{obj} has no property {prop}")
        if value is not None:
            if kind in READ_ONLY:
                raise Reject(f"{prop} of {obj} is read-only")
            allowed = VALUES.get((kind, prop.lower()))
            if allowed and value not in allowed:
                raise Reject(f"{value!r} is not a valid {prop}")

    def c_get_property(self, opts, pos):
        prop, obj = pos[0], self.objects(pos[1])[0]
        self._check_property(obj, prop)
        kind, name = obj.split(":", 1)
        if kind == "run":
            return self.progress.get(name, "0%") if prop.lower() == "progress" else ""
        if kind == "timingpath":
            return str(self.wns if name == "max" else self.whs)
        if kind == "clock":
            return str(self.clock_period)
        if kind == "bdcell":
            return self.config_of(name.lstrip("/")).get(prop, "")
        return self.props.get(obj, {}).get(prop.lower(), "")

    def c_update_compile_order(self, opts, pos):
        if self.project is None:
            raise Reject("no open project")

    def c_set_param(self, opts, pos):
        if pos[0] not in self.params:
            raise Reject(f"unknown parameter {pos[0]}")
        self.params[pos[0]] = pos[1]

    def c_get_param(self, opts, pos):
        if pos[0] not in self.params:
            raise Reject(f"unknown parameter {pos[0]}")
        return self.params[pos[0]]

    def c_set_msg_config(self, opts, pos):
        if "-new_severity" in opts and opts["-new_severity"] not in ("ERROR", "CRITICAL WARNING", "WARNING", "INFO"):
            raise Reject(f"bad severity {opts['-new_severity']}")

    def c_get_board_parts(self, opts, pos):
        found = [b for b in self.board_parts if fnmatch.fnmatch(b, pos[0] if pos else "*")]
        if "-latest_file_version" in opts and found:
            found = [max(found, key=lambda b: tuple(int(x) for x in b.rsplit(":", 1)[1].split(".")))]
        return tuple(found)

    # --- IP packaging
    def c_ipx__package_project(self, opts, pos):
        if "-root_dir" not in opts or "-import_files" not in opts:
            raise Reject("expected -root_dir and -import_files")
        self.ip_root = Path(opts["-root_dir"])
        self.core = "ipxcore:hwflow_accel"
        # -import_files copies the project's sources into the IP and lists them in both file groups
        imported = [f"src/{f.name}" for f in self.project_files]
        self.file_groups = {g: list(imported) for g in FILE_GROUPS}

    def _core(self, value):
        if self.core is None or value != self.core:
            raise Reject(f"{value} is not the current core")

    def c_ipx__current_core(self, opts, pos):
        if self.core is None:
            raise Reject("no current core")
        return self.core

    def c_ipx__infer_bus_interfaces(self, opts, pos):
        if pos[0] not in IPX_BUS_TYPES:
            raise Reject(f"unknown bus type {pos[0]}")
        self._core(pos[1])
        self.busifs.update(IPX_BUS_TYPES[pos[0]])   # note: no POLARITY parameter comes with it

    def c_ipx__associate_bus_interfaces(self, opts, pos):
        self._core(pos[0])
        for key in ("-busif", "-clock", "-reset"):
            if key in opts and opts[key] not in self.busifs:
                raise Reject(f"no bus interface {opts[key]}")

    def c_ipx__get_bus_interfaces(self, opts, pos):
        self._core(opts.get("-of_objects"))
        return f"ipxbusif:{pos[0]}" if pos[0] in self.busifs else ""

    def c_ipx__get_bus_parameters(self, opts, pos):
        handle = f"ipxbusparam:{opts.get('-of_objects')}/{pos[0]}"
        return handle if handle in self.bus_params else ""

    def c_ipx__add_bus_parameter(self, opts, pos):
        self.objects(pos[1], "ipxbusif")
        handle = f"ipxbusparam:{pos[1]}/{pos[0]}"
        if handle in self.bus_params:
            raise Reject(f"bus parameter {pos[0]} already exists")
        self.bus_params.add(handle)
        return handle

    def c_ipx__get_file_groups(self, opts, pos):
        self._core(opts.get("-of_objects"))
        return f"ipxgroup:{pos[0]}" if pos[0] in self.file_groups else ""

    def _group(self, value):
        group = self.objects(value, "ipxgroup")[0].split(":", 1)[1]
        return self.file_groups[group], group

    def c_ipx__get_files(self, opts, pos):
        files, group = self._group(opts.get("-of_objects", ""))
        return tuple(f"ipxfile:{group}/{f}" for f in files if fnmatch.fnmatch(f, pos[0]))

    def c_ipx__add_file(self, opts, pos):
        files, group = self._group(pos[1])
        if pos[0] in files:
            raise Reject(f"{pos[0]} is already in {group}")
        if not (self.ip_root / pos[0]).is_file():
            raise Reject(f"{pos[0]} does not exist under the IP root {self.ip_root}")
        files.append(pos[0])
        return f"ipxfile:{group}/{pos[0]}"

    def c_ipx__remove_file(self, opts, pos):
        files, group = self._group(pos[1])
        if pos[0] not in files:
            raise Reject(f"{pos[0]} is not in {group}")
        files.remove(pos[0])

    def c_ipx__create_xgui_files(self, opts, pos):
        self._core(pos[0])

    c_ipx__update_checksums = c_ipx__check_integrity = c_ipx__save_core = c_ipx__create_xgui_files

    # --- block design
    def c_create_bd_design(self, opts, pos):
        bd = self.project_dir / f"{self.project}.srcs/sources_1/bd/{pos[0]}/{pos[0]}.bd"
        bd.parent.mkdir(parents=True, exist_ok=True)
        bd.write_text("")
        self.project_files.append(bd)

    def c_create_bd_cell(self, opts, pos):
        if opts.get("-type") != "ip" or "-vlnv" not in opts:
            raise Reject("expected -type ip -vlnv")
        ip = opts["-vlnv"].split(":")[2]
        if ip not in IPS:
            raise Reject(f"no IP {opts['-vlnv']} in the catalog")
        if pos[0] in self.cells:
            raise Reject(f"cell {pos[0]} exists")
        repo = self.props.get(f"project:{self.project}", {}).get("ip_repo_paths")
        if ip == "hwflow_accel" and (self.ip_root is None or repo != str(self.ip_root)):
            raise Reject("hwflow_accel is not in the IP catalog (not packaged into ip_repo_paths)")
        self.cells[pos[0]] = ip
        return f"bdcell:/{pos[0]}"

    def c_get_bd_cells(self, opts, pos):
        name = pos[0].lstrip("/")
        return f"bdcell:/{name}" if name in self.cells else ""

    def _pins(self, cell, intf):
        ip = IPS[self.cells[cell]]
        pins = dict(ip["intf" if intf else "pins"])
        if self.cells[cell] == "axi_interconnect":
            cfg = self.config_of(cell)
            for side, n in (("S", cfg["CONFIG.NUM_SI"]), ("M", cfg["CONFIG.NUM_MI"])):
                for k in range(int(n)):
                    pins.update({f"{side}{k:02d}_AXI": None} if intf else
                                {f"{side}{k:02d}_ACLK": None, f"{side}{k:02d}_ARESETN": None})
        return pins

    def _pin(self, path, intf):
        cell, _, pin = path.lstrip("/").partition("/")
        if cell not in self.cells:
            raise Reject(f"no cell {cell} (for {path})")
        pins = self._pins(cell, intf)
        if pin not in pins:
            raise Reject(f"{cell} ({self.cells[cell]}) has no {'interface ' if intf else ''}pin {pin}")
        need = pins[pin]
        if need and self.config_of(cell).get(need[0]) != need[1]:
            raise Reject(f"{cell}/{pin} exists only with {need[0]} = {need[1]}")
        return f"{'bdintf' if intf else 'bdpin'}:/{cell}/{pin}"

    def c_get_bd_pins(self, opts, pos):
        return self._pin(pos[0], False)

    def c_get_bd_intf_pins(self, opts, pos):
        return self._pin(pos[0], True)

    def c_connect_bd_net(self, opts, pos):
        pins = [p for arg in pos for p in self.objects(arg, "bdpin")]
        nets = {self.net_of[p] for p in pins if p in self.net_of}
        if len(nets) > 1:
            raise Reject(f"{pins} are on different nets already")
        net = nets.pop() if nets else len(self.calls)
        self.net_of.update({p: net for p in pins})

    def c_connect_bd_intf_net(self, opts, pos):
        a, b = (self.objects(arg, "bdintf")[0] for arg in pos)
        for end in (a, b):
            if any(end in link for link in self.intf_links):
                raise Reject(f"{end} is already connected")
        self.intf_links.add(frozenset((a, b)))

    def c_apply_bd_automation(self, opts, pos):
        keys = AUTOMATION.get(opts.get("-rule"))
        if keys is None:
            raise Reject(f"unknown rule {opts.get('-rule')}")
        cfg = self.split(opts.get("-config", ""))
        if len(cfg) % 2 or not set(cfg[::2]) <= keys:
            raise Reject(f"bad -config {cfg} for {opts['-rule']}")
        cfg = dict(zip(cfg[::2], cfg[1::2]))
        target = self.split(pos[0])[0]
        if not target.startswith(("bdcell:", "bdintf:")):
            raise Reject(f"{target} is not a cell or interface pin")
        if opts["-rule"].endswith("axi4"):
            for key in ("Clk_master", "Clk_slave", "Clk_xbar"):
                self._pin(cfg[key], False)
            # what the rule builds: master -> (new interconnect) -> slave, clocked as told
            self.intf_links.add(frozenset((self._pin(cfg["Master"], True), self._pin(cfg["Slave"], True))))

    def c_validate_bd_design(self, opts, pos):
        """What Vivado's validation would refuse in this design: unclocked, unreset or unconnected pins."""
        ps = next(c for c, ip in self.cells.items() if ip in ("processing_system7", "zynq_ultra_ps_e"))
        clk_net = self.net_of.get(f"bdpin:/{ps}/{IPS[self.cells[ps]]['clock_out']}")
        for cell, ip in self.cells.items():
            for pin in self._pins(cell, False):
                handle = f"bdpin:/{cell}/{pin}"
                if pin.lower().endswith(("aclk", "ap_clk", "slowest_sync_clk")) or pin.endswith("_ACLK"):
                    if self._pin_exists(cell, pin) and self.net_of.get(handle) != clk_net:
                        raise Reject(f"{handle} is not on the PL clock")
                if pin.lower().endswith(("aresetn", "ap_rst_n", "axi_resetn")) and handle not in self.net_of:
                    raise Reject(f"{handle} has no reset")
            for pin in self._pins(cell, True):
                handle = f"bdintf:/{cell}/{pin}"
                if ip != "processing_system7" and self._pin_exists(cell, pin, True) and \
                        not any(handle in link for link in self.intf_links):
                    raise Reject(f"{handle} is not connected")
        dma = self.config_of("dma")
        for mm, stream in (("c_m_axi_mm2s_data_width", "c_m_axis_mm2s_tdata_width"),
                           ("c_m_axi_s2mm_data_width", "c_s_axis_s2mm_tdata_width")):
            if int(dma[f"CONFIG.{mm}"]) < int(dma[f"CONFIG.{stream}"]):
                raise Reject(f"AXI DMA: {mm} must be at least {stream}")

    def _pin_exists(self, cell, pin, intf=False):
        need = self._pins(cell, intf)[pin]
        return not need or self.config_of(cell).get(need[0]) == need[1]

    def c_make_wrapper(self, opts, pos):
        bd = Path(self.objects(opts.get("-files", ""), "file")[0].split(":", 1)[1])
        wrapper = self.project_dir / f"{self.project}.gen/sources_1/bd/{bd.stem}/hdl/{bd.stem}_wrapper.v"
        wrapper.parent.mkdir(parents=True, exist_ok=True)
        wrapper.write_text(f"module {bd.stem}_wrapper; endmodule\n")

    # --- runs and timing
    def c_get_runs(self, opts, pos):
        return f"run:{pos[0]}" if pos[0] in ("synth_1", "impl_1") else ""

    def c_launch_runs(self, opts, pos):
        run = pos[0]
        runs = self.project_dir / f"{self.project}.runs"
        if run == "synth_1":
            (runs / "synth_1").mkdir(parents=True, exist_ok=True)
            (runs / "synth_1" / "runme.log").write_text(self.synth_log)
            promoted = any("Synth 8-4445" in a for a in sum(self.called("set_msg_config"), ()))
            failed = "[Synth 8-4445]" in self.synth_log and promoted
            self.progress[run] = "0%" if failed else "100%"
        elif run == "impl_1":
            if opts.get("-to_step") != "write_bitstream" or self.progress.get("synth_1") != "100%":
                raise Reject("impl_1 needs a finished synth_1 and -to_step write_bitstream")
            (runs / "impl_1").mkdir(parents=True, exist_ok=True)
            (runs / "impl_1" / "hwflow_bd_wrapper.bit").write_bytes(b"bit")
            hwh = self.project_dir / f"{self.project}.gen/sources_1/bd/hwflow_bd/hw_handoff/hwflow_bd.hwh"
            hwh.parent.mkdir(parents=True, exist_ok=True)
            hwh.write_text("<hwh/>")
            self.progress[run] = "100%"
        else:
            raise Reject(f"no run {run}")

    def c_open_run(self, opts, pos):
        if self.progress.get(pos[0]) != "100%":
            raise Reject(f"{pos[0]} has not finished")

    def c_report_timing_summary(self, opts, pos):
        if "-file" in opts:
            Path(opts["-file"]).write_text("timing summary\n")

    def c_get_timing_paths(self, opts, pos):
        kind = opts.get("-delay_type", "max")
        if kind not in ("max", "min", "min_max", "max_rise", "max_fall", "min_rise", "min_fall"):
            raise Reject(f"bad -delay_type {kind}")
        return f"timingpath:{kind}"

    def c_get_clocks(self, opts, pos):
        ps = next(ip for ip in self.cells.values() if ip in ("processing_system7", "zynq_ultra_ps_e"))
        name = {"processing_system7": "clk_fpga_0", "zynq_ultra_ps_e": "clk_pl_0"}[ps]
        return f"clock:{name}" if fnmatch.fnmatch(name, pos[0] if pos else "*") else ""

    def c_version(self, opts, pos):
        return "2024.1"


# ----------------------------------------------------------------------------- fixtures and helpers

MEMS = ("mvau0_weights.mem", "mvau0_thresholds.mem", "mvau1_weights.mem")
CFG = {"in_width_padded": 8, "out_width_padded": 16}


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """A home directory of our own: the per-user board-files folder is looked up under it."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    return h


def project(tmp_path, board_name, clock_mhz=None, board_files=None, allow=False) -> Path:
    """A vivado/ folder as write_vivado_project lays it out, with placeholder sources (no build needed)."""
    board = get_board(board_name)
    out = tmp_path / "build" / "vivado"
    (out / "src").mkdir(parents=True)
    for name in ("hwflow_accel.v", "hwflow_top.v", "hwflow_mvau.v"):
        (out / "src" / name).write_text("module m; endmodule\n")
    for name in MEMS:
        (out / "src" / name).write_text("0\n1\n")
    vivado.write_tcl(out, board, CFG, clock_mhz or board.clock_mhz, board_files, allow)
    return out


def sets(fake: FakeVivado, cell: str) -> list[tuple[str, str]]:
    """Every CONFIG (name, value) set on a block-design cell, in order."""
    out = []
    for args in fake.called("set_property"):
        if args[-1] == f"bdcell:/{cell}":
            pairs = fake.split(args[args.index("-dict") + 1]) if "-dict" in args else list(args[:2])
            out += list(zip(pairs[::2], pairs[1::2]))
    return out


def automation(fake: FakeVivado, rule_suffix: str) -> list[dict]:
    out = []
    for args in fake.called("apply_bd_automation"):
        if args[args.index("-rule") + 1].endswith(rule_suffix):
            cfg = fake.split(args[args.index("-config") + 1])
            out.append(dict(zip(cfg[::2], cfg[1::2])))
    return out


def added_ip_files(fake: FakeVivado) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {g: set() for g in FILE_GROUPS}
    for rel, group in fake.called("ipx::add_file"):
        out[group.split(":", 1)[1]].add(rel)
    return out


# ----------------------------------------------------------------------------- the harness is strict

def test_fake_vivado_rejects_what_vivado_would(tmp_path):
    fake = FakeVivado()
    fake.tcl.eval(f"create_project p {tmp_path}/p -part xc7z020clg400-1")
    fake.tcl.eval("create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma dma")
    for script, why in [
        ("create_project -bogus p x -part y", "unknown option -bogus"),
        ("set_property CONFIG.c_no_such_thing 1 [get_bd_cells dma]", "has no property"),
        ("set_property -dict [list CONFIG.c_m_axi_mm2s_data_width 48] [get_bd_cells dma]", "not a valid value"),
        ("set_property top x [get_bd_cells nope]", "no objects given"),
        ("get_bd_pins dma/no_such_pin", "has no pin"),
        ("not_a_vivado_command", "invalid command name"),
        ("puts $undefined_variable", "no such variable"),
        ("get_property PROGRESS", "takes 2..2 arguments"),
    ]:
        with pytest.raises(tkinter.TclError, match=why):
            fake.tcl.eval(script)


# ----------------------------------------------------------------------------- Zynq-7000 (Pynq-Z1)

def test_pynq_z1_full_flow(tmp_path):
    bf = tmp_path / "my board files"
    bf.mkdir()
    out = project(tmp_path, "Pynq-Z1", clock_mhz=50, board_files=bf)
    fake = FakeVivado(board_parts=["www.digilentinc.com:pynq-z1:part0:1.0", "xilinx.com:zcu104:part0:1.1"],
                      wns=0.412, whs=0.031, clock_period=20.0)
    fake.source(out / "build.tcl")

    # board files: the given folder on board.repoPaths before the project exists, then the board part
    order = [n for n, _ in fake.calls]
    assert order.index("set_param") < max(i for i, n in enumerate(order) if n == "create_project")
    assert str(bf.resolve()) in fake.split(fake.params["board.repoPaths"])
    assert ("board_part", "www.digilentinc.com:pynq-z1:part0:1.0", "project:hwflow") in fake.called("set_property")
    assert automation(fake, "processing_system7")[0]["apply_board_preset"] == "1"
    # the clock: 50 MHz in the PS configuration; the board's presets untouched
    ps = dict(sets(fake, "ps"))
    assert ps["CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ"] == "50"
    assert ps["CONFIG.PCW_USE_S_AXI_HP0"] == "1" and "CONFIG.PCW_CRYSTAL_PERIPHERAL_FREQMHZ" not in ps
    # memory files: each .mem explicitly in both file groups, typed mif, and present in the IP
    assert added_ip_files(fake) == {g: {f"src/{m}" for m in MEMS} for g in FILE_GROUPS}
    mif = [args[2] for args in fake.called("set_property") if args[:2] == ("type", "mif")]
    assert sorted(mif) == sorted(f"ipxfile:{g}/src/{m}" for g in FILE_GROUPS for m in MEMS)
    assert all((out / "ip" / "src" / m).is_file() for m in MEMS)
    assert ("-id", "Synth 8-4445", "-new_severity", "ERROR") in fake.called("set_msg_config")
    assert ("file_type", "Memory File", *[f"file:{out / 'src' / m}" for m in sorted(MEMS)]) in [
        a[:2] + tuple(fake.split(a[2])) for a in fake.called("set_property") if a[0] == "file_type"]
    # POLARITY is created, then set
    names = [n for n, _ in fake.calls]
    assert names.index("ipx::add_bus_parameter") < names.index("set_property", names.index("ipx::add_bus_parameter"))
    assert ("value", "ACTIVE_LOW", "ipxbusparam:ipxbusif:ap_rst_n/POLARITY") in fake.called("set_property")
    # DMA: memory-map widths set explicitly, at least the stream widths
    dma = dict(sets(fake, "dma"))
    assert (dma["CONFIG.c_m_axis_mm2s_tdata_width"], dma["CONFIG.c_s_axis_s2mm_tdata_width"]) == ("8", "16")
    assert (dma["CONFIG.c_m_axi_mm2s_data_width"], dma["CONFIG.c_m_axi_s2mm_data_width"]) == ("64", "64")
    # the HP path through the interconnect we named; automation told the clock explicitly
    assert fake.cells["hp_ic"] == "axi_interconnect"
    assert frozenset(("bdintf:/hp_ic/M00_AXI", "bdintf:/ps/S_AXI_HP0")) in fake.intf_links
    assert frozenset(("bdintf:/dma/M_AXI_S2MM", "bdintf:/hp_ic/S01_AXI")) in fake.intf_links
    for cfg in automation(fake, "axi4"):
        assert {cfg[k] for k in ("Clk_master", "Clk_slave", "Clk_xbar")} == {"/ps/FCLK_CLK0"}
        assert cfg["intc_ip"] != "Auto"
    assert "validate_bd_design" in names and ("synth_checkpoint_mode", "None") in [
        a[:2] for a in fake.called("set_property")]
    # timing read back, bitstream and handoff copied for PYNQ
    assert vivado.read_timing(out.parent) == {
        "tool": "vivado", "vivado_version": "2024.1", "wns_ns": 0.412, "whs_ns": 0.031,
        "clock_mhz_requested": 50, "clock_mhz_actual": 50.0, "met": True, "negative_slack_allowed": False}
    assert vivado.timing_summary(vivado.read_timing(out.parent)) == "WNS +0.412 ns, WHS +0.031 ns at 50 MHz: timing met"
    assert (out.parent / "deploy" / "hwflow.bit").is_file() and (out.parent / "deploy" / "hwflow.hwh").is_file()
    assert (out / "timing_summary.rpt").is_file()


def test_pynq_z2_without_board_files_falls_back_to_the_bare_part(tmp_path, capfd):
    out = project(tmp_path, "Pynq-Z2")
    fake = FakeVivado(board_parts=["xilinx.com:zcu104:part0:1.1"], clock_period=10.0)
    fake.source(out / "build.tcl")
    fake.tcl.eval("flush stdout")
    assert not [a for a in fake.called("set_property") if a[0] == "board_part"]
    assert automation(fake, "processing_system7")[0]["apply_board_preset"] == "0"
    ps = sets(fake, "ps")
    assert ps[:len(BOARDS["Pynq-Z2"].ps_presets)] == list(BOARDS["Pynq-Z2"].ps_presets)
    assert dict(ps)["CONFIG.PCW_CRYSTAL_PERIPHERAL_FREQMHZ"] == "50"
    assert dict(ps)["CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ"] == "100"
    assert "no board files for tul.com.tw:pynq-z2:part0:1.0" in capfd.readouterr().out
    assert (out.parent / "deploy" / "hwflow.bit").is_file()


def test_per_user_board_files_folder_is_searched(tmp_path, home):
    default = home / ".config" / "hwflow" / "board_files"
    default.mkdir(parents=True)
    out = project(tmp_path, "Pynq-Z1")
    fake = FakeVivado(board_parts=["www.digilentinc.com:pynq-z1:part0:1.0"])
    fake.source(out / "build.tcl")
    assert fake.split(fake.params["board.repoPaths"]) == [str(default.resolve())]
    assert ("BOARD_PART_REPO_PATHS", str(default.resolve()), "project:hwflow") in fake.called("set_property")


# ----------------------------------------------------------------------------- Zynq UltraScale+

def test_ultra96_newer_board_files_and_clock(tmp_path):
    out = project(tmp_path, "Ultra96-V2", clock_mhz=50)
    fake = FakeVivado(board_parts=["avnet.com:ultra96v2:part0:1.1", "avnet.com:ultra96v2:part0:1.3"],
                      clock_period=20.0)
    fake.source(out / "build.tcl")
    # not the exact 1.2, so the newest file version of the same board
    assert ("board_part", "avnet.com:ultra96v2:part0:1.3", "project:hwflow") in fake.called("set_property")
    ps = sets(fake, "ps")
    names = [k for k, _ in ps]
    assert dict(ps)["CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ"] == "50"
    # FINN's order: the basic-clock override off before the PL0 frequency
    assert names.index("CONFIG.PSU__OVERRIDE__BASIC_CLOCK") < names.index("CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ")
    assert dict(ps)["CONFIG.PSU__OVERRIDE__BASIC_CLOCK"] == "0" and dict(ps)["CONFIG.PSU__USE__S_AXI_GP2"] == "1"
    for cfg in automation(fake, "axi4"):
        assert {cfg[k] for k in ("Clk_master", "Clk_slave", "Clk_xbar")} == {"/ps/pl_clk0"}
    assert frozenset(("bdintf:/hp_ic/M00_AXI", "bdintf:/ps/S_AXI_HP0_FPD")) in fake.intf_links
    assert vivado.read_timing(out.parent)["clock_mhz_actual"] == 50.0
    assert added_ip_files(fake) == {g: {f"src/{m}" for m in MEMS} for g in FILE_GROUPS}


@pytest.mark.parametrize("board_name", ["Ultra96-V2", "KV260"])
def test_missing_board_files_stop_with_where_to_get_them(tmp_path, board_name):
    out = project(tmp_path, board_name)
    fake = FakeVivado(board_parts=["xilinx.com:zcu104:part0:1.1"])
    with pytest.raises(tkinter.TclError) as e:
        fake.source(out / "build.tcl")
    msg = str(e.value)
    board = get_board(board_name)
    assert f"no board files for {board_name} ({board.board_part})" in msg
    assert board.board_files_source in msg and "--board-files DIR" in msg and "~/.config/hwflow/board_files" in msg
    assert {"Ultra96-V2": "github.com/Avnet/bdf", "KV260": "XilinxBoardStore"}[board_name] in msg
    assert not fake.called("create_bd_design")


# ----------------------------------------------------------------------------- timing and ROM checks

def test_negative_slack_stops_the_run_and_is_recorded(tmp_path):
    out = project(tmp_path, "Pynq-Z1")
    fake = FakeVivado(board_parts=["www.digilentinc.com:pynq-z1:part0:1.0"], wns=-0.321, clock_period=10.0)
    with pytest.raises(tkinter.TclError, match=r"timing not met at 100.000 MHz: WNS -0.321 ns"):
        fake.source(out / "build.tcl")
    t = vivado.read_timing(out.parent)
    assert t["wns_ns"] == -0.321 and t["met"] is False and t["negative_slack_allowed"] is False
    assert not (out.parent / "deploy" / "hwflow.bit").exists()
    assert "timing NOT met" in vivado.timing_summary(t)


@pytest.mark.parametrize("how", ["settings", "argv"])
def test_negative_slack_kept_when_allowed(tmp_path, how):
    out = project(tmp_path, "Pynq-Z1", allow=how == "settings")
    fake = FakeVivado(board_parts=["www.digilentinc.com:pynq-z1:part0:1.0"], wns=-0.5, whs=-0.01, clock_period=10.0,
                      argv=["--allow-negative-slack"] if how == "argv" else None)
    fake.source(out / "build.tcl")
    t = vivado.read_timing(out.parent)
    assert (t["met"], t["negative_slack_allowed"], t["whs_ns"]) == (False, True, -0.01)
    assert (out.parent / "deploy" / "hwflow.bit").is_file()


def test_unreadable_rom_file_stops_synthesis(tmp_path):
    out = project(tmp_path, "Pynq-Z1")
    line = "CRITICAL WARNING: [Synth 8-4445] could not open $readmem data file 'mvau0_weights.mem'"
    fake = FakeVivado(board_parts=["www.digilentinc.com:pynq-z1:part0:1.0"], synth_log=f"INFO: x\n{line}\n")
    with pytest.raises(tkinter.TclError, match=re.escape(f"ROM would be all zero: {line}")):
        fake.source(out / "build.tcl")
    assert not fake.called("open_run")


def test_timing_not_run():
    assert vivado.read_timing(Path("/nonexistent")) is None
    assert vivado.timing_summary(None).startswith("not run")


# ----------------------------------------------------------------------------- write_vivado_project

def test_settings_quoting(tmp_path):
    text = vivado.settings_tcl(get_board("KV260"), CFG, 187.5, tmp_path / "a b")
    tcl = tkinter.Tcl()
    tcl.eval(text)
    assert tcl.eval("set hw(board_files)") == str(tmp_path / "a b")
    assert tcl.eval("set hw(clock_mhz)") == "187.5" and tcl.eval("set hw(ps_presets)") == ""
    assert "xhub::install" in tcl.eval("set hw(board_files_source)")
    with pytest.raises(HwflowError, match="braces"):
        vivado.settings_tcl(get_board("KV260"), CFG, 100, tmp_path / "a{b")


@pytest.fixture(scope="module")
def real_build(tmp_path_factory):
    """One small real build (as in test_synth_vivado_deploy): its ROM files and stream widths."""
    from conftest import make_model
    from hwflow.build import BuildOptions, build
    tmp = tmp_path_factory.mktemp("issue11")
    _, path = make_model("mlp-w1a1:64-32-10", tmp, seed=4)
    fold = tmp / "folding.json"
    fold.write_text(json.dumps({"mvau0": {"pe": 4, "simd": 4, "ram_style": "block"}, "mvau1": {"pe": 2, "simd": 16}}))
    opts = BuildOptions(folding=fold, rtlsim=False, verify_images=50, synth="none", clock_mhz=50)
    return build(path, tmp / "build", opts, quiet=True).out


def test_write_vivado_project_on_a_real_build(real_build, tmp_path):
    b = tmp_path / "b"
    shutil.copytree(real_build, b)
    bf = tmp_path / "bf"
    bf.mkdir()
    out = vivado.write_vivado_project(b, "Pynq-Z1", board_files=bf, clock_mhz=50)
    fake = FakeVivado(board_parts=["www.digilentinc.com:pynq-z1:part0:1.0"], clock_period=20.0)
    fake.source(out / "build.tcl")
    mems = {f"src/{p.name}" for p in (b / "rtl").glob("*.mem")}
    assert mems and added_ip_files(fake) == {g: mems for g in FILE_GROUPS}
    assert dict(sets(fake, "ps"))["CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ"] == "50"
    dma = dict(sets(fake, "dma"))
    assert (dma["CONFIG.c_m_axis_mm2s_tdata_width"], dma["CONFIG.c_s_axis_s2mm_tdata_width"]) == ("8", "16")
    assert str(bf) in fake.split(fake.params["board.repoPaths"])
    # board and clock from report.json when not given: the build's --clock-mhz 50
    vivado.write_vivado_project(b)
    assert "set hw(clock_mhz) 50 " in (b / "vivado" / "settings.tcl").read_text()
    with pytest.raises(HwflowError, match="does not exist"):
        vivado.write_vivado_project(b, "Pynq-Z1", board_files=tmp_path / "missing")
