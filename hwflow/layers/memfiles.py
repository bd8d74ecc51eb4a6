"""Constant tensors as the cores read them: $readmemh lines for RTL ROMs, C initializers for HLS."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_lines(path: Path, lines: list[str]) -> None:
    """A ROM file, one word per line; left alone when it already holds them, so a simulator
    being built from the folder never reads a file half rewritten with the same words."""
    write_if_changed(path, ("\n".join(lines) + "\n").encode())


def write_if_changed(path: Path, data: bytes) -> None:
    if not (path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data):
        path.write_bytes(data)


def element_bits(values: np.ndarray, elem_bits: int) -> np.ndarray:
    """Rows of integers -> rows of bits, element e at bits [e*elem_bits +: elem_bits] (LSB
    first; negative values in elem_bits-bit two's complement)."""
    values = np.asarray(values, dtype=np.int64)
    rows, elems = values.shape
    return ((values[:, :, None] >> np.arange(elem_bits)) & 1).reshape(rows, elems * elem_bits)


def hex_words(values: np.ndarray, elem_bits: int) -> list[str]:
    """Rows of integers -> one hex word per row, laid out as `element_bits`."""
    bits = element_bits(values, elem_bits)
    rows = len(bits)
    pad = (-bits.shape[1]) % 4
    bits = np.concatenate([bits, np.zeros((rows, pad), dtype=np.int64)], axis=1)
    nibbles = (bits.reshape(rows, -1, 4) * np.array([1, 2, 4, 8])).sum(axis=2)[:, ::-1]
    digits = np.array(list("0123456789abcdef"))[nibbles]
    return ["".join(r) for r in digits]


def row_values(bits: np.ndarray) -> list[int]:
    """Rows of bits (LSB first) -> Python ints."""
    packed = np.packbits(np.asarray(bits, dtype=np.uint8), axis=1, bitorder="little")
    return [int.from_bytes(r.tobytes(), "little") for r in packed]


def c_literal(value: int, width: int) -> str:
    """An ap_uint<width> initializer: a plain literal up to 64 bits, else a hex string."""
    if width <= 64:
        return f"0x{value:x}ULL"
    return f'ap_uint<{width}>("0x{value:x}", 16)'


def c_array(rows: list[list[str]]) -> str:
    return "{\n" + ",\n".join("    {" + ", ".join(r) + "}" for r in rows) + "\n}"
