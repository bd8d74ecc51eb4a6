"""Binary (1-bit weight, 1-bit activation) Brevitas MLPs, BNN-PYNQ style.

Each hidden layer is QuantLinear(1-bit, no bias) -> BatchNorm1d -> 1-bit QuantIdentity;
the last layer is a bare QuantLinear whose integer-valued sums are the logits.  All
quantizers use a constant scale of 1, so every weight and activation the hardware sees
is exactly +-1 and the exported QONNX graph needs no scale folding.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from hwflow.errors import HwflowError

# brevitas warns at import time about an optional CUDA kernel package it never needs here
warnings.filterwarnings("ignore", message=".*fast_hadamard_transform.*")
import brevitas.nn as qnn  # noqa: E402
from brevitas.quant import SignedBinaryActPerTensorConst, SignedBinaryWeightPerTensorConst

# name -> (layer sizes, input shape, description)
_NAMED: dict[str, tuple[tuple[int, ...], tuple[int, ...], str]] = {
    "tfc-w1a1": ((784, 64, 64, 64, 10), (1, 28, 28), "tiny FC 784-64-64-64-10, 1-bit W/A (BNN-PYNQ TFC)"),
    "sfc-w1a1": ((784, 256, 256, 256, 10), (1, 28, 28), "small FC 784-256-256-256-10, 1-bit W/A (BNN-PYNQ SFC)"),
    "lfc-w1a1": ((784, 1024, 1024, 1024, 10), (1, 28, 28), "large FC 784-1024x3-10, 1-bit W/A (BNN-PYNQ LFC)"),
    "mlp-w1a1": ((64, 64, 64, 10), (1, 8, 8), "MLP 64-64-64-10 for 8x8 digits, 1-bit W/A"),
}
_GENERIC = "mlp-w1a1:"

# Convolutional nets: (input shape, convs as (out channels, max-pool after), FC sizes, classes)
_CNV: dict[str, tuple[tuple[int, ...], tuple, tuple[int, ...], int, str]] = {
    "cnv-w1a1": ((3, 32, 32), ((64, False), (64, True), (128, False), (128, True), (256, False), (256, False)),
                 (512, 512), 10, "CNV 3x32x32, 6 conv 3x3 + 3 FC, 8-bit input, 1-bit W/A (BNN-PYNQ CNV)"),
    "cnv-small-w1a1": ((1, 28, 28), ((16, False), (16, True), (32, True), (32, False)), (64,), 10,
                       "small conv net for 1x28x28 (digits/MNIST): 4 conv 3x3 + 2 FC, 8-bit input, 1-bit W/A"),
}

MODELS: dict[str, str] = {name: desc for name, (_, _, desc) in _NAMED.items()}
MODELS.update({name: spec[-1] for name, spec in _CNV.items()})
MODELS["mlp-w1a1:N-H1-...-C"] = "generic 1-bit MLP with the given layer sizes (first = input features)"


def list_models() -> list[str]:
    """One line per model: ``name  description`` (for CLI help)."""
    width = max(len(n) for n in MODELS)
    return [f"{n.ljust(width)}  {d}" for n, d in MODELS.items()]


def _parse(name: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Resolve a model name to (sizes, per-image input shape); for conv nets sizes are the FC part."""
    if name in _CNV:
        shape, convs, fcs, classes, _ = _CNV[name]
        return (_cnv_flat_features(shape, convs), *fcs, classes), shape
    if name in _NAMED:
        sizes, shape, _ = _NAMED[name]
        return sizes, shape
    if name.startswith(_GENERIC):
        spec = name[len(_GENERIC):]
        try:
            sizes = tuple(int(s) for s in spec.split("-"))
        except ValueError:
            sizes = ()
        if len(sizes) < 2 or any(s < 1 for s in sizes):
            raise HwflowError(
                f"bad model size spec {name!r}: give positive layer sizes joined by '-', "
                f"at least input and output, e.g. mlp-w1a1:64-100-36-10"
            )
        n = sizes[0]
        s = math.isqrt(n)
        return sizes, ((1, s, s) if s * s == n else (n,))
    known = ", ".join(list(_NAMED) + ["mlp-w1a1:N-H1-...-C"])
    raise HwflowError(f"unknown model {name!r}: known models are {known}")


def input_shape(name: str) -> tuple[int, ...]:
    """Per-image input shape the model expects (without the batch dimension)."""
    return _parse(name)[1]


def layer_sizes(name: str) -> tuple[int, ...]:
    """(inputs, hidden..., classes) of the named topology, without building it."""
    return _parse(name)[0]


