"""The hardware network as a graph of named streams between layers.

Every layer reads input streams and writes output streams by name; the graph's own
inputs and outputs are streams without a producer / consumer.  The stitcher, the FIFO
and width-converter insertion and the simulators walk this graph.  Today's networks
are chains (`StreamGraph.chain`); fan-out, adds and concatenations are further layers
with more than one stream on a side, in the same graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hwflow.errors import HwflowError
from hwflow.layers import Layer, StreamType


@dataclass
class StreamGraph:
    layers: list[Layer]                                   # in topological order
    wires: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)  # layer -> (ins, outs)

    @classmethod
    def chain(cls, layers: list[Layer]) -> "StreamGraph":
        """Layer i reads stream s<i> and writes s<i+1>."""
        return cls(list(layers), {lay.name: ([f"s{i}"], [f"s{i + 1}"]) for i, lay in enumerate(layers)})

    @classmethod
    def of(cls, net: "StreamGraph | list[Layer]") -> "StreamGraph":
        """A stream graph as given, or the chain of a list of layers."""
        return net if isinstance(net, cls) else cls.chain(net)

    def __post_init__(self):
        if not self.wires:
            self.wires = StreamGraph.chain(self.layers).wires
        names = [lay.name for lay in self.layers]
        if len(set(names)) != len(names):
            raise HwflowError(f"layer names must be distinct: {names}")
        seen: set[str] = set(self.inputs)
        for lay in self.layers:
            ins, outs = self.wires[lay.name]
            if len(ins) != 1 or len(outs) != 1:
                raise HwflowError(f"layer {lay.name}: only one input and one output stream are supported")
            missing = [s for s in ins if s not in seen]
            if missing:
                raise HwflowError(f"layer {lay.name} reads {missing} before any layer writes it")
            seen.update(outs)

    # --- structure ----------------------------------------------------------------
    def ins(self, layer: Layer) -> list[str]:
        return self.wires[layer.name][0]

    def outs(self, layer: Layer) -> list[str]:
        return self.wires[layer.name][1]

    def producer(self, stream: str) -> Layer | None:
        return next((lay for lay in self.layers if stream in self.outs(lay)), None)

    def consumers(self, stream: str) -> list[Layer]:
        return [lay for lay in self.layers if stream in self.ins(lay)]

    @property
    def inputs(self) -> list[str]:
        """Streams no layer writes: the network's inputs, in the order layers read them."""
        written = {s for _, outs in self.wires.values() for s in outs}
        return list(dict.fromkeys(s for lay in self.layers for s in self.ins(lay) if s not in written))

    @property
    def outputs(self) -> list[str]:
        read = {s for ins, _ in self.wires.values() for s in ins}
        return [s for lay in self.layers for s in self.outs(lay) if s not in read]

    @property
    def first(self) -> Layer:
        """The layer that reads the network's input stream."""
        return self.consumers(self.inputs[0])[0]

    @property
    def last(self) -> Layer:
        """The layer that writes the network's output stream."""
        return self.producer(self.outputs[0])

    def stream_type(self, stream: str) -> StreamType:
        prod = self.producer(stream)
        return prod.out_type if prod is not None else self.consumers(stream)[0].in_type

    def neighbours(self, layer: Layer) -> tuple[Layer | None, Layer | None]:
        """(producer of its input, the consumer of its output), None at the network's edges."""
        cons = self.consumers(self.outs(layer)[0])
        return self.producer(self.ins(layer)[0]), (cons[0] if cons else None)

    def edges(self):
        """(stream, producer, consumer) for every stream between two layers, in order."""
        for lay in self.layers:
            for s in self.outs(lay):
                for cons in self.consumers(s):
                    yield s, lay, cons

    # --- checks -------------------------------------------------------------------
    def check(self) -> None:
        """Every layer's folding is valid and every stream's two ends agree on what it carries."""
        for lay in self.layers:
            lay.check_folding()
        for s, prod, cons in self.edges():
            a, b = prod.out_type, cons.in_type
            if a.dtype != b.dtype:
                raise HwflowError(f"layer {prod.name} writes {a.dtype.name} elements on {s} but {cons.name} "
                                  f"reads {b.dtype.name}")
            if a.elems != b.elems:
                raise HwflowError(f"layer {prod.name} writes {a.elems} elements per image on {s} but {cons.name} "
                                  f"reads {b.elems}")
            bits = a.elems * a.elem_bits
            if a.width != b.width and (bits % a.width or bits % b.width):
                raise HwflowError(f"layers {prod.name} -> {cons.name}: {bits} bits per image is not a multiple "
                                  f"of both stream widths ({a.width}, {b.width})")
        if len(self.inputs) != 1 or len(self.outputs) != 1:
            raise HwflowError(f"the network must have one input and one output stream, not {self.inputs} and "
                              f"{self.outputs}")

    # --- folding ------------------------------------------------------------------
    def tie_widths(self) -> None:
        """Layers without a folding of their own take it from their neighbours."""
        for lay in self.layers:
            if not lay.fold_choices():
                lay.tie(*self.neighbours(lay))
