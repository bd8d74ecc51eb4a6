"""Brevitas networks in the BNN-PYNQ style at 1- or 2-bit weights and activations.

A model name is ``<topology>-w<W>a<A>`` (e.g. ``tfc-w1a1``, ``cnv-w2a2``), or
``mlp-w<W>a<A>:N-H1-...-C`` for an MLP of any layer sizes; ``parse`` resolves it once.

In the BNN-PYNQ topologies each hidden layer is QuantLinear/QuantConv2d (no bias) ->
BatchNorm -> activation quantizer; the last layer is a bare QuantLinear whose integer sums
are the logits.  All quantizers have a constant scale of 1, so every weight and activation
the hardware sees is exactly +-1 (1 bit) or -1/0/+1 (2 bits, signed narrow range, as
BNN-PYNQ's ``CommonQuant``) and the exported QONNX graph needs no scale folding.

``resnet-small`` is a Bi-Real-style binary ResNet: every 3x3 conv reads the sign (or the
ternary level) of a residual stream and has its own shortcut; the residual stream is 4-bit
with learned power-of-two scales, shared between the two inputs of each add (see
``BiRealUnit``).
"""

from __future__ import annotations

import functools
import math
import re
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from hwflow.errors import HwflowError

# brevitas warns at import time about an optional CUDA kernel package it never needs here
warnings.filterwarnings("ignore", message=".*fast_hadamard_transform.*")
import brevitas.nn as qnn  # noqa: E402
from brevitas.core.bit_width import BitWidthImplType  # noqa: E402
from brevitas.core.quant import QuantType  # noqa: E402
from brevitas.core.restrict_val import FloatToIntImplType, RestrictValueType  # noqa: E402
from brevitas.core.scaling import ScalingImplType  # noqa: E402
from brevitas.core.zero_point import ZeroZeroPoint  # noqa: E402
from brevitas.inject import ExtendedInjector  # noqa: E402
from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst  # noqa: E402
from brevitas.quant.solver import ActQuantSolver, WeightQuantSolver  # noqa: E402

PRECISIONS = ("w1a1", "w1a2", "w2a2")  # the ones BNN-PYNQ trains and the hardware flow builds
DROPOUT = 0.2  # BNN-PYNQ's FC.py: after the input quantizer and after every hidden activation

# topology -> (layer sizes, input shape, description)
_FC: dict[str, tuple[tuple[int, ...], tuple[int, ...], str]] = {
    "tfc": ((784, 64, 64, 64, 10), (1, 28, 28), "tiny FC 784-64-64-64-10 (BNN-PYNQ TFC)"),
    "sfc": ((784, 256, 256, 256, 10), (1, 28, 28), "small FC 784-256-256-256-10 (BNN-PYNQ SFC)"),
    "lfc": ((784, 1024, 1024, 1024, 10), (1, 28, 28), "large FC 784-1024x3-10 (BNN-PYNQ LFC)"),
    "mlp": ((64, 64, 64, 10), (1, 8, 8), "MLP 64-64-64-10 for 8x8 digits"),
}
# topology -> (input shape, convs as (out channels, max-pool after), FC sizes, classes, description)
_CONV: dict[str, tuple[tuple[int, ...], tuple, tuple[int, ...], int, str]] = {
    "cnv": ((3, 32, 32), ((64, False), (64, True), (128, False), (128, True), (256, False), (256, False)),
            (512, 512), 10, "CNV 3x32x32, 6 conv 3x3 + 3 FC, 8-bit input (BNN-PYNQ CNV)"),
    "cnv-small": ((1, 28, 28), ((16, False), (16, True), (32, True), (32, False)), (64,), 10,
                  "small conv net for 1x28x28 (digits/MNIST): 4 conv 3x3 + 2 FC, 8-bit input"),
}
# topology -> (input shape, stem channels, stages as (channels, units), classes, description);
# the first unit of every stage after the first halves the map with stride 2
_RES: dict[str, tuple[tuple[int, ...], int, tuple, int, str]] = {
    "resnet-small": ((1, 28, 28), 32, ((32, 2), (64, 2)), 10,
                     "Bi-Real-style binary ResNet for 1x28x28: 3x3 stem + max-pool, 2 stages x 2 units "
                     "(32, 64 ch), stride-2 downsampling, 4-bit shortcuts, global avg-pool, 8-bit input"),
}
RESIDUAL_BITS = 4  # the residual stream's quantizer: signed, learned power-of-two per-tensor scale
_NAME = re.compile(r"(?P<topology>[a-z][a-z-]*?)-w(?P<w>\d+)a(?P<a>\d+)(?P<sizes>:.*)?")
_KNOWN = (f"name a topology ({', '.join([*_FC, *_CONV, *_RES])}) and a precision ({', '.join(PRECISIONS)}) as in "
          f"tfc-w1a1 or cnv-w2a2, or MLP layer sizes as in mlp-w1a1:64-100-10 (list: hwflow models)")


