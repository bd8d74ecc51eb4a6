"""Datasets as numpy arrays: images float32 in [0, 1] shaped [N, 1, H, W], labels int64.

Nothing is ever downloaded: ``digits`` is the 8x8 set bundled with scikit-learn, and
``mnist`` / ``fashion-mnist`` read the standard IDX files from a directory the user has.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwflow.errors import HwflowError

DATASETS: dict[str, str] = {
    "digits": "scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes), no files needed",
    "mnist": "MNIST-format IDX files (train/t10k images+labels, .gz or raw) from --data-dir",
    "fashion-mnist": "same IDX format as mnist (Fashion-MNIST files) from --data-dir",
}


@dataclass
class Dataset:
    name: str
    num_classes: int
    x_train: np.ndarray  # float32 [N, 1, H, W] in [0, 1]
    y_train: np.ndarray  # int64 [N]
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def load_dataset(name: str, data_dir: str | None = None, image_size: int | None = None, seed: int = 0) -> Dataset:
    """Load ``name`` (see ``DATASETS``); ``image_size`` asks for square images of that side."""
    if name == "digits":
        return _load_digits(image_size, seed)
    if name in ("mnist", "fashion-mnist"):
        return _load_idx_dataset(name, data_dir, image_size)
    raise HwflowError(f"unknown dataset {name!r}: known datasets are {', '.join(DATASETS)}")


# ---------------------------------------------------------------------------- digits


def _place_digits(x8: np.ndarray, size: int) -> np.ndarray:
    """Upscale [N,8,8] digits by an integer factor (nearest neighbour) and centre them
    on a size x size canvas, filling about 6/7 of it -- for 28 that is 24x24 inside 28x28,
    close to MNIST's 20x20 digit box.  Nearest keeps the 16 grey levels exact; the
    binarising input layer would discard bilinear's in-between values anyway."""
    k = max(1, (6 * size) // (7 * 8))
    up = np.kron(x8, np.ones((1, k, k), dtype=x8.dtype))
    side = 8 * k
    lo = (size - side) // 2
    out = np.zeros((len(x8), size, size), dtype=x8.dtype)
    out[:, lo:lo + side, lo:lo + side] = up
    return out


def _load_digits(image_size: int | None, seed: int) -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)  # pixel values are 0..16
    y = d.target.astype(np.int64)
    if image_size is not None and image_size != 8:
        if image_size < 8:
            raise HwflowError(f"digits images are 8x8 and cannot be shrunk to {image_size}x{image_size}: use a model with 64 or more inputs")
        x = _place_digits(x, image_size)
    x = x[:, None]
    # fixed, seeded, stratified 80/20 split so every run and every stage sees the same test set
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    return Dataset("digits", 10, x_tr, y_tr, x_te, y_te)


# ---------------------------------------------------------------------------- IDX files

_IDX_FILES = {
    "train_images": ("train-images", "idx3"),
    "train_labels": ("train-labels", "idx1"),
    "test_images": ("t10k-images", "idx3"),
    "test_labels": ("t10k-labels", "idx1"),
}


def _find_idx(data_dir: Path, stem: str, kind: str) -> Path:
    # both naming variants are common: "train-images-idx3-ubyte" and "train-images.idx3-ubyte"
    names = [f"{stem}{sep}{kind}-ubyte{gz}" for sep in ("-", ".") for gz in (".gz", "")]
    for n in names:
        if (data_dir / n).is_file():
            return data_dir / n
    raise HwflowError(f"IDX file missing in {data_dir}: expected one of {', '.join(names)}")


def read_idx(path: str | Path, ndim: int) -> np.ndarray:
    """Parse one uint8 IDX file (optionally gzipped) with ``ndim`` dimensions."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as e:
        raise HwflowError(f"cannot read IDX file {path}: {e}") from None
    expected = 0x00000800 | ndim  # 0x0000 08 nd: unsigned bytes, nd dimensions
    if len(raw) < 4 + 4 * ndim:
        raise HwflowError(f"{path} is too short for an IDX file: expected a {4 + 4 * ndim}-byte header (magic 0x{expected:08x})")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected:
        raise HwflowError(f"{path} is not a {ndim}-D uint8 IDX file: magic 0x{magic:08x}, expected 0x{expected:08x}")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    body = raw[4 + 4 * ndim:]
    if len(body) != int(np.prod(dims)):
        raise HwflowError(f"{path} is truncated or corrupt: header says {dims} = {int(np.prod(dims))} bytes of data, found {len(body)}")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def _load_idx_dataset(name: str, data_dir: str | None, image_size: int | None) -> Dataset:
    if data_dir is None:
        raise HwflowError(f"dataset {name} needs its IDX files: pass --data-dir DIR (hwflow never downloads data)")
    root = Path(data_dir)
    if not root.is_dir():
        raise HwflowError(f"data directory not found: {root} (pass the folder holding the {name} IDX files)")
    arrays = {}
    for key, (stem, kind) in _IDX_FILES.items():
        arrays[key] = read_idx(_find_idx(root, stem, kind), 3 if kind == "idx3" else 1)
    for split in ("train", "test"):
        xi, yi = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if len(xi) != len(yi):
            raise HwflowError(f"{name} {split} split in {root} has {len(xi)} images but {len(yi)} labels: the files do not belong together")
    h, w = arrays["train_images"].shape[1:]
    if image_size is not None and (image_size, image_size) != (h, w):
        raise HwflowError(f"{name} images are {h}x{w}, the model wants {image_size}x{image_size}: use a model with {h * w} inputs")
    if arrays["test_images"].shape[1:] != (h, w):
        raise HwflowError(f"{name} train and test images differ in size in {root}")

    def images(a):
        return (a.astype(np.float32) / 255.0)[:, None]

    labels = [arrays["train_labels"], arrays["test_labels"]]
    num_classes = int(max(int(lab.max()) for lab in labels)) + 1
    return Dataset(
        name,
        num_classes,
        images(arrays["train_images"]),
        arrays["train_labels"].astype(np.int64),
        images(arrays["test_images"]),
        arrays["test_labels"].astype(np.int64),
    )
