"""Small helpers on top of qonnx's ModelWrapper shared by the graph passes.

Kept apart from the passes so that streamlining and lowering read as the
rewrites they are, not as protobuf bookkeeping.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.transformation.infer_shapes import InferShapes

QONNX_DOMAIN = "qonnx.custom_op.general"


def node_label(node) -> str:
    return f"{node.op_type} node '{node.name}'" if node.name else f"{node.op_type} node"


def is_const(model: ModelWrapper, tensor: str) -> bool:
    return model.get_initializer(tensor) is not None


def single_consumer(model: ModelWrapper, tensor: str):
    """The one node reading `tensor`, or None if zero or several do (or it is a graph output)."""
    if tensor in [o.name for o in model.graph.output]:
        return None
    consumers = model.find_consumers(tensor) or []
    return consumers[0] if len(consumers) == 1 else None


def replace_nodes(model: ModelWrapper, old: list, new: list) -> None:
    """Put `new` where the first of `old` stood and drop all of `old` (keeps topological order)."""
    nodes = list(model.graph.node)
    old_ids = {id(n) for n in old}
    pos = min(i for i, n in enumerate(nodes) if id(n) in old_ids)
    kept = [n for n in nodes[:pos] if id(n) not in old_ids]
    rest = [n for n in nodes[pos:] if id(n) not in old_ids]
    del model.graph.node[:]
    model.graph.node.extend(kept + new + rest)


def remove_dead_nodes(model: ModelWrapper) -> None:
    """Drop nodes whose outputs nobody reads, and initializers nobody uses."""
    outputs = {o.name for o in model.graph.output}
    while True:
        used = {i for n in model.graph.node for i in n.input} | outputs
        dead = [n for n in model.graph.node if not any(o in used for o in n.output)]
        if not dead:
            break
        for n in dead:
            model.graph.node.remove(n)
    used = {i for n in model.graph.node for i in n.input}
    for init in list(model.graph.initializer):
        if init.name not in used:
            model.graph.initializer.remove(init)


def run_subgraph(model: ModelWrapper, nodes: list, inputs: dict[str, np.ndarray], output: str) -> np.ndarray:
    """Execute `nodes` of `model` on the given input tensors and return `output`.

    The nodes are copied into a fresh graph whose inputs take the shapes of the
    arrays given, so a chain can be evaluated on any batch (e.g. every possible
    popcount at once) with the same ONNX kernels as the model itself.
    """
    needed = {i for n in nodes for i in n.input if i} - set(inputs)
    inits = [onnx.numpy_helper.from_array(model.get_initializer(t), t) for t in needed
             if model.get_initializer(t) is not None]
    graph = helper.make_graph(
        [onnx.NodeProto.FromString(n.SerializeToString()) for n in nodes], "sub",
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, v.shape) for k, v in inputs.items()],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)],
        initializer=inits,
    )
    sub = ModelWrapper(helper.make_model(graph, opset_imports=list(model.model.opset_import)))
    sub = sub.transform(InferShapes())
    feed = {k: v.astype(np.float32) for k, v in inputs.items()}
    return execute_onnx(sub, feed)[output]


def extract(model: ModelWrapper, inputs: list[str], outputs: list[str]) -> ModelWrapper:
    """The sub-model computing `outputs` from `inputs` (used for the host-side head and tail)."""
    wanted, nodes = set(outputs), []
    for node in reversed(model.graph.node):
        if any(o in wanted for o in node.output):
            nodes.append(node)
            wanted |= {i for i in node.input if i and i not in inputs and not is_const(model, i)}
    nodes.reverse()
    needed = {i for n in nodes for i in n.input if i and is_const(model, i)}
    inits = [onnx.numpy_helper.from_array(model.get_initializer(t), t) for t in sorted(needed)]

    declared = {v.name: v.type.tensor_type.elem_type for v in [*model.graph.output, *model.graph.value_info]}

    def vinfo(name):  # float, unless the model declares another type (ArgMax gives int64)
        shape = model.get_tensor_shape(name)
        return helper.make_tensor_value_info(name, declared.get(name) or TensorProto.FLOAT, shape)

    graph = helper.make_graph(
        [onnx.NodeProto.FromString(n.SerializeToString()) for n in nodes], "part",
        [vinfo(i) for i in inputs], [vinfo(o) for o in outputs], initializer=inits,
    )
    sub = ModelWrapper(helper.make_model(graph, opset_imports=list(model.model.opset_import)))
    return sub.transform(InferShapes())
