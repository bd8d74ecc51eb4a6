"""The boards hwflow builds for: part, clock and capacities, and what Vivado needs to target them.

Vivado's board files (the `board_part`) carry each board's PS presets (DDR, MIO, clock input).
Vivado ships few of them: `board_files_source` says where to get them.  For a Zynq-7000 board
whose PS settings we know, `ps_presets` lets the Vivado project fall back to the bare part.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwflow.errors import HwflowError

# PYNQ boots the PS (DDR, MIO) before it loads an overlay, so in the bare-part fallback only the
# PS input clock matters on the board: Vivado derives the PL clock divisors from it.  The DDR and
# bank settings keep Vivado's PS model (and the .hwh) close to the board's.
# Pynq-Z2: TUL's preset.xml (Xilinx/XilinxBoardStore boards/TUL/pynq-z2/A.0).
_PYNQ_Z2_PS7 = (
    ("CONFIG.PCW_CRYSTAL_PERIPHERAL_FREQMHZ", "50"),
    ("CONFIG.PCW_PRESET_BANK0_VOLTAGE", "LVCMOS 3.3V"),
    ("CONFIG.PCW_PRESET_BANK1_VOLTAGE", "LVCMOS 1.8V"),
    ("CONFIG.PCW_UIPARAM_DDR_MEMORY_TYPE", "DDR 3"),
    ("CONFIG.PCW_UIPARAM_DDR_PARTNO", "MT41J256M16 RE-125"),
    ("CONFIG.PCW_UIPARAM_DDR_BUS_WIDTH", "16 Bit"),
)
# Pynq-Z1 (Digilent reference manual): 50 MHz PS_CLK, 512 MB DDR3L on a 16-bit bus.
_PYNQ_Z1_PS7 = (
    ("CONFIG.PCW_CRYSTAL_PERIPHERAL_FREQMHZ", "50"),
    ("CONFIG.PCW_PRESET_BANK0_VOLTAGE", "LVCMOS 3.3V"),
    ("CONFIG.PCW_PRESET_BANK1_VOLTAGE", "LVCMOS 1.8V"),
    ("CONFIG.PCW_UIPARAM_DDR_MEMORY_TYPE", "DDR 3 (Low Voltage)"),
    ("CONFIG.PCW_UIPARAM_DDR_PARTNO", "MT41K256M16 RE-125"),
    ("CONFIG.PCW_UIPARAM_DDR_BUS_WIDTH", "16 Bit"),
)


@dataclass(frozen=True)
class Board:
    name: str
    part: str
    clock_mhz: float
    lut: int
    ff: int
    bram36: int
    dsp: int
    board_part: str
    ps: str          # "ps7" (Zynq-7000) or "ps8" (Zynq UltraScale+)
    board_files_source: str = ""                     # where to get the board files Vivado lacks
    ps_presets: tuple[tuple[str, str], ...] = ()     # PS CONFIG for the bare part; () = board files required

    @property
    def bram18(self) -> int:
        return 2 * self.bram36


BOARDS = {b.name: b for b in (
    Board("Pynq-Z1", "xc7z020clg400-1", 100.0, 53200, 106400, 140, 220, "www.digilentinc.com:pynq-z1:part0:1.0", "ps7",
          "Digilent's PYNQ-Z1 board files (e.g. https://github.com/cathalmccabe/pynq-z1_board_files, the copy FINN "
          "uses: unzip pynq-z1.zip)", _PYNQ_Z1_PS7),
    Board("Pynq-Z2", "xc7z020clg400-1", 100.0, 53200, 106400, 140, 220, "tul.com.tw:pynq-z2:part0:1.0", "ps7",
          "TUL's PYNQ-Z2 board files (TUL's PYNQ-Z2 download page, or https://github.com/Xilinx/XilinxBoardStore "
          "boards/TUL/pynq-z2)", _PYNQ_Z2_PS7),
    Board("Ultra96-V2", "xczu3eg-sbva484-1-i", 150.0, 70560, 141120, 216, 360, "avnet.com:ultra96v2:part0:1.2", "ps8",
          "Avnet's board definition files (https://github.com/Avnet/bdf, folder ultra96v2)"),
    Board("ZCU104", "xczu7ev-ffvc1156-2-e", 200.0, 230400, 460800, 312, 1728, "xilinx.com:zcu104:part0:1.1", "ps8",
          "Vivado's own board store (ships with most installs; else https://github.com/Xilinx/XilinxBoardStore "
          "boards/Xilinx/zcu104)"),
    Board("KV260", "xck26-sfvc784-2LV-c", 200.0, 117120, 234240, 144, 1248, "xilinx.com:kv260_som:part0:1.3", "ps8",
          "Xilinx's board store (https://github.com/Xilinx/XilinxBoardStore boards/Xilinx/kv260_som, or in Vivado: "
          "xhub::refresh_catalog [xhub::get_xstores xilinx_board_store]; xhub::install [xhub::get_xitems *kv260*])"),
)}


def get_board(name: str) -> Board:
    for key, board in BOARDS.items():
        if key.lower() == name.lower():
            return board
    raise HwflowError(f"unknown board '{name}'; known boards: {', '.join(BOARDS)}")