def _bin_act() -> nn.Module:
    # sign forward (sign(0)=+1), straight-through (clipped to [-1,1]) backward
    return qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=False)


class BinaryMLP(nn.Module):
    """1-bit MLP over ``sizes`` = (inputs, hidden..., classes); inputs in [0, 1]."""

    def __init__(self, sizes: tuple[int, ...] | list[int], dropout: float = 0.0):
        super().__init__()
        self.sizes = tuple(int(s) for s in sizes)
        if len(self.sizes) < 2:
            raise HwflowError("a BinaryMLP needs at least input and output sizes")
        self.input_quant = _bin_act()
        layers: list[nn.Module] = []
        pairs = list(zip(self.sizes[:-1], self.sizes[1:]))
        for i, (fin, fout) in enumerate(pairs):
            # Brevitas' binary weight quantizer defaults to scale 0.1; force 1.0 so weights
            # are exactly +-1 and the output layer's sums are integers (as BNN-PYNQ does)
            layers.append(
                qnn.QuantLinear(
                    fin, fout, bias=False, weight_quant=SignedBinaryWeightPerTensorConst, weight_scaling_const=1.0
                )
            )
            if i < len(pairs) - 1:
                layers.append(nn.BatchNorm1d(fout))
                layers.append(_bin_act())
                if dropout > 0:
                    # nn.Dropout is the identity in eval mode, so it vanishes from the export
                    layers.append(nn.Dropout(dropout))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # exports as a Reshape to [1, n]: run_qonnx re-batches it with ChangeBatchSize
        x = torch.flatten(x, 1)
        # BNN-PYNQ maps [0,1] pixels to [-1,1] so the input sign threshold sits at 0.5
        x = 2.0 * x - 1.0
        x = self.input_quant(x)
        return self.layers(x)

    @torch.no_grad()
    def clip_weights(self, lo: float = -1.0, hi: float = 1.0) -> None:
        """Keep latent float weights in [lo, hi] (BNN-PYNQ): the weight STE passes gradients
        at any magnitude, so unclipped weights drift far from 0 and stop flipping sign."""
        for m in self.modules():
            if isinstance(m, qnn.QuantLinear):
                m.weight.clamp_(lo, hi)


def _cnv_flat_features(shape, convs) -> int:
    side = shape[1]
    for _, pool in convs:
        side = (side - 2) // (2 if pool else 1)
    return convs[-1][0] * side * side


class BinaryCNV(nn.Module):
    """BNN-PYNQ-style conv net: 8-bit input, then 3x3 valid convs with 1-bit weights, BN and
    1-bit activations (max-pool after the activation where asked), then 1-bit FC layers."""

    def __init__(self, in_shape, convs, fcs, classes):
        super().__init__()
        from brevitas.quant import Int8ActPerTensorFixedPoint
        self.in_shape = tuple(in_shape)
        # fixed-point 8-bit input in [-1, 1 - 2^-7] (scale 2^-7), as BNN-PYNQ's CNV
        self.input_quant = qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, min_val=-1.0,
                                             max_val=1.0 - 2.0 ** -7, return_quant_tensor=False)
        layers: list[nn.Module] = []
        ch = in_shape[0]
        for out_ch, pool in convs:
            layers += [qnn.QuantConv2d(ch, out_ch, 3, bias=False, weight_quant=SignedBinaryWeightPerTensorConst,
                                       weight_scaling_const=1.0), nn.BatchNorm2d(out_ch), _bin_act()]
            if pool:
                layers.append(nn.MaxPool2d(2))
            ch = out_ch
        self.features = nn.Sequential(*layers)
        self.sizes = (_cnv_flat_features(in_shape, convs), *fcs, classes)
        self.classifier = BinaryMLP(self.sizes).layers  # FC part without the MLP's input quantizer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_quant(2.0 * x - 1.0)
        x = self.features(x)
        return self.classifier(torch.flatten(x, 1))

    @torch.no_grad()
    def clip_weights(self, lo: float = -1.0, hi: float = 1.0) -> None:
        for m in self.modules():
            if isinstance(m, (qnn.QuantLinear, qnn.QuantConv2d)):
                m.weight.clamp_(lo, hi)


def build_model(name: str, dropout: float = 0.0) -> nn.Module:
    """Build the named topology (see ``MODELS``); weights are freshly initialised."""
    sizes, _ = _parse(name)
    if name in _CNV:
        shape, convs, fcs, classes, _ = _CNV[name]
        return BinaryCNV(shape, convs, fcs, classes)
    return BinaryMLP(sizes, dropout=dropout)
