"""MVAU: matrix-vector unit (core hwflow_mvau.v, kernel hwflow_mvau.h).

MW inputs -> MH outputs, `vectors` times per image (a conv layer is an MVAU with one
vector per output pixel, fed by a window generator).  BIPOLAR inputs and weights:
XNOR-popcount acc_n = popcount_n; otherwise the signed dot product acc_n = sum(w * a) of
integer (or +-1) inputs and integer weights (+-1, ternary, k-bit).  The output is either the
integer itself (the signed dot product 2*popcount_n - MW, or acc_n), or an activation:
with one threshold per neuron the bit (acc_n >= T[n]) (BIPOLAR, 1 = +1); with NT
thresholds per neuron a k-bit integer, out_bias + #{j: acc_n >= T[n, j]} (a k-bit
activation's level, as qonnx's MultiThreshold computes it).  Folding: SIMD inputs and PE neurons per cycle, so one
vector takes (MH/PE) * (MW/SIMD) cycles.

The accumulator, threshold and output widths are computed here, once, and passed to the
RTL core and the HLS kernel as parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from pathlib import Path

import numpy as np
from qonnx.core.datatype import DataType

from hwflow.errors import HwflowError
from hwflow.layers.base import BIPOLAR, Layer, StreamType, clog2, divisors, int_type
from hwflow.layers.memfiles import c_array, c_literal, element_bits, hex_words, row_values, write_lines


def _exact_matmul(a: np.ndarray, b: np.ndarray, bound: int) -> np.ndarray:
    """Integer-valued a @ b on BLAS, exactly: float32 while every partial sum stays below
    2^24 in magnitude (|sums| <= bound), float64 otherwise."""
    if bound >= 1 << 24:
        a, b = a.astype(np.float64), b.astype(np.float64)
    return np.rint(a @ b).astype(np.int64)


# The analytic model's coefficients, fitted to Yosys `synth_xilinx` counts of a grid of MVAU layers
# by benchmarks/calibrate_mvau.py (binary with LUT and block-RAM weights, 8-bit x +-1, 2-bit
# planes); the features are mvau_features' counts of the structures hwflow_mvau.v builds.
LUT_COEF = {"rom_xnor": 0.905, "xnor": 1.74, "pc_bits": 1.15, "prod_bits": 1.82, "plane_bits": 3.15,
            "plane_terms": 0.0, "rom": 0.0, "tab_sums": 0.0, "tab_mux": 2.69, "pe_logic": 0.17, "thr_rom": 1.15,
            "xbuf": 2.9, "const": 0.0}
FF_COEF = {"in_regs": 1.25, "w_regs": 0.704, "xn_regs": 0.855, "pe_regs": 1.43, "const": 48.2}


def mvau_features(m: "MVAU") -> dict[str, dict[str, float]]:
    """What the MVAU core instantiates, counted: {"lut": {...}, "ff": {...}} for the fitted model."""
    pe, simd, depth, nt = m.pe, m.simd, m.nf * m.sf, max(1, m.nt)   # nt: threshold ROM words
    syn, width = pe * simd, pe * simd * m.w_bits
    lut_rom = not m._weights_in_bram()
    # per PE: the accumulator, the comparators (or the dot output) and the output queue's word; a
    # single threshold with a 1-bit output is the accumulator's start value, no comparator
    biased = m.nt == 1 and m.out_bits == 1 and m.out_bias == 0
    per_pe = max(m.acc_bits, m.thresh_bits) + 2 if biased else m.acc_bits + m.nt * m.thresh_bits + m.out_bits
    lut = {"pe_logic": pe * per_pe,
           "thr_rom": pe * nt * m.thresh_bits * ceil(m.nf / 64) if m.nf > 1 else 0,
           "xbuf": simd * m.in_bits * ceil(m.sf / 32) if m.sf > 1 else 0, "const": 1}
    ff = {"in_regs": 2 * simd * m.in_bits, "pe_regs": pe * (m.acc_bits + m.out_bits), "const": 1}
    if m.binary:
        # A LUT ROM shares its LUTs with the XNOR: one LUT6 per 32 words of depth (5 address bits + x).
        # One word is a constant: its XNOR is an inversion the popcount absorbs.
        if lut_rom:
            lut["rom_xnor"] = syn * ceil(depth / 32) if depth > 1 else 0
        else:
            lut["xnor"] = syn
        lut["pc_bits"] = syn
        # (with one word, every PE's XNOR register equals x's or its inverse: synthesis keeps one)
        ff |= {"xn_regs": syn if depth > 1 else simd} if lut_rom else {"w_regs": 2 * width}
    else:
        lut["rom"] = width * ceil(depth / 64) if lut_rom and depth > 1 else 0
        if m.bit_planes:
            ni, nj = m.in_bits, m.w_bits
            nterm = ni * nj + (ni if nj == 1 else 0) + (nj if ni == 1 else 0)
            lut["plane_bits"] = syn * nterm                 # AND of plane pairs and their popcounts
            lut["plane_terms"] = pe * nterm * m.acc_bits     # shifted, signed, summed per PE
        elif m.sign_table:
            pcw = m.in_bits + 1 + clog2(simd)
            lut["tab_sums"] = (1 << simd) * simd * (m.in_bits + 1)   # shared: every sign pattern's sum
            lut["tab_mux"] = pe * pcw * ceil((1 << simd) / 4)        # per PE: pick one (4:1 per LUT6)
        else:
            lut["prod_bits"] = syn * (m.in_bits + 1) * m.w_bits
        ff["w_regs"] = 2 * width
    return {"lut": lut, "ff": ff}


@dataclass
class MVAU(Layer):
    name: str
    weights: np.ndarray                 # [MH, MW]: BIPOLAR as uint8 bits (1 = +1), else int8 values
    thresholds: np.ndarray | None       # int64 [MH] or [MH, NT], or None for the integer output
    pe: int = 1
    simd: int = 1
    ram_style: str = "auto"
    in_dtype: DataType = BIPOLAR        # BIPOLAR bits, or k-bit integers
    vectors: int = 1                    # input vectors per image (output pixels for a conv)
    simd_base: int = 0                  # SIMD must also divide this (input channels of a conv)
    out_act: DataType | None = None     # a k-bit activation's type (None: BIPOLAR bits)
    out_bias: int = 0                   # the activation's lowest level
    w_dtype: DataType = BIPOLAR         # BIPOLAR bits, or k-bit signed integers

    kind = "MVAU"
    rtl_cores = ("hwflow_mvau.v", "hwflow_outq.v")
    hls_headers = ("hwflow_mvau.h",)

    # --- shape and widths (the one place they are computed) ------------------------
    mw = property(lambda self: self.weights.shape[1])
    mh = property(lambda self: self.weights.shape[0])
    sf = property(lambda self: self.mw // self.simd)
    nf = property(lambda self: self.mh // self.pe)

    @property
    def binary(self) -> bool:
        """The XNOR-popcount datapath: +-1 inputs times +-1 weights."""
        return self.in_dtype == BIPOLAR and self.w_dtype == BIPOLAR

    @property
    def in_bits(self) -> int:
        return self.in_dtype.bitwidth()

    @property
    def w_bits(self) -> int:
        return self.w_dtype.bitwidth()

    @property
    def bit_planes(self) -> bool:
        """The integer datapath as popcounts of bit-plane pairs (hwflow_mvau.v INT_FORM 2), not
        products: for narrow multi-bit inputs over many elements, where Yosys counts it about equal
        (2-bit x 1-bit: +4% LUT, 2 x 2: -18%) and Verilator runs it 2-5x faster.
        Bipolar inputs keep the products (1 x 2 bits: +12% LUT by planes)."""
        return not self.binary and self.in_bits >= 2 and self.in_bits * self.w_bits <= 4 and self.simd >= 8

    @property
    def sign_table(self) -> bool:
        """+-1 weights on multi-bit inputs over few elements per beat (a conv net's first layer on
        RGB pixels): the 2^SIMD signed sums of a beat are computed once and each PE selects one
        with its weight bits (hwflow_mvau.v INT_FORM 3), when the PEs outnumber the sums enough to
        pay for the table."""
        return (not self.binary and self.w_bits == 1 and self.in_bits >= 2 and self.simd <= 4
                and self.pe >= 1 << (self.simd - 1))

    @property
    def acc_bits(self) -> int:
        """Popcount 0..MW, or a signed sum with |acc| <= MW * 2^(in_bits-1+w_bits-1) * 2 (one bit to spare)."""
        return clog2(self.mw + 1) if self.binary else self.in_bits + self.w_bits + clog2(self.mw) + 1

    @property
    def thresh_bits(self) -> int:
        """Thresholds 0..MW+1 on a popcount (MW+1: never fires), else signed like the accumulator."""
        return clog2(self.mw + 2) if self.binary else self.acc_bits

    @property
    def thresholds2d(self) -> np.ndarray:
        return np.asarray(self.thresholds, dtype=np.int64).reshape(self.mh, -1)

    @property
    def nt(self) -> int:
        """Thresholds per neuron (0: integer output)."""
        return 0 if self.thresholds is None else self.thresholds2d.shape[1]

    @property
    def out_dtype(self) -> DataType:
        if self.thresholds is not None:
            return self.out_act or BIPOLAR
        return int_type(self.acc_bits + 1 if self.binary else self.acc_bits, True)

    @property
    def out_bits(self) -> int:
        return self.out_dtype.bitwidth()

    @property
    def in_type(self) -> StreamType:
        return StreamType(self.in_dtype, self.vectors * self.mw, self.simd)

    @property
    def out_type(self) -> StreamType:
        return StreamType(self.out_dtype, self.vectors * self.mh, self.pe)

    # --- semantics ----------------------------------------------------------------
    def weight_values(self) -> np.ndarray:
        """The weights as the integers they stand for (+-1 for BIPOLAR bits)."""
        return 2 * self.weights.astype(np.int64) - 1 if self.w_dtype == BIPOLAR else self.weights.astype(np.int64)

    def execute(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        x = np.asarray(x, dtype=np.float32).reshape(n * self.vectors, self.mw)
        if self.binary:
            # matches = x.w + (1-x).(1-w) = 2 x.w - sum(x) - sum(w) + MW; the dot product is 2*matches - MW
            w = self.weights.astype(np.float32)
            xw = _exact_matmul(x, w.T, self.mw)
            acc = 2 * xw - x.sum(axis=1, dtype=np.int64)[:, None] - w.sum(axis=1, dtype=np.int64)[None, :] + self.mw
            dot = 2 * acc - self.mw
        else:
            if self.in_dtype == BIPOLAR:
                x = 2 * x - 1
            w = self.weight_values()
            amax = max(abs(self.in_dtype.min()), abs(self.in_dtype.max()))
            bound = int(np.abs(w).sum(axis=1).max(initial=0) * amax)
            acc = dot = _exact_matmul(x, w.T.astype(np.float32), bound)
        if self.thresholds is None:
            y = dot
        elif self.nt == 1 and not self.out_bias:
            y = (acc >= self.thresholds2d[:, 0][None, :]).astype(np.int64)
        else:
            y = self.out_bias + (acc[:, :, None] >= self.thresholds2d[None]).sum(axis=2, dtype=np.int64)
        return y.reshape(n, self.vectors * self.mh)

    def need(self, out_idx: np.ndarray) -> np.ndarray:
        return (out_idx // self.mh + 1) * self.mw - 1      # a whole input vector per output vector

    # --- folding ------------------------------------------------------------------
    def _simds(self, max_simd: int | None = None) -> list[int]:
        base = self.simd_base or self.mw
        return [d for d in divisors(self.mw) if base % d == 0 and (max_simd is None or d <= max_simd)] or [1]

    def fold_choices(self, max_in_width: int | None = None) -> list[dict]:
        cap = max_in_width // self.in_bits if max_in_width else None
        return [{"pe": pe, "simd": simd} for simd in self._simds(cap) for pe in divisors(self.mh)]

    def folding(self) -> dict:
        return {"pe": self.pe, "simd": self.simd, "ram_style": self.ram_style}

    def set_folding(self, cfg: dict) -> None:
        unknown = set(cfg) - {"pe", "simd", "ram_style"}
        if unknown:
            raise HwflowError(f"layer {self.name}: unknown folding keys {sorted(unknown)}; use pe, simd, ram_style")
        self.pe, self.simd = int(cfg.get("pe", self.pe)), int(cfg.get("simd", self.simd))
        self.ram_style = cfg.get("ram_style", self.ram_style)
        if self.ram_style not in ("auto", "block", "distributed"):
            raise HwflowError(f"layer {self.name}: ram_style must be auto, block or distributed")

    def check_folding(self) -> None:
        base = self.simd_base or self.mw
        if self.mw % self.simd or base % self.simd or self.mh % self.pe:
            raise HwflowError(
                f"layer {self.name}: SIMD={self.simd} must divide {base} and PE={self.pe} must divide "
                f"MH={self.mh}; valid SIMD: {self._simds()}, valid PE: {divisors(self.mh)}")

    # --- models -------------------------------------------------------------------
    def cycles(self) -> int:
        return self.vectors * self.nf * self.sf

    def max_cycles(self) -> int:
        return self.vectors * self.mw * self.mh

    def resources(self) -> dict:
        """LUT/FF: the fitted model (LUT_COEF, FF_COEF); BRAM18: the weight ROM's width in 36-bit
        ports times its depth in 512-word blocks, when the weights go to block RAM."""
        f = mvau_features(self)
        est = {k: sum(coef.get(n, 0.0) * v for n, v in f[k].items())
               for k, coef in (("lut", LUT_COEF), ("ff", FF_COEF))}
        depth, width = self.nf * self.sf, self.pe * self.simd * self.w_bits
        bram = ceil(width / 36) * ceil(depth / 512) if self._weights_in_bram() else 0
        return {"lut": int(round(est["lut"])), "ff": int(round(est["ff"])), "bram18": int(bram)}

    @property
    def weight_memory(self) -> str:
        """Where the weights go, as the estimate counts them and synthesis is told ("auto" left to
        the tool put a 224-deep ROM of SFC-W2A2 in LUTs, 46k LUT over the estimate's BRAM)."""
        return "block" if self._weights_in_bram() else "distributed"

    def _weights_in_bram(self) -> bool:
        if self.ram_style in ("block", "distributed"):
            return self.ram_style == "block"
        return self.nf * self.sf >= 128 and self.pe * self.simd * self.w_bits * self.nf * self.sf >= 16384

    # --- persistence --------------------------------------------------------------
    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name, "mw": self.mw, "mh": self.mh, "pe": self.pe,
                "simd": self.simd, "thresholded": self.thresholds is not None, "ram_style": self.ram_style,
                "in_dtype": self.in_dtype.name, "vectors": self.vectors, "simd_base": self.simd_base,
                "acc_bits": self.acc_bits, "thresh_bits": self.thresh_bits, "out_dtype": self.out_dtype.name,
                "nt": self.nt, "out_act": self.out_act.name if self.out_act else None, "out_bias": self.out_bias,
                "w_dtype": self.w_dtype.name}

    def arrays(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights} | ({"thresholds": self.thresholds} if self.thresholds is not None else {})

    @classmethod
    def from_json(cls, d: dict, arrays: dict[str, np.ndarray]) -> "MVAU":
        act = d.get("out_act")
        return cls(d["name"], arrays["weights"], arrays.get("thresholds"), d["pe"], d["simd"], d["ram_style"],
                   DataType[d["in_dtype"]], d["vectors"], d["simd_base"], DataType[act] if act else None,
                   d.get("out_bias", 0), DataType[d.get("w_dtype", "BIPOLAR")])

    # --- hardware -----------------------------------------------------------------
    def rtl_instance(self) -> tuple[str, dict]:
        thr = self.thresholds is not None
        return "hwflow_mvau", {
            "MW": self.mw, "MH": self.mh, "SIMD": self.simd, "PE": self.pe, "THRESH": int(thr),
            "IN_BITS": self.in_bits, "IN_SIGNED": int(self.in_signed), "W_BITS": self.w_bits,
            "INT_FORM": 2 if self.bit_planes else 3 if self.sign_table else 1, "ACC_W": self.acc_bits,
            "TW": self.thresh_bits, "OUT_BITS": self.out_bits, "NT": max(1, self.nt), "OUT_BIAS": self.out_bias,
            "WEIGHT_FILE": f'"{self.name}_weights.mem"',
            "THRESH_FILE": f'"{self.name}_thresh.mem"' if thr else '""', "RAM_STYLE": f'"{self.weight_memory}"'}

    def weight_words(self) -> list[str]:
        """Line nf*SF+sf holds W[nf*PE+p][sf*SIMD+s] at bits [(p*SIMD+s)*W_BITS +: W_BITS]
        (a bit for BIPOLAR, else two's complement); with bit planes, its bit j at
        [(p*W_BITS+j)*SIMD + s] instead (each PE's planes as whole words)."""
        w = self.weights.astype(np.int64).reshape(self.nf, self.pe, self.sf, self.simd).transpose(0, 2, 1, 3)
        w = w.reshape(self.nf * self.sf, self.pe * self.simd)
        if not self.bit_planes:
            return hex_words(w, self.w_bits)
        bits = element_bits(w, self.w_bits).reshape(len(w), self.pe, self.simd, self.w_bits)
        return hex_words(bits.transpose(0, 1, 3, 2).reshape(len(w), -1), 1)

    def hw_thresholds(self) -> np.ndarray:
        """Thresholds [MH, NT] as the cores hold them: 0..MW+1 on a popcount; on a signed sum
        clipped to the thresh_bits range, which keeps every comparison (|acc| < 2^(TW-2)
        never reaches the ends, so a clipped threshold still always or never fires)."""
        t = self.thresholds2d
        if self.binary:
            if t.min() < 0 or t.max() > self.mw + 1:
                raise HwflowError(f"layer {self.name}: thresholds must lie in 0..MW+1={self.mw + 1}")
            return t
        lim = 1 << (self.thresh_bits - 1)
        return np.clip(t, -lim, lim - 1)

    def threshold_words(self) -> list[str]:
        """Line nf holds T[nf*PE+p][j] (thresh_bits two's complement) at bits [(p*NT+j)*TW +: TW]."""
        return hex_words(self.hw_thresholds().reshape(self.nf, self.pe * self.nt), self.thresh_bits)

    def write_rtl_data(self, out: Path) -> None:
        write_lines(out / f"{self.name}_weights.mem", self.weight_words())
        if self.thresholds is not None:
            write_lines(out / f"{self.name}_thresh.mem", self.threshold_words())

    def fifo_depth(self) -> int:
        # it reads its input only during its first neuron fold: hold a whole input vector
        return self.sf + 2

    def hls_code(self, ident: str) -> tuple[list[str], list[str]]:
        pe, simd, nf, sf = self.pe, self.simd, self.nf, self.sf
        # weights[p][nf*SF+sf] bits [s*W_BITS +: W_BITS] = W[nf*PE+p][sf*SIMD+s], the RTL ROM's order split by PE
        wb = self.w_bits
        w = self.weights.astype(np.int64).reshape(nf, pe, sf, simd).transpose(1, 0, 2, 3).reshape(pe * nf * sf, simd)
        vals = row_values(element_bits(w, wb))
        wrows = [[c_literal(v, simd * wb) for v in vals[p * nf * sf:(p + 1) * nf * sf]] for p in range(pe)]
        decls = [f"static const ap_uint<{simd * wb}> {ident}_weights[{pe}][{nf * sf}] = {c_array(wrows)};"]
        thr = self.thresholds is not None
        if thr:
            # thresh[p][nf*NT + j] = T[nf*PE+p][j]
            t = self.hw_thresholds().reshape(nf, pe, self.nt).transpose(1, 0, 2).reshape(pe, nf * self.nt)
            ttype = f"ap_{'u' if self.binary else ''}int<{self.thresh_bits}>"
            decls.append(f"static const {ttype} {ident}_thresh[{pe}][{nf * self.nt}] = "
                         f"{c_array([[str(int(v)) for v in row] for row in t])};")
        dims = f"{self.mw}, {self.mh}, {simd}, {pe}"
        # a k-bit activation: thresholds per neuron, output width, lowest level
        act = "" if self.nt <= 1 and self.out_bits == 1 and not self.out_bias else \
            f", {self.nt}, {self.out_bits}, {self.out_bias}"
        reps = self.vectors
        if self.binary and thr:
            call = (f"hwflow::mvau_xnor_thresh<{dims}, {self.acc_bits}, {self.thresh_bits}{act}>"
                    f"(in, out, {ident}_weights, {ident}_thresh, {reps});")
        elif self.binary:
            call = f"hwflow::mvau_xnor_dot<{dims}, {self.acc_bits}>(in, out, {ident}_weights, {reps});"
        else:
            targs = f"{dims}, {self.in_bits}, {str(bool(self.in_signed)).lower()}, {wb}, {self.acc_bits}"
            if thr:
                call = (f"hwflow::mvau_int_thresh<{targs}, ap_int<{self.thresh_bits}>{act} >"
                        f"(in, out, {ident}_weights, {ident}_thresh, {reps});")
            else:
                call = f"hwflow::mvau_int_dot<{targs}>(in, out, {ident}_weights, {reps});"
        return decls, [call]

    # --- reports ------------------------------------------------------------------
    def describe(self) -> str:
        return f"{self.mw}x{self.mh}" + (f" x{self.vectors}" if self.vectors > 1 else "")
