"""hwflow accelerator driver: numpy only, runs on a PYNQ board and (for testing) against rtlsim.

    from driver import HwflowAccel
    accel = HwflowAccel.on_board("hwflow.bit")      # PYNQ: Overlay + AXI DMA
    scores = accel.predict(images)                    # [N, *input_shape] floats -> model outputs
    classes = scores.argmax(axis=1)

The same class and the same packing code run against a simulator: hwflow's test suite
passes a backend that streams the padded bytes through rtlsim of the hwflow_accel wrapper.
Files it reads from its own directory: accel.json (stream geometry, head/tail programs)
and head_tail.npz (their constants).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


# ----------------------------------------------------------------------------- stream packing

def pack_stream(values: np.ndarray, elem_bits: int, elems_per_beat: int, beat_bytes: int) -> np.ndarray:
    """[N, elems] integers -> uint8 [N*beats, beat_bytes]: element e of an image in beat e // epb at
    bit (e % epb) * elem_bits, little-endian; bits above the data are zero (the wrapper ignores them)."""
    v = np.asarray(values, dtype=np.int64)
    eb, epb = int(elem_bits), int(elems_per_beat)
    beats = v.reshape(-1, epb) & ((1 << eb) - 1)          # two's complement for signed values
    bits = ((beats[:, :, None] >> np.arange(eb)) & 1).astype(np.uint8).reshape(len(beats), epb * eb)
    out = np.zeros((len(beats), beat_bytes * 8), np.uint8)
    out[:, :epb * eb] = bits
    return np.packbits(out, axis=1, bitorder="little")


def unpack_stream(buf: np.ndarray, elem_bits: int, elems_per_beat: int, n_elems: int, signed: bool,
                  beat_bytes: int) -> np.ndarray:
    """Inverse of pack_stream: uint8 beats -> int64 [N, n_elems] (padding bits dropped)."""
    eb, epb = int(elem_bits), int(elems_per_beat)
    b = np.asarray(buf, dtype=np.uint8).reshape(-1, beat_bytes)
    bits = np.unpackbits(b, axis=1, bitorder="little")[:, :epb * eb].reshape(len(b), epb, eb)
    vals = (bits.astype(np.int64) << np.arange(eb)).sum(axis=2)
    if signed:
        vals -= (vals >> (eb - 1)) << eb
    return vals.reshape(-1, int(n_elems))


# ----------------------------------------------------------------------------- host head/tail

def _multithreshold(v, thr, attrs):
    """qonnx MultiThreshold: per channel, the number of thresholds v reaches, then scale and bias."""
    nhwc = attrs.get("data_layout", "NCHW") == "NHWC" or v.ndim == 2
    vc = v if nhwc else np.moveaxis(v, 1, -1)             # channel axis last
    count = (vc[..., None] >= thr).sum(axis=-1).astype(np.float32)
    if not nhwc:
        count = np.moveaxis(count, -1, 1)
    return np.float32(attrs.get("out_scale", 1.0)) * count + np.float32(attrs.get("out_bias", 0.0))


_ROUNDING = {"ROUND": np.round, "HALF_EVEN": np.round, "CEIL": np.ceil, "FLOOR": np.floor}


def _quant(v, scale, zeropt, bits, attrs):
    signed, narrow, b = attrs.get("signed", 1), attrs.get("narrow", 0), int(bits)
    lo = -(2 ** (b - 1)) + (1 if narrow else 0) if signed else 0
    hi = 2 ** (b - 1) - 1 if signed else 2 ** b - 1 - (1 if narrow else 0)
    mode = str(attrs.get("rounding_mode", "ROUND")).upper()
    if mode not in _ROUNDING:
        raise NotImplementedError(f"Quant rounding mode {mode} is not implemented in the numpy driver")
    q = _ROUNDING[mode](np.clip(v / scale + zeropt, lo, hi))
    return ((q - zeropt) * scale).astype(np.float32)


def _softmax(v, axis):
    e = np.exp(v - v.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def run_program(prog: dict, consts: dict, x: np.ndarray) -> np.ndarray:
    """Execute a small ONNX sub-graph ({"input", "output", "nodes"}, from hwflow.deploy) in numpy float32."""
    env = dict(consts)
    env[prog["input"]] = x
    for n in prog["nodes"]:
        a = [env[i] for i in n["inputs"] if i]
        op, at = n["op"], n.get("attrs", {})
        if op == "Identity":
            y = a[0]
        elif op == "Flatten":
            ax = at.get("axis", 1)
            y = a[0].reshape(int(np.prod(a[0].shape[:ax])), -1)
        elif op == "Reshape":
            dims = np.asarray(a[1], np.int64).tolist()
            # the exported shape carries batch 1: the batch stays the batch
            y = a[0].reshape([a[0].shape[0]] + [d if d != 0 else a[0].shape[i + 1] for i, d in enumerate(dims[1:])])
        elif op == "ArgMax":
            y = np.argmax(a[0], axis=at.get("axis", 0))
            y = np.expand_dims(y, at.get("axis", 0)) if at.get("keepdims", 1) else y
        elif op in ("Mul", "Add", "Sub", "Div"):
            f = {"Mul": np.multiply, "Add": np.add, "Sub": np.subtract, "Div": np.divide}[op]
            y = f(a[0], a[1]).astype(np.float32)
        elif op == "MultiThreshold":
            y = _multithreshold(a[0], a[1], at)
        elif op == "BatchNormalization":
            sh = (1, -1) + (1,) * (a[0].ndim - 2)
            scale, bias, mean, var = (np.asarray(t, np.float32).reshape(sh) for t in a[1:5])
            y = ((a[0] - mean) / np.sqrt(var + np.float32(at.get("epsilon", 1e-5))) * scale + bias).astype(np.float32)
        elif op == "Quant":  # qonnx integer quantizer: clip(x/s + z) to the range, round, back to reals
            y = _quant(a[0], *(np.float32(v) for v in a[1:4]), at)
        elif op == "Round":
            y = np.round(a[0]).astype(np.float32)
        elif op == "Softmax":
            y = _softmax(a[0], at.get("axis", -1)).astype(np.float32)
        elif op == "LogSoftmax":
            y = np.log(_softmax(a[0], at.get("axis", -1))).astype(np.float32)
        else:
            raise NotImplementedError(f"host op {op} is not implemented in the numpy driver")
        env[n["outputs"][0]] = y
    return env[prog["output"]]


# ----------------------------------------------------------------------------- backends

class AccelError(RuntimeError):
    """A DMA transfer failed or timed out; the backend has been reset, so the next call can run."""


class PynqBackend:
    """The board: the bitstream's AXI DMA moves the padded byte stream in and out.

    A transfer that does not finish within `timeout` seconds, a DMA error, or an output transfer
    that ends early (TLAST before the expected last beat) raises AccelError after `recover()`:
    the overlay is downloaded again, which resets the accelerator (its half-streamed images
    would corrupt the next transfer) and the DMA.
    """

    def __init__(self, bitfile, timeout: float = 10.0):
        from pynq import Overlay, allocate  # only on the board
        self._overlay_cls, self._allocate = Overlay, allocate
        self.bitfile, self.timeout = str(bitfile), float(timeout)
        self._load()

    def _load(self) -> None:
        self.overlay = self._overlay_cls(self.bitfile)
        if "dma" not in self.overlay.ip_dict:
            raise AccelError(f"{self.bitfile} has no AXI DMA named 'dma': use the bitstream hwflow's "
                             "Vivado project makes (deploy/hwflow.bit with its hwflow.hwh)")
        self.dma = self.overlay.dma

    def recover(self) -> None:
        """Reset the accelerator and the DMA by downloading the overlay again."""
        self._load()

    def _wait(self, channel, what: str, deadline: float) -> None:
        """PYNQ's wait() spins forever on a hung transfer: poll with a deadline, then let it finish up."""
        while not channel.idle:
            if channel.error:
                raise AccelError(f"the DMA's {what} channel stopped with an error")
            if time.monotonic() > deadline:
                raise AccelError(f"the DMA's {what} channel did not finish within {self.timeout:g} s")
        channel.wait()  # idle: returns at once, reads the transferred length

    def transfer(self, in_beats: np.ndarray, n_out_beats: int, out_beat_bytes: int) -> np.ndarray:
        ibuf = self._allocate(shape=in_beats.shape, dtype=np.uint8)
        obuf = self._allocate(shape=(n_out_beats, out_beat_bytes), dtype=np.uint8)
        try:
            ibuf[:] = in_beats
            ibuf.flush()
            deadline = time.monotonic() + self.timeout
            self.dma.recvchannel.transfer(obuf)    # receive first: the accelerator must not stall
            self.dma.sendchannel.transfer(ibuf)
            self._wait(self.dma.sendchannel, "send (MM2S)", deadline)
            self._wait(self.dma.recvchannel, "receive (S2MM)", deadline)
            got = getattr(self.dma.recvchannel, "transferred", None)  # S2MM: the bytes written up to TLAST
            if got is not None and int(got) != obuf.nbytes:
                raise AccelError(f"the accelerator's output transfer ended after {got} bytes, expected "
                                 f"{obuf.nbytes} (TLAST in the wrong place)")
            obuf.invalidate()
            return np.array(obuf)
        except AccelError as e:
            self.recover()
            raise AccelError(f"{e}; the overlay was downloaded again (accelerator and DMA reset): "
                             "the call can be repeated") from None
        finally:
            ibuf.freebuffer()
            obuf.freebuffer()


