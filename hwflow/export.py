"""Brevitas -> QONNX export, loading and reference execution.

The exported file is the contract with the hardware stages: one self-contained .onnx
file (no external-data side file), already run through qonnx's cleanup so that shapes
are inferred, constants folded and tensor names readable.
"""

from __future__ import annotations

import copy
import logging
import os
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnx

from hwflow.errors import HwflowError

# brevitas warns at import time about an optional CUDA kernel package it never needs here
warnings.filterwarnings("ignore", message=".*fast_hadamard_transform.*")


@contextmanager
def _quiet_torch_onnx():
    """Silence torch.onnx's per-export chatter (missing torchvision ops, progress lines)."""
    logger = logging.getLogger("torch.onnx")
    old = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(old)


def _save_atomic(proto: onnx.ModelProto, path: Path) -> None:
    """Write ``proto`` as one file, via a temp file in the same directory + rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        # save_as_external_data=False (the default of onnx.save) keeps every weight inline;
        # our models are far below protobuf's 2 GB limit.
        onnx.save_model(proto, tmp, save_as_external_data=False)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a model is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_brevitas(model, input_shape, path) -> Path:
    """Export a Brevitas model to a cleaned-up, self-contained QONNX file at ``path``.

    ``input_shape`` is the per-image shape; the exported graph has batch size 1.
    """
    import torch
    from brevitas.export import export_qonnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    path = Path(path)
    model.eval()
    example = torch.rand(1, *tuple(input_shape))
    with _quiet_torch_onnx():
        # export_path=None keeps everything in memory; external_data=False stops the torch
        # exporter from splitting weights into a side file (its default, see TOOLCHAIN.md).
        proto = export_qonnx(model, args=example, export_path=None, external_data=False, verbose=False)
    wrapped = cleanup_model(ModelWrapper(proto))
    _save_atomic(wrapped.model, path)
    return path


def load_qonnx(path):
    """Load a QONNX/ONNX file (inline or external-data weights), cleaned up."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    path = Path(path)
    if not path.is_file():
        raise HwflowError(f"model file not found: {path}")
    try:
        # onnx.load resolves external data relative to the file's own directory and
        # copies it inline, so the returned model no longer depends on side files
        proto = onnx.load(str(path))
        if len(proto.graph.node) == 0:
            raise ValueError("the graph has no nodes")
        model = cleanup_model(ModelWrapper(proto))
    except HwflowError:
        raise
    except Exception as e:  # protobuf DecodeError, missing external data, bad graph...
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise HwflowError(f"cannot read {path} as an ONNX model: {reason[:200]}") from None
    return model


def _with_batch(model, n: int):
    """A copy of ``model`` whose global input/output (and Reshape constants) have batch n."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.transformation.infer_shapes import InferShapes

    m = ModelWrapper(copy.deepcopy(model.model))
    m = m.transform(ChangeBatchSize(n))
    return m.transform(InferShapes())


# bytes of intermediate tensors one chunk of a qonnx execution may hold (it keeps them all)
QONNX_CHUNK_BYTES = 512 << 20


def _bytes_per_image(model) -> int:
    """float32 bytes of every tensor in the graph for one image (the execution context)."""
    names = {t.name for t in (*model.graph.value_info, *model.graph.output, *model.graph.input)}
    total = 0
    for name in names:
        shape = model.get_tensor_shape(name)
        if shape and model.get_initializer(name) is None:
            total += 4 * int(np.prod([d for d in shape[1:] if d and d > 0]))
    return max(1, total)


@contextmanager
def _sanitize(on: bool):
    """qonnx rounds every integer-annotated tensor after each node unless SANITIZE_QUANT_TENSORS=0
    (its only switch); with a Python-level max over every element, that dominates the run time."""
    old = os.environ.get("SANITIZE_QUANT_TENSORS")
    os.environ["SANITIZE_QUANT_TENSORS"] = "1" if on else "0"
    try:
        yield
    finally:
        if old is None:
            del os.environ["SANITIZE_QUANT_TENSORS"]
        else:
            os.environ["SANITIZE_QUANT_TENSORS"] = old


def run_qonnx(model, x: np.ndarray, chunk: int | None = None, sanitize: bool = True) -> np.ndarray:
    """Execute ``model`` (a ModelWrapper) on the batch ``x`` [N, *input_shape].

    Rather than one execute_onnx call per image, the graph is re-batched (qonnx's
    ChangeBatchSize also patches the batch-1 Reshape that torch's exporter bakes in) so
    each node runs once per chunk.  Chunks are sized so that all the tensors qonnx keeps
    for one chunk stay within QONNX_CHUNK_BYTES.  ``sanitize=False`` skips qonnx's rounding
    of integer-annotated tensors: for graphs whose integers are exact by construction (the
    streamlined graph, checked against the original), where the rounding is only cost.
    """
    from qonnx.core.onnx_exec import execute_onnx

    if chunk is None:
        chunk = int(np.clip(QONNX_CHUNK_BYTES // _bytes_per_image(model), 1, 1000))
    x = np.ascontiguousarray(x, dtype=np.float32)
    in_name = model.graph.input[0].name
    out_name = model.graph.output[0].name
    want = tuple(model.get_tensor_shape(in_name)[1:])
    if tuple(x.shape[1:]) != want:
        raise HwflowError(f"input batch has per-image shape {tuple(x.shape[1:])}, the model expects {want}")
    outs = []
    cache: dict[int, object] = {}
    for start in range(0, len(x), chunk):
        part = x[start:start + chunk]
        n = len(part)
        if n not in cache:
            cache[n] = _with_batch(model, n)
        with _sanitize(sanitize):
            outs.append(execute_onnx(cache[n], {in_name: part})[out_name])
    if not outs:
        return np.zeros((0, *model.get_tensor_shape(out_name)[1:]), dtype=np.float32)
    return np.concatenate(outs, axis=0)