def _precision_text(p: str) -> str:
    w, a = p[1], p[3]
    return "1-bit W/A" if p == "w1a1" else f"{w}-bit weights, {a}-bit activations"


MODELS: dict[str, str] = {f"{t}-{p}": f"{spec[-1]}, {_precision_text(p)}"
                          for t, spec in {**_FC, **_CONV, **_RES}.items() for p in PRECISIONS}
MODELS["mlp-wWaA:N-H1-...-C"] = "generic MLP with the given layer sizes (first = input features), any precision above"


def list_models() -> list[str]:
    """One line per model: ``name  description`` (for CLI help)."""
    width = max(len(n) for n in MODELS)
    return [f"{n.ljust(width)}  {d}" for n, d in MODELS.items()]


@dataclass(frozen=True)
class Spec:
    """A parsed model name."""

    name: str
    topology: str
    weight_bits: int
    act_bits: int
    sizes: tuple[int, ...]  # FC sizes (inputs, hidden..., classes); conv nets: inputs = flattened conv output
    input_shape: tuple[int, ...]  # per image, without the batch dimension
    convs: tuple[tuple[int, bool], ...] = ()  # conv nets: (out channels, max-pool after) per 3x3 conv
    stages: tuple[tuple[int, int], ...] = ()  # residual nets: (channels, units) per stage
    stem: int = 0  # residual nets: the stem conv's channels

    @property
    def conv(self) -> bool:
        """A conv net (CNV-style or residual) rather than an MLP."""
        return bool(self.convs or self.stages)


@functools.lru_cache(maxsize=None)
def parse(name: str) -> Spec:
    """Resolve a model name (see the module docstring); raises a one-line HwflowError."""
    m = _NAME.fullmatch(name)
    if m is None or m["topology"] not in (*_FC, *_CONV, *_RES):
        raise HwflowError(f"unknown model {name!r}: {_KNOWN}")
    topology, precision = m["topology"], f"w{m['w']}a{m['a']}"
    if precision not in PRECISIONS:
        raise HwflowError(f"unsupported precision {precision} in {name!r}: use {', '.join(PRECISIONS)}, "
                          f"e.g. {topology}-w1a2")
    wbits, abits = int(m["w"]), int(m["a"])
    if topology != "mlp" and m["sizes"] is not None:
        raise HwflowError(f"layer sizes only go with mlp (e.g. mlp-{precision}:64-100-10), not {name!r}")
    if topology in _RES:
        shape, stem, stages, classes, _ = _RES[topology]
        return Spec(name, topology, wbits, abits, (stages[-1][0], classes), shape, stages=stages, stem=stem)
    if topology in _CONV:
        shape, convs, fcs, classes, _ = _CONV[topology]
        return Spec(name, topology, wbits, abits, (_cnv_flat_features(shape, convs), *fcs, classes), shape, convs)
    if m["sizes"] is None:
        sizes, shape, _ = _FC[topology]
        return Spec(name, topology, wbits, abits, sizes, shape)
    try:
        sizes = tuple(int(s) for s in m["sizes"][1:].split("-"))
    except ValueError:
        sizes = ()
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise HwflowError(f"bad model size spec {name!r}: give positive layer sizes joined by '-', "
                          f"at least input and output, e.g. mlp-{precision}:64-100-36-10")
    s = math.isqrt(sizes[0])
    return Spec(name, topology, wbits, abits, sizes, (1, s, s) if s * s == sizes[0] else (sizes[0],))


