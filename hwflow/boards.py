"""The boards hwflow builds for: part, clock and capacities."""

from __future__ import annotations

from dataclasses import dataclass

from hwflow.errors import HwflowError


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

    @property
    def bram18(self) -> int:
        return 2 * self.bram36


BOARDS = {b.name: b for b in (
    Board("Pynq-Z1", "xc7z020clg400-1", 100.0, 53200, 106400, 140, 220, "www.digilentinc.com:pynq-z1:part0:1.0", "ps7"),
    Board("Pynq-Z2", "xc7z020clg400-1", 100.0, 53200, 106400, 140, 220, "tul.com.tw:pynq-z2:part0:1.0", "ps7"),
    Board("Ultra96-V2", "xczu3eg-sbva484-1-i", 150.0, 70560, 141120, 216, 360, "avnet.com:ultra96v2:part0:1.2", "ps8"),
    Board("ZCU104", "xczu7ev-ffvc1156-2-e", 200.0, 230400, 460800, 312, 1728, "xilinx.com:zcu104:part0:1.1", "ps8"),
    Board("KV260", "xck26-sfvc784-2LV-c", 200.0, 117120, 234240, 144, 1248, "xilinx.com:kv260_som:part0:1.3", "ps8"),
)}


def get_board(name: str) -> Board:
    for key, board in BOARDS.items():
        if key.lower() == name.lower():
            return board
    raise HwflowError(f"unknown board '{name}'; known boards: {', '.join(BOARDS)}")