# ----------------------------------------------------------------------------- the driver

class HwflowAccel:
    """Model inputs -> host head (thresholds) -> accelerator -> host tail (affine) -> model outputs."""

    # AXI DMA simple mode moves at most 2**26 - 1 bytes per transfer (c_sg_length_width = 26)
    MAX_TRANSFER_BYTES = (1 << 26) - 1

    def __init__(self, backend, directory: Path | str = HERE):
        d = Path(directory)
        self.cfg = json.loads((d / "accel.json").read_text())
        arrays = np.load(d / "head_tail.npz")
        self.consts = {k: arrays[k] for k in arrays.files}
        self.backend = backend
        s = self.cfg["stream"]
        self.in_bytes, self.out_bytes = s["in_width_padded"] // 8, s["out_width_padded"] // 8
        self.input_shape = tuple(s["input_shape"])
        self.last_seconds = 0.0

    @classmethod
    def on_board(cls, bitfile: Path | str = HERE / "hwflow.bit", directory: Path | str = HERE,
                 timeout: float = 10.0) -> "HwflowAccel":
        """timeout: seconds one DMA transfer (up to MAX_TRANSFER_BYTES) may take before the overlay is reset."""
        return cls(PynqBackend(bitfile, timeout), directory)

    def head(self, x: np.ndarray) -> np.ndarray:
        y = run_program(self.cfg["head"], self.consts, np.asarray(x, np.float32))
        if y.ndim == 4:  # images stream NHWC: pixels in order, channels innermost
            y = y.transpose(0, 2, 3, 1)
        return np.rint(y.reshape(len(x), -1)).astype(np.int64)

    def tail(self, ints: np.ndarray) -> np.ndarray:
        t = self.cfg["tail_decode"]  # the tail graph reads scale * y + bias of the hardware's integers y
        return run_program(self.cfg["tail"], self.consts, (ints * t["scale"] + t["bias"]).astype(np.float32))

    def execute_hw(self, bits: np.ndarray) -> np.ndarray:
        """bits [N, MW0] -> the last layer's integers [N, MH], in DMA-sized chunks."""
        s = self.cfg["stream"]
        bits = np.asarray(bits, np.int64)
        per_image = max(s["in_beats_per_image"] * self.in_bytes, s["out_beats_per_image"] * self.out_bytes)
        chunk = max(1, self.MAX_TRANSFER_BYTES // per_image)
        outs, t = [], 0.0
        for i in range(0, len(bits), chunk):
            part = bits[i:i + chunk]
            beats = pack_stream(part, s["in_elem_bits"], s["in_elems_per_beat"], self.in_bytes)
            t0 = time.perf_counter()
            raw = self.backend.transfer(beats, len(part) * s["out_beats_per_image"], self.out_bytes)
            t += time.perf_counter() - t0
            outs.append(unpack_stream(raw, s["out_elem_bits"], s["out_elems_per_beat"], s["out_elems"],
                                      s["out_signed"], self.out_bytes))
        self.last_seconds = t
        return np.concatenate(outs)

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float32)
        if x.shape[1:] != self.input_shape:
            x = x.reshape((len(x),) + self.input_shape)
        return self.tail(self.execute_hw(self.head(x)))

    def classify(self, x: np.ndarray) -> np.ndarray:
        return self.predict(x).argmax(axis=1)