def input_shape(name: str) -> tuple[int, ...]:
    """Per-image input shape the model expects (without the batch dimension)."""
    return parse(name).input_shape


def layer_sizes(name: str) -> tuple[int, ...]:
    """(inputs, hidden..., classes) of the named topology's FC part, without building it."""
    return parse(name).sizes


# ------------------------------------------------------------------------------ quantizers


class _Int2Const(ExtendedInjector):
    """BNN-PYNQ's ``CommonQuant`` at 2 bits: signed narrow range (-1, 0, +1), round to
    nearest (ties to even), constant per-tensor scale."""

    quant_type = QuantType.INT
    bit_width = 2
    bit_width_impl_type = BitWidthImplType.CONST
    scaling_impl_type = ScalingImplType.CONST
    restrict_scaling_type = RestrictValueType.FP
    scaling_per_output_channel = False
    zero_point_impl = ZeroZeroPoint
    float_to_int_impl_type = FloatToIntImplType.ROUND
    narrow_range = True
    signed = True


class TernaryWeight(_Int2Const, WeightQuantSolver):
    scaling_const = 1.0


class TernaryAct(_Int2Const, ActQuantSolver):
    # range [-1, 1] over the 1 positive level: scale 1, threshold at +-0.5
    min_val = -1.0
    max_val = 1.0


def _act(bits: int) -> nn.Module:
    # 1 bit: sign (sign(0) = +1); 2 bits: round to -1/0/+1; straight-through (clipped to
    # [-1, 1]) backward either way
    quant = SignedBinaryActPerTensorConst if bits == 1 else TernaryAct
    return qnn.QuantIdentity(act_quant=quant, return_quant_tensor=False)


def _weight_quant(bits: int) -> dict:
    # Brevitas' binary weight quantizer defaults to scale 0.1; force 1.0 so weights are
    # exactly +-1 and the output layer's sums are integers (as BNN-PYNQ does)
    if bits == 1:
        return {"weight_quant": SignedBinaryWeightPerTensorConst, "weight_scaling_const": 1.0}
    return {"weight_quant": TernaryWeight}


