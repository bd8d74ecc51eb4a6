"""The hardware network as a graph of named streams between layers.

Every layer reads input streams and writes output streams by name (one per port, in port
order); the graph's own input and output are streams without a producer / consumer.  Every
other stream has exactly one producer and one consumer: fan-out is an explicit layer (Dup),
as are adds and concatenations, with more than one stream on a side.  Layers are kept in
topological order.  The stitcher, the FIFO and width-converter insertion and the
simulators walk this graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hwflow.errors import HwflowError
from hwflow.layers import Layer, StreamType


# beats of the FIFO on every stream between two layers, unless its consumer needs more
FIFO_DEPTH = 4


def fifo_depth_for(layer: Layer, minimum: int = FIFO_DEPTH) -> int:
    """A FIFO in front of `layer` deep enough that its bursty reads do not stall its producer."""
    return max(minimum, layer.fifo_depth())


def fifo_resources(width: int, depth: int) -> dict:
    """hwflow_fifo: an output register, and a ring of depth - 1 beats in FFs (up to 3) or LUT RAM."""
    ring = depth - 1 > 3
    lut = 18 + 1.05 * width + ring * (18 + 0.23 * width * -(-(depth - 1) // 64))
    ff = 10 + 0.91 * width + ring * (13 + 0.18 * width * -(-(depth - 1) // 64))
    return {"lut": int(round(lut)), "ff": int(round(ff)), "bram18": 0}


def dwc_resources(iw: int, ow: int) -> dict:
    """hwflow_dwc: a narrowing one muxes the wide beat down, a widening one collects beats."""
    lut = 2 * iw - 2 * ow + 15 if iw > ow else ow + 8
    return {"lut": lut, "ff": 2 * max(iw, ow) + 4, "bram18": 0}


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
        readers: dict[str, str] = {}
        for lay in self.layers:
            ins, outs = self.wires[lay.name]
            if len(ins) != len(lay.in_types) or len(outs) != len(lay.out_types):
                raise HwflowError(f"layer {lay.name}: {len(ins)} input and {len(outs)} output streams wired, "
                                  f"its kind has {len(lay.in_types)} and {len(lay.out_types)}")
            missing = [s for s in ins if s not in seen]
            if missing:
                raise HwflowError(f"layer {lay.name} reads {missing} before any layer writes it")
            for s in ins:
                if s in readers:
                    raise HwflowError(f"stream {s} is read by {readers[s]} and {lay.name}: fan-out needs a Dup layer")
                readers[s] = lay.name
            twice = [s for s in outs if s in seen]
            if twice:
                raise HwflowError(f"layer {lay.name} writes {twice}, which another layer writes")
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

    def port(self, stream: str) -> tuple[Layer | None, int, Layer | None, int]:
        """(producer, its output port, consumer, its input port) of a stream (None, -1 at the edges)."""
        prod = self.producer(stream)
        cons = self.consumers(stream)
        return (prod, self.outs(prod).index(stream) if prod else -1,
                cons[0] if cons else None, self.ins(cons[0]).index(stream) if cons else -1)

    def stream_type(self, stream: str) -> StreamType:
        prod, i, cons, j = self.port(stream)
        return prod.out_types[i] if prod is not None else cons.in_types[j]

    def neighbours(self, layer: Layer) -> tuple[Layer | None, Layer | None]:
        """(producer of its first input, the consumer of its first output), None at the network's edges."""
        cons = self.consumers(self.outs(layer)[0])
        return self.producer(self.ins(layer)[0]), (cons[0] if cons else None)

    def edges(self):
        """(stream, producer, consumer) for every stream between two layers, in order."""
        for lay in self.layers:
            for s in self.outs(lay):
                for cons in self.consumers(s):
                    yield s, lay, cons

    def edge_types(self, stream: str) -> tuple[StreamType, StreamType]:
        """The stream's type as its producer writes it and as its consumer reads it."""
        prod, i, cons, j = self.port(stream)
        return prod.out_types[i], cons.in_types[j]

    # --- checks -------------------------------------------------------------------
    def check(self) -> None:
        """Every layer's folding is valid and every stream's two ends agree on what it carries."""
        for lay in self.layers:
            lay.check_folding()
        for s, prod, cons in self.edges():
            a, b = self.edge_types(s)
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
        """Layers without a folding of their own take it from their neighbours, repeated
        until it settles (a run of such layers passes a width along)."""
        followers = [lay for lay in self.layers if not lay.fold_choices()]
        for _ in range(len(followers) + 1):
            before = [(lay.in_epb, lay.out_epb) for lay in followers]
            for lay in followers:
                lay.tie(*self.neighbours(lay))
            if before == [(lay.in_epb, lay.out_epb) for lay in followers]:
                return

    # --- FIFO sizing ------------------------------------------------------------------
    def fifo_depths(self) -> dict[str, int]:
        """Depths (beats) of the streams into a join (an add, a concatenation) whose inputs
        fork from one Dup: the short branch (a shortcut) must hold what the Dup sends it while
        the long branch is still reading its way to the same elements, or the Dup stalls on
        the full shortcut, the long branch starves and the join waits forever.

        Along each branch, `Layer.need` maps an element the join reads to the last element
        of the Dup's stream the branch must have read to produce it.  A branch must buffer,
        at its join input, the elements it can already produce while the other branch still
        needs more of the Dup's stream; a quarter more, and 8 beats, are kept for the
        branches' burstiness (the rate then matches, checked in rtlsim)."""
        depths: dict[str, int] = {}
        for join in (lay for lay in self.layers if len(lay.in_types) > 1):
            paths = [self._branch(s) for s in self.ins(join)]
            if any(p is None for p in paths) or len({fork for fork, _ in paths}) != 1:
                continue
            needs = []  # per unit the join reads together (an element, or a pixel of a concatenation)
            for port, (s, (_, layers)) in enumerate(zip(self.ins(join), paths)):
                j = np.arange(self.stream_type(s).elems)
                for lay in layers:                      # from the join back to the fork
                    j = lay.need(j)
                needs.append(np.maximum.accumulate(j).reshape(-1, join.join_unit(port))[:, -1])
            for i, s in enumerate(self.ins(join)):
                other = np.max([n for k, n in enumerate(needs) if k != i], axis=0)
                ready = np.searchsorted(needs[i], other, side="right")   # units branch i can have written
                backlog = int(np.max(ready - np.arange(len(other)), initial=0)) * join.join_unit(i)
                epb = self.edge_types(s)[1].epb
                depths[s] = max(fifo_depth_for(join), -(-backlog * 5 // 4 // epb) + 8)
        return depths

    def edge_depths(self, fifo_depth: int = FIFO_DEPTH, depths: dict[str, int] | None = None) -> dict[str, int]:
        """The FIFO depth (beats) on every stream between two layers: a join's input as
        `fifo_depths` sizes it (or as `depths` gives it), any other what its consumer needs."""
        depths = self.fifo_depths() if depths is None else depths
        return {s: depths.get(s, fifo_depth_for(cons, fifo_depth)) for s, _, cons in self.edges()}

    # --- resources ----------------------------------------------------------------------
    def stream_resources(self) -> dict:
        """Estimated LUT/FF/BRAM of what the top puts on the streams between layers: a FIFO on
        each, and a width converter where the two sides' beats differ.  Fitted to Yosys
        synth_xilinx on hwflow_fifo (8-256 bits, 4-300 beats) and hwflow_dwc (8-512 bits), about
        15% worst case; CNV-W1A1's streams take about 1,800 LUTs."""
        total = {"lut": 0, "ff": 0, "bram18": 0}
        for s, depth in self.edge_depths().items():
            a, b = self.edge_types(s)
            for k, v in fifo_resources(b.width, depth).items():
                total[k] += v
            if a.width != b.width:
                for k, v in dwc_resources(a.width, b.width).items():
                    total[k] += v
        return total

    def _branch(self, stream: str):
        """(the Dup a join input forks from, the layers from the join back to it), or None."""
        layers = []
        prod = self.producer(stream)
        while prod is not None and prod.kind != "Dup":
            layers.append(prod)
            prod = self.producer(self.ins(prod)[0])
        return (prod.name, layers) if prod is not None else None