def _fc_layers(sizes, wbits: int, abits: int, dropout: float) -> nn.Sequential:
    """Dropout, then per hidden layer QuantLinear -> BN -> act -> Dropout; a bare QuantLinear last.
    The Dropout modules exist even at p = 0 so the state dict does not depend on p; they are
    the identity in eval mode and vanish from the export."""
    layers: list[nn.Module] = [nn.Dropout(dropout)]
    pairs = list(zip(sizes[:-1], sizes[1:]))
    for i, (fin, fout) in enumerate(pairs):
        layers.append(qnn.QuantLinear(fin, fout, bias=False, **_weight_quant(wbits)))
        if i < len(pairs) - 1:
            layers += [nn.BatchNorm1d(fout), _act(abits), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


def _init_ternary(model: nn.Module, wbits: int) -> None:
    # Ternary weights round |w| < 0.5 to 0: torch's default init (|w| <= 1/sqrt(fan-in)) would
    # start every weight at 0.  BNN-PYNQ draws them from U(-1, 1): about half start non-zero.
    if wbits == 2:
        for m in model.modules():
            if isinstance(m, (qnn.QuantLinear, qnn.QuantConv2d)):
                nn.init.uniform_(m.weight, -1.0, 1.0)


class _Clip:
    @torch.no_grad()
    def clip_weights(self, lo: float = -1.0, hi: float = 1.0) -> None:
        """Keep latent float weights in [lo, hi] (BNN-PYNQ): the weight STE passes gradients
        at any magnitude, so unclipped weights drift far from 0 and stop flipping."""
        for m in self.modules():
            if isinstance(m, (qnn.QuantLinear, qnn.QuantConv2d)):
                m.weight.clamp_(lo, hi)


# ------------------------------------------------------------------------------ models


class QuantMLP(_Clip, nn.Module):
    """MLP over ``sizes`` = (inputs, hidden..., classes); inputs in [0, 1]."""

    def __init__(self, sizes, weight_bits: int = 1, act_bits: int = 1, dropout: float = 0.0):
        super().__init__()
        self.sizes = tuple(int(s) for s in sizes)
        if len(self.sizes) < 2:
            raise HwflowError("an MLP needs at least input and output sizes")
        # BNN-PYNQ's FC quantizes its input at the activation bit width (IN_BIT_WIDTH = ACT_BIT_WIDTH)
        self.input_quant = _act(act_bits)
        self.layers = _fc_layers(self.sizes, weight_bits, act_bits, dropout)
        _init_ternary(self, weight_bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # exports as a Reshape to [1, n]: run_qonnx re-batches it with ChangeBatchSize
        x = torch.flatten(x, 1)
        # BNN-PYNQ maps [0,1] pixels to [-1,1]: the 1-bit input threshold sits at 0.5, the
        # 2-bit ones at 0.25 and 0.75
        x = 2.0 * x - 1.0
        x = self.input_quant(x)
        return self.layers(x)


def _cnv_flat_features(shape, convs) -> int:
    side = shape[1]
    for _, pool in convs:
        side = (side - 2) // (2 if pool else 1)
    return convs[-1][0] * side * side


class QuantCNV(_Clip, nn.Module):
    """BNN-PYNQ-style conv net: 8-bit input, then 3x3 valid convs with BN and quantized
    activations (max-pool after the activation where asked), then the FC layers."""

    def __init__(self, in_shape, convs, fcs, classes, weight_bits: int = 1, act_bits: int = 1, dropout: float = 0.0):
        super().__init__()
        from brevitas.quant import Int8ActPerTensorFixedPoint
        self.in_shape = tuple(in_shape)
        # fixed-point 8-bit input in [-1, 1 - 2^-7] (scale 2^-7), as BNN-PYNQ's CNV
        self.input_quant = qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, min_val=-1.0,
                                             max_val=1.0 - 2.0 ** -7, return_quant_tensor=False)
        layers: list[nn.Module] = []
        ch = in_shape[0]
        for out_ch, pool in convs:
            layers += [qnn.QuantConv2d(ch, out_ch, 3, bias=False, **_weight_quant(weight_bits)),
                       nn.BatchNorm2d(out_ch), _act(act_bits)]
            if pool:
                layers.append(nn.MaxPool2d(2))
            ch = out_ch
        self.features = nn.Sequential(*layers)
        self.sizes = (_cnv_flat_features(in_shape, convs), *fcs, classes)
        self.classifier = _fc_layers(self.sizes, weight_bits, act_bits, dropout)
        _init_ternary(self, weight_bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_quant(2.0 * x - 1.0)
        x = self.features(x)
        return self.classifier(torch.flatten(x, 1))


def _residual_quant() -> nn.Module:
    # Signed 4-bit with a learned power-of-two scale (Brevitas's fixed-point quantizer).  With
    # any other scale the float model is not exact: q1*s + q2*s rounds differently from
    # (q1 + q2)*s, and where the quantizer after an add meets a tie (its scale a multiple of
    # the summands', as a stats-initialised scale over a saturated sum is) torch's level
    # depends on how the sum splits, which no integer hardware can follow.  With powers of two
    # every product, sum and division is exact in float32, so torch rounds the exact value.
    from brevitas.quant import Int8ActPerTensorFixedPoint
    return qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=RESIDUAL_BITS, return_quant_tensor=False)


class BiRealUnit(nn.Module):
    """x -> act(x) -> 3x3 conv (stride 1 or 2, zero 'same' padding) -> BN, plus the shortcut.

    Both inputs of the add carry one quantizer (``q_branch``), so the add is an add of
    integer levels in hardware; ``q_out`` requantizes the sum to 4 bits.  An identity
    shortcut shares the quantizer that made ``x``; a downsampling one (stride 2 or more
    channels) is AvgPool2d(stride) -> 1x1 conv -> BN, as in Bi-Real Net, with a new quantizer
    that the main branch shares.  The zero padding of the +-1 activations makes the conv's
    input {-1, 0, +1} at the borders, which the hardware streams as 2-bit integers."""

    def __init__(self, cin: int, cout: int, stride: int, q_in: nn.Module, weight_bits: int, act_bits: int):
        super().__init__()
        self.act = _act(act_bits)
        self.conv = qnn.QuantConv2d(cin, cout, 3, stride=stride, padding=1, bias=False, **_weight_quant(weight_bits))
        self.bn = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(
                nn.AvgPool2d(stride),
                qnn.QuantConv2d(cin, cout, 1, bias=False, **_weight_quant(weight_bits)),
                nn.BatchNorm2d(cout))
        self.q_branch = q_in if self.short is None else _residual_quant()
        self.q_out = _residual_quant()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.q_branch(self.bn(self.conv(self.act(x))))
        r = x if self.short is None else self.q_branch(self.short(x))
        return self.q_out(y + r)


class QuantResNet(_Clip, nn.Module):
    """8-bit input -> 3x3 stem conv -> BN -> 4-bit quantizer -> 2x2 max-pool -> Bi-Real units
    -> global average pool -> bare QuantLinear (the logits)."""

    def __init__(self, in_shape, stem: int, stages, classes: int, weight_bits: int = 1, act_bits: int = 1):
        super().__init__()
        from brevitas.quant import Int8ActPerTensorFixedPoint
        self.in_shape = tuple(in_shape)
        self.input_quant = qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, min_val=-1.0,
                                             max_val=1.0 - 2.0 ** -7, return_quant_tensor=False)
        self.stem = nn.Sequential(qnn.QuantConv2d(in_shape[0], stem, 3, padding=1, bias=False,
                                                  **_weight_quant(weight_bits)), nn.BatchNorm2d(stem))
        self.stem_quant = _residual_quant()
        self.pool = nn.MaxPool2d(2)
        units, q, ch = [], self.stem_quant, stem
        for i, (out_ch, n) in enumerate(stages):
            for j in range(n):
                units.append(BiRealUnit(ch, out_ch, 2 if i > 0 and j == 0 else 1, q, weight_bits, act_bits))
                q, ch = units[-1].q_out, out_ch
        self.units = nn.Sequential(*units)
        self.fc = qnn.QuantLinear(ch, classes, bias=False, **_weight_quant(weight_bits))
        self.sizes = (ch, classes)
        _init_ternary(self, weight_bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.stem_quant(self.stem(self.input_quant(2.0 * x - 1.0))))
        x = self.units(x)
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def default_dropout(name: str) -> float:
    """BNN-PYNQ's dropout for the topology: FC nets use it, conv nets do not."""
    return 0.0 if parse(name).conv else DROPOUT


def build_model(name: str, dropout: float | None = None) -> nn.Module:
    """Build the named model (see ``MODELS``) with fresh weights; ``dropout`` defaults to
    ``default_dropout(name)``."""
    s = parse(name)
    p = default_dropout(name) if dropout is None else float(dropout)
    if not 0.0 <= p < 1.0:
        raise HwflowError(f"dropout must be in [0, 1), got {p}")
    if s.stages:
        if p:
            raise HwflowError(f"{name} has no dropout layers: leave dropout at 0")
        return QuantResNet(s.input_shape, s.stem, s.stages, s.sizes[-1], s.weight_bits, s.act_bits)
    if s.convs:
        return QuantCNV(s.input_shape, s.convs, s.sizes[1:-1], s.sizes[-1], s.weight_bits, s.act_bits, p)
    return QuantMLP(s.sizes, s.weight_bits, s.act_bits, p)
