"""Image datasets held as uint8 tensors, and a fast, deterministic mini-batch iterator.

A dataset is an :class:`ImageData`: all images as one ``(N, C, H, W)`` uint8 tensor plus int64 labels,
the class count and the per-channel normalisation statistics. ``load_dataset(name, split)`` reads one
from disk (or, for ``"digits"`` and ``"digits-hard"``, from scikit-learn: ``digits-hard`` is generated in memory
from the digits, :func:`make_digits_hard`); nothing is downloaded unless asked: with ``download=True``
(the CLI's ``--download``) a missing CIFAR-10 or CIFAR-100 is fetched through ``torchvision.datasets`` into the
data root, its archive and every file checked against torchvision's MD5 sums, and then read by this module's
own restricted unpickler like any other copy (torchvision's own loader, which unpickles without restriction,
is never run).

Where the files are looked for (the *data root*): the ``root`` argument, else the environment variable
``DARTSLIB_DATA``, else ``~/.cache/dartslib``. Inside the root each dataset has its usual folder:

==================  ==============================================================================
``cifar10``         ``ROOT/cifar-10-batches-py/{data_batch_1..5, test_batch}`` (python pickles)
``cifar100``        ``ROOT/cifar-100-python/{train, test}`` (python pickles, fine labels)
``svhn``            ``ROOT/svhn/{train,test,extra}_32x32.mat`` (or directly in ``ROOT``)
``imagenet16-120``  ``ROOT/ImageNet16/{train_data_batch_1..10, val_data}`` (or directly in ``ROOT``)
==================  ==============================================================================

:class:`BatchIterator` turns an :class:`ImageData` into normalised float32 batches on a device. All of
its randomness (shuffling, random crop, flip, cutout) for pass ``k`` comes from one CPU
``torch.Generator`` seeded from ``(seed, k)``, so every batch is a pure function of
``(seed, pass index, batch position)``: ``epoch(e)`` replays pass ``e`` and :class:`PersistentStream`
(the endless stream DARTS draws its architecture-validation batches from) can be checkpointed with
``state_dict()`` and resumed bit-identically. Augmentation runs vectorised on the data's device.
"""
from __future__ import annotations

import dataclasses
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = [
    "ImageData", "load_dataset", "split_train_valid", "BatchIterator", "PersistentStream",
    "DatasetNotFoundError", "DataFileError", "DATASETS", "SPLITS", "data_root", "channel_stats", "pass_generator",
    "random_crop", "cutout", "make_digits_hard", "DIGITS_HARD_VARIANTS", "write_synthetic_cifar10", "DOWNLOADABLE", "download_dataset", "ensure_downloaded",
]

DATASETS = ("digits", "digits-hard", "cifar10", "cifar100", "svhn", "imagenet16-120")
"""Names :func:`load_dataset` knows."""

SPLITS = ("train", "test")
"""Splits every dataset has (SVHN also has ``"extra"``; ImageNet16's ``"test"`` is its ``val_data``)."""

ENV_VAR = "DARTSLIB_DATA"
DEFAULT_ROOT = Path("~/.cache/dartslib")

Stats = tuple[float, ...]

# Per-channel mean / std in [0, 1] units.
_CIFAR10_STATS: tuple[Stats, Stats] = ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
_CIFAR100_STATS: tuple[Stats, Stats] = ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762))
_SVHN_STATS: tuple[Stats, Stats] = ((0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970))
_IMAGENET16_STATS: tuple[Stats, Stats] = (  # NAS-Bench-201's values
    tuple(x / 255 for x in (122.68, 116.66, 104.01)), tuple(x / 255 for x in (63.22, 61.26, 65.09)))

_DIGITS_SIZE = 16          # default side of the upsampled 8x8 digits
_DIGITS_TEST_FRACTION = 0.2
_DIGITS_SPLIT_SEED = 0     # fixed: the digits split never depends on the global RNG
_IMAGENET16_CLASSES = 120


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are not on disk; the message says which files, where, and how to get them."""


# --------------------------------------------------------------------------------------------------
# ImageData
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class ImageData:
    """A labelled image dataset held in memory.

    Attributes:
        images: ``(N, C, H, W)`` uint8, values 0..255.
        labels: ``(N,)`` int64 in ``[0, num_classes)``, on the same device as ``images``.
        num_classes: number of classes (not all need to occur, e.g. in a subset).
        mean: per-channel mean in [0, 1] units, ``len == C``; used to normalise.
        std: per-channel standard deviation in [0, 1] units, ``len == C``.
        name: the dataset's name (kept by :meth:`subset` and :meth:`to`).
    """

    images: Tensor
    labels: Tensor
    num_classes: int
    mean: Stats
    std: Stats
    name: str

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"images must be a (N, C, H, W) uint8 tensor, got {tuple(self.images.shape)} "
                             f"{self.images.dtype}")
        if self.labels.dtype != torch.int64 or self.labels.shape != self.images.shape[:1]:
            raise ValueError(f"labels must be a ({len(self.images)},) int64 tensor, got "
                             f"{tuple(self.labels.shape)} {self.labels.dtype}")
        if self.labels.device != self.images.device:
            raise ValueError(f"images are on {self.images.device} but labels on {self.labels.device}")
        channels = self.images.shape[1]
        if len(self.mean) != channels or len(self.std) != channels:
            raise ValueError(f"mean and std need one value per channel ({channels}), "
                             f"got {len(self.mean)} and {len(self.std)}")
        if min(self.std) <= 0:
            raise ValueError(f"std must be positive, got {self.std}")
        if len(self.labels) and (int(self.labels.min()) < 0 or int(self.labels.max()) >= self.num_classes):
            raise ValueError(f"labels must lie in [0, {self.num_classes}), got "
                             f"[{int(self.labels.min())}, {int(self.labels.max())}]")
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))

    def __len__(self) -> int:
        return self.images.shape[0]

    def __repr__(self) -> str:
        return (f"ImageData(name={self.name!r}, images={tuple(self.images.shape)} uint8 on "
                f"{self.images.device}, num_classes={self.num_classes})")

    @property
    def device(self) -> torch.device:
        return self.images.device

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        _, c, h, w = self.images.shape
        return c, h, w

    def to(self, device: str | torch.device) -> ImageData:
        """The same data on ``device`` (``self`` if it is already there)."""
        device = torch.device(device)
        if self.images.device == device:
            return self
        return dataclasses.replace(self, images=self.images.to(device), labels=self.labels.to(device))

    def subset(self, indices: Tensor | Sequence[int]) -> ImageData:
        """The images at ``indices`` (integer indices, in the given order, or a ``(N,)`` bool mask)."""
        index = torch.as_tensor(indices, device=self.images.device)
        if index.dtype == torch.bool:
            index = index.nonzero().flatten()
        elif index.numel() == 0:
            index = index.long()
        elif index.is_floating_point() or index.is_complex():
            raise TypeError(f"subset indices must be integers or a bool mask, got {index.dtype}")
        index = index.long().flatten()
        return dataclasses.replace(self, images=self.images[index], labels=self.labels[index])


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------

def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The data root: ``root`` if given, else ``$DARTSLIB_DATA``, else ``~/.cache/dartslib``."""
    return _resolve_root(root)[0]


def _resolve_root(root: str | os.PathLike[str] | None) -> tuple[Path, str]:
    """``(root path, where it came from)``."""
    if root is not None:
        return Path(root).expanduser(), "the `root` argument"
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser(), f"${ENV_VAR}"
    return DEFAULT_ROOT.expanduser(), f"the default (${ENV_VAR} is not set)"


@dataclass(frozen=True)
class _Layout:
    """Where a dataset's files live under the root, and how to get them."""

    folder: str                      # sub-folder of the root that normally holds the files
    files: dict[str, tuple[str, ...]]  # split -> file names
    accept_root: bool                # also accept the files directly in the root
    how_to_get: str                  # instructions; ``{root}`` is the data root


_LAYOUTS: dict[str, _Layout] = {
    "cifar10": _Layout(
        "cifar-10-batches-py",
        {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)},
        False,
        "download 'CIFAR-10 python version' (cifar-10-python.tar.gz) from "
        "https://www.cs.toronto.edu/~kriz/cifar.html and extract it into {root} so that "
        "{root}/cifar-10-batches-py exists, or on a machine with internet run\n"
        "    python -c \"import torchvision; torchvision.datasets.CIFAR10('{root}', download=True)\"\n"
        "and copy {root}/cifar-10-batches-py here."),
    "cifar100": _Layout(
        "cifar-100-python",
        {"train": ("train",), "test": ("test",)},
        False,
        "download 'CIFAR-100 python version' (cifar-100-python.tar.gz) from "
        "https://www.cs.toronto.edu/~kriz/cifar.html and extract it into {root} so that "
        "{root}/cifar-100-python exists, or on a machine with internet run\n"
        "    python -c \"import torchvision; torchvision.datasets.CIFAR100('{root}', download=True)\"\n"
        "and copy {root}/cifar-100-python here."),
    "svhn": _Layout(
        "svhn",
        {"train": ("train_32x32.mat",), "test": ("test_32x32.mat",), "extra": ("extra_32x32.mat",)},
        True,
        "download train_32x32.mat and test_32x32.mat (format 2, cropped digits) from "
        "http://ufldl.stanford.edu/housenumbers/ into {root}/svhn, or on a machine with internet run\n"
        "    python -c \"import torchvision; [torchvision.datasets.SVHN('{root}/svhn', split=s, "
        "download=True) for s in ('train', 'test')]\"\n"
        "and copy {root}/svhn here."),
    "imagenet16-120": _Layout(
        "ImageNet16",
        {"train": tuple(f"train_data_batch_{i}" for i in range(1, 11)), "test": ("val_data",)},
        True,
        "this is the 16x16 downsampled ImageNet of Chrabaszcz et al. (2017) used by NAS-Bench-201: "
        "download Imagenet16_train.zip and Imagenet16_val.zip from https://image-net.org/download-images "
        "(an account is needed), or the ImageNet16 folder linked from the NAS-Bench-201 README "
        "(https://github.com/D-X-Y/NAS-Bench-201), and unzip them so that "
        "{root}/ImageNet16/train_data_batch_1 ... train_data_batch_10 and {root}/ImageNet16/val_data exist."),
}


def load_dataset(name: str, split: str = "train", root: str | os.PathLike[str] | None = None,
                 image_size: int | None = None, download: bool = False) -> ImageData:
    """Load split ``split`` of dataset ``name`` as uint8 tensors on the CPU.

    Args:
        name: one of :data:`DATASETS`.
        split: ``"train"`` or ``"test"`` (SVHN also ``"extra"``; ImageNet16-120's ``"test"`` is its
            ``val_data`` file). ``"digits"`` has a fixed, stratified 80/20 train/test split, and
            ``"digits-hard"`` is generated from its two halves (:func:`make_digits_hard`).
        root: the data root (see the module docstring); unused for ``"digits"`` and ``"digits-hard"``.
        image_size: side of the returned (square) images; others are resized bilinearly (antialiased
            when shrinking). ``None`` keeps the native size (16 for the upsampled digits).
        download: when the files are missing, fetch them first (:func:`download_dataset`; CIFAR-10 and
            CIFAR-100 only). Off by default: CI and offline machines never reach the network.

    Raises:
        ValueError: unknown ``name`` or ``split``.
        DatasetNotFoundError: the files are not under the root; the message says how to get them.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}")
    valid_splits = tuple(_LAYOUTS[name].files) if name in _LAYOUTS else SPLITS
    if split not in valid_splits:
        raise ValueError(f"dataset {name!r} has no split {split!r}; valid splits: {', '.join(valid_splits)}")
    if image_size is not None and image_size < 1:
        raise ValueError(f"image_size must be positive, got {image_size}")

    if name == "digits":
        return _load_digits(split, image_size or _DIGITS_SIZE)
    if name == "digits-hard":
        return _load_digits_hard(split, image_size or _DIGITS_SIZE)
    try:
        folder = _find_folder(name, split, root)
    except DatasetNotFoundError:
        if not download:
            raise
        download_dataset(name, root)
        folder = _find_folder(name, split, root)
    if name == "cifar10":
        data = _load_cifar(folder, _LAYOUTS[name].files[split], "labels", 10, _CIFAR10_STATS, name)
    elif name == "cifar100":
        data = _load_cifar(folder, _LAYOUTS[name].files[split], "fine_labels", 100, _CIFAR100_STATS, name)
    elif name == "svhn":
        data = _load_svhn(folder / _LAYOUTS[name].files[split][0])
    else:
        data = _load_imagenet16(folder, _LAYOUTS[name].files[split], _IMAGENET16_CLASSES, name)
    if len(data) == 0:
        raise DataFileError(f"{folder}: the {name} {split} files hold no images")
    if image_size is not None and data.images.shape[-2:] != (image_size, image_size):
        data = dataclasses.replace(data, images=_resize(data.images, image_size))
    return data


def _find_folder(name: str, split: str, root: str | os.PathLike[str] | None) -> Path:
    """The folder holding every file of ``split`` of ``name``, or raise :class:`DatasetNotFoundError`."""
    root_path, source = _resolve_root(root)
    layout = _LAYOUTS[name]
    files = layout.files[split]
    candidates = [root_path / layout.folder] + ([root_path] if layout.accept_root else [])
    for folder in candidates:
        if all((folder / f).is_file() for f in files):
            return folder
    expected = candidates[0]
    missing = [f for f in files if not (expected / f).is_file()]
    also = f" (or directly in {root_path})" if layout.accept_root else ""
    raise DatasetNotFoundError(
        f"dataset {name!r} (split {split!r}) not found: expected {', '.join(files)} in {expected}{also}; "
        f"missing: {', '.join(missing)}.\n"
        f"The data root {root_path} comes from {source}; pass `root=...` or set ${ENV_VAR} to use another.\n"
        f"To get {name}: " + layout.how_to_get.format(root=root_path)
        + ("\nOr let dartslib fetch it: --download (Python: load_dataset(..., download=True))."
           if name in DOWNLOADABLE else ""))


def _load_digits(split: str, image_size: int) -> ImageData:
    """scikit-learn's 8x8 digits, grey 0..16 -> uint8 0..255, resized to ``image_size``, 3 channels."""
    from sklearn.datasets import load_digits

    raw = load_digits()
    grey = torch.from_numpy(raw.images).reshape(-1, 1, 8, 8)  # float64, 0..16
    images = (grey * (255.0 / 16.0)).round().to(torch.uint8)
    if image_size != 8:
        images = _resize(images, image_size)
    images = images.expand(-1, 3, -1, -1).contiguous()
    labels = torch.from_numpy(raw.target).long()
    train_mask = _stratified_train_mask(labels, _DIGITS_TEST_FRACTION, _DIGITS_SPLIT_SEED)
    mean, std = channel_stats(images[train_mask])
    mask = train_mask if split == "train" else ~train_mask
    return ImageData(images[mask], labels[mask], 10, mean, std, "digits")


#: digits-hard: variants per source image (train, test), the canvas side, and the generator seeds
DIGITS_HARD_VARIANTS: dict[str, int] = {"train": 4, "test": 8}
_DIGITS_HARD_CANVAS = 16
_DIGITS_HARD_SEEDS: dict[str, int] = {"train": 2026, "test": 2027}


def _bilinear(src: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Sample ``src`` ``(H, W)`` at float coordinates ``ys``, ``xs`` (any equal shapes), zero outside."""
    h, w = src.shape
    padded = np.zeros((h + 2, w + 2))
    padded[1:-1, 1:-1] = src
    y, x = np.clip(ys + 1, 0, h + 0.999999), np.clip(xs + 1, 0, w + 0.999999)
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    y1, x1 = np.minimum(y0 + 1, h + 1), np.minimum(x0 + 1, w + 1)
    fy, fx = y - y0, x - x0
    return ((1 - fy) * (1 - fx) * padded[y0, x0] + (1 - fy) * fx * padded[y0, x1]
            + fy * (1 - fx) * padded[y1, x0] + fy * fx * padded[y1, x1])


def make_digits_hard(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The ``digits-hard`` images of ``split``: ``(N, 16, 16)`` float64 in [0, 1] and ``(N,)`` int64 labels.

    Each digit of the fixed digits ``split`` (:func:`_load_digits`'s 80/20 split, so no source digit is in
    both) gives :data:`DIGITS_HARD_VARIANTS` ``[split]`` variants on a 16x16 canvas: the 8x8 digit scaled by
    1.1-1.9 (anisotropic by up to 15 %), rotated by up to 35 degrees, sheared by up to 0.3 and placed at a
    random offset that keeps most of it on the canvas; then clutter, 3 fragments (4x4 pieces of other digits
    of the same split, at 50-90 % intensity) anywhere on the canvas; then Gaussian noise (sd 0.08). Every draw
    comes from a ``numpy`` generator with a fixed seed per split, and the arithmetic is float64 numpy, so the
    data set is the same on every machine. Built in memory, never downloaded."""
    from sklearn.datasets import load_digits

    raw = load_digits()
    labels = torch.from_numpy(raw.target).long()
    train_mask = _stratified_train_mask(labels, _DIGITS_TEST_FRACTION, _DIGITS_SPLIT_SEED).numpy()
    mask = train_mask if split == "train" else ~train_mask
    src, src_labels = raw.images[mask] / 16.0, raw.target[mask]
    rng = np.random.default_rng(_DIGITS_HARD_SEEDS[split])
    reps, side = DIGITS_HARD_VARIANTS[split], _DIGITS_HARD_CANVAS
    n = len(src) * reps
    out = np.zeros((n, side, side))
    grid_y, grid_x = np.mgrid[0:side, 0:side].astype(float)
    for i in range(n):
        digit = src[i % len(src)]
        scale = rng.uniform(1.1, 1.9) * np.array([1.0, rng.uniform(0.85, 1.15)])
        angle, shear = np.deg2rad(rng.uniform(-35, 35)), rng.uniform(-0.3, 0.3)
        centre = side / 2 + rng.uniform(-2.5, 2.5, size=2)
        c, s_ = np.cos(angle), np.sin(angle)
        forward = np.array([[c, -s_], [s_, c]]) @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag(scale)
        inverse = np.linalg.inv(forward)
        dy, dx = grid_y + 0.5 - centre[0], grid_x + 0.5 - centre[1]
        ys = inverse[0, 0] * dy + inverse[0, 1] * dx + 4.0 - 0.5
        xs = inverse[1, 0] * dy + inverse[1, 1] * dx + 4.0 - 0.5
        image = _bilinear(digit, ys, xs)
        for _ in range(3):
            other = src[rng.integers(len(src))]
            oy, ox = rng.integers(0, 5, size=2)
            ty, tx = rng.integers(0, side - 4, size=2)
            piece = other[oy:oy + 4, ox:ox + 4] * rng.uniform(0.5, 0.9)
            image[ty:ty + 4, tx:tx + 4] = np.maximum(image[ty:ty + 4, tx:tx + 4], piece)
        out[i] = np.clip(image + rng.normal(0.0, 0.08, size=image.shape), 0.0, 1.0)
    return out, np.tile(src_labels, reps)


_DIGITS_HARD_CACHE: dict[str, tuple[Tensor, Tensor]] = {}


def _load_digits_hard(split: str, image_size: int) -> ImageData:
    """:func:`make_digits_hard` as uint8 ImageData, 3 channels, resized to ``image_size``; normalised with the
    train split's statistics (both splits cached per process: they take about 2 s to generate)."""
    if split not in _DIGITS_HARD_CACHE:
        images, labels = make_digits_hard(split)
        grey = torch.from_numpy(np.rint(images * 255.0).astype(np.uint8)).unsqueeze(1)
        _DIGITS_HARD_CACHE[split] = grey, torch.from_numpy(labels).long()
    grey, labels = _DIGITS_HARD_CACHE[split]
    if "train" not in _DIGITS_HARD_CACHE:
        _load_digits_hard("train", _DIGITS_HARD_CANVAS)
    train_grey = _DIGITS_HARD_CACHE["train"][0]
    mean, std = channel_stats(train_grey.expand(-1, 3, -1, -1))
    if image_size != _DIGITS_HARD_CANVAS:
        grey = _resize(grey, image_size)
    return ImageData(grey.expand(-1, 3, -1, -1).contiguous(), labels.clone(), 10, mean, std, "digits-hard")


def _stratified_train_mask(labels: Tensor, test_fraction: float, seed: int) -> Tensor:
    """``(N,)`` bool: True for train. Each class puts ``round(test_fraction * count)`` random members
    into test, drawn from a generator seeded with ``seed`` (never the global RNG)."""
    generator = torch.Generator().manual_seed(seed)
    train = torch.ones(len(labels), dtype=torch.bool)
    for c in labels.unique(sorted=True).tolist():
        members = (labels == c).nonzero().flatten()
        n_test = round(test_fraction * len(members))
        train[members[torch.randperm(len(members), generator=generator)[:n_test]]] = False
    return train


def channel_stats(images: Tensor) -> tuple[Stats, Stats]:
    """Per-channel mean and (population) std in [0, 1] units of ``(N, C, H, W)`` uint8 images."""
    x = images.double().div(255.0)
    return (tuple(x.mean(dim=(0, 2, 3)).tolist()), tuple(x.std(dim=(0, 2, 3), unbiased=False).tolist()))


def _resize(images: Tensor, size: int, chunk: int = 4096) -> Tensor:
    """Bilinear resize of ``(N, C, H, W)`` uint8 to ``(N, C, size, size)`` uint8, in chunks."""
    shrink = size < max(images.shape[-2:])
    out = [F.interpolate(part.float(), size=(size, size), mode="bilinear", align_corners=False,
                         antialias=shrink).round_().clamp_(0, 255).to(torch.uint8)
           for part in images.split(chunk)]
    if not out:
        return images.new_empty((0, images.shape[1], size, size))
    return torch.cat(out)


class DataFileError(ValueError):
    """A dataset file is unreadable, corrupt or not in the expected format; the message names the file."""


def _numpy_globals() -> dict[tuple[str, str], Any]:
    """The only globals a CIFAR / downsampled-ImageNet pickle needs: numpy array and scalar
    reconstruction and dtypes (under numpy 1's and numpy 2's module names), plus the builtin containers
    and ``_codecs.encode`` (how Python 3 writes bytes at protocol 2)."""
    import codecs

    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy 1
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]
    allowed: dict[tuple[str, str], Any] = {}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = multiarray._reconstruct
        allowed[(module, "scalar")] = multiarray.scalar
    for module in ("numpy.core.numeric", "numpy._core.numeric"):
        allowed[(module, "_frombuffer")] = numeric._frombuffer
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    for name in ("list", "dict", "tuple", "set", "frozenset", "bytearray", "bytes", "str", "int", "float",
                 "complex", "bool"):
        allowed[("builtins", name)] = allowed[("__builtin__", name)] = getattr(__import__("builtins"), name)
    allowed[("_codecs", "encode")] = codecs.encode
    # numpy dtype classes (numpy >= 1.25 pickles dtypes as numpy.dtypes.UInt8DType etc. at protocol 5)
    for name in dir(getattr(np, "dtypes", None) or object()):
        if name.endswith("DType"):
            allowed[("numpy.dtypes", name)] = getattr(np.dtypes, name)
    return allowed


MAX_OBJECT_SLACK = 1 << 20
"""Bytes beyond the file's own size that one object built while unpickling may hold (see :class:`_DataUnpickler`)."""


class _DataUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :func:`_numpy_globals`: a ``__reduce__`` payload cannot run code.

    It also refuses to build an object larger than the file could hold (``limit``: the file's size plus
    :data:`MAX_OBJECT_SLACK`) before allocating it: a real batch file's arrays are filled from bytes inside the
    file, so only a forged one asks for ``bytearray(2e9)``, ``numpy.ndarray((2e9,))`` or an array of that size
    from ``_reconstruct`` in a few bytes."""

    _allowed: dict[tuple[str, str], Any] | None = None

    def __init__(self, file: Any, limit: int, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self.limit = limit
        self._ndarray_stand_in = self._ndarray  # one bound method: _reconstruct recognises it by identity

    def _refuse_size(self, what: str, size: int) -> None:
        raise pickle.UnpicklingError(f"refusing to build {what} of {size:,} bytes: more than the file could "
                                     f"hold (at most {self.limit:,})")

    def _array_size(self, shape: Any, dtype: Any) -> None:
        """Refuse an array of ``shape`` and ``dtype`` larger than :attr:`limit` (before numpy allocates it)."""
        dims = (shape,) if isinstance(shape, int) else tuple(shape)
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in dims):
            raise pickle.UnpicklingError(f"refusing an array of shape {str(dims)[:80]}")
        items = 1
        for d in dims:
            items *= d
        itemsize = np.dtype(dtype).itemsize if dtype is not None else 8
        if items * max(itemsize, 1) > self.limit:
            self._refuse_size(f"an array of shape {str(dims)[:80]}", items * max(itemsize, 1))

    def _guarded(self, module: str, name: str, found: Any) -> Any:
        """``found``, or a stand-in that checks the size it would allocate first."""
        if (module, name) in (("builtins", "bytearray"), ("__builtin__", "bytearray"),
                              ("builtins", "bytes"), ("__builtin__", "bytes")):
            def sized(*args: Any) -> Any:
                if args and isinstance(args[0], int) and not isinstance(args[0], bool) and args[0] > self.limit:
                    self._refuse_size(f"a {name}", args[0])
                return found(*args)
            return sized
        if name == "_reconstruct":
            def reconstruct(subtype: Any, shape: Any, dtype: Any) -> Any:
                self._array_size(shape, np.uint8)
                return found(np.ndarray if subtype is self._ndarray_stand_in else subtype, shape, dtype)
            return reconstruct
        if (module, name) == ("numpy", "ndarray"):
            return self._ndarray_stand_in
        return found

    def _ndarray(self, shape: Any, dtype: Any = float, *args: Any, **kwargs: Any) -> np.ndarray:
        """``numpy.ndarray(shape, dtype, ...)`` after the size check."""
        self._array_size(shape, dtype)
        return np.ndarray(shape, dtype, *args, **kwargs)

    def find_class(self, module: str, name: str) -> Any:
        if _DataUnpickler._allowed is None:
            _DataUnpickler._allowed = _numpy_globals()
        try:
            found = _DataUnpickler._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a dataset file holds only numpy "
                                         f"arrays, numbers, strings, lists and dicts") from None
        return self._guarded(module, name, found)


def _read_pickle(path: Path) -> dict[str, Any]:
    """A python-pickled dict (as CIFAR / downsampled ImageNet ship them), with ``str`` keys.

    Unpickled with :class:`_DataUnpickler`, which refuses every global but numpy's array reconstruction,
    dtypes and builtin containers, so a file from an untrusted mirror cannot run code. Raises
    :class:`DataFileError` naming the file.
    """
    try:
        with open(path, "rb") as f:
            limit = os.fstat(f.fileno()).st_size + MAX_OBJECT_SLACK
            entry = _DataUnpickler(f, limit, encoding="latin1").load()
    except pickle.UnpicklingError as exc:
        raise DataFileError(f"{path}: not a valid dataset pickle ({exc})") from None
    except RecursionError:
        raise DataFileError(f"{path}: nested too deep to be a dataset pickle") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, MemoryError,
            UnicodeDecodeError, OverflowError) as exc:
        raise DataFileError(f"{path}: truncated or corrupt pickle ({type(exc).__name__}: {exc})") from None
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not isinstance(entry, dict):
        raise DataFileError(f"{path} does not hold a pickled dict (got {type(entry).__name__})")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in entry.items()}


def _entry(entry: dict[str, Any], key: str, path: Path) -> Any:
    if key not in entry:
        raise DataFileError(f"{path}: expected a key {key!r}, found {', '.join(map(repr, sorted(entry))) or 'none'}")
    return entry[key]


def _array(values: Any, path: Path, what: str) -> np.ndarray:
    """``np.asarray(values)``; ragged or too deeply nested lists are a :class:`DataFileError` naming the file."""
    try:
        return np.asarray(values)
    except (ValueError, TypeError, RecursionError, OverflowError, MemoryError) as exc:
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise DataFileError(f"{path}: {what} is not a rectangular array of numbers ({detail})") from None


def _uint8_images(array: Any, path: Path, what: str) -> np.ndarray:
    """``array`` as uint8, refusing floats and out-of-range integers (a cast would wrap them silently)."""
    array = _array(array, path, what)
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind not in "iu" or array.dtype == np.bool_:
        raise DataFileError(f"{path}: {what} must hold uint8 pixel values 0..255, got dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() > 255):
        raise DataFileError(f"{path}: {what} has values outside 0..255 ([{array.min()}, {array.max()}])")
    return array.astype(np.uint8)


def _labels(values: Any, path: Path, key: str) -> np.ndarray:
    array = _array(values, path, repr(key))
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.dtype.kind not in "iu":
        raise DataFileError(f"{path}: {key!r} must hold integer labels, got dtype {array.dtype}")
    return array.astype(np.int64).reshape(-1)


def _planar_images(data: Any, side: int, path: Path) -> np.ndarray:
    """``(n, 3 * side * side)`` rows of R, G, B planes -> ``(n, 3, side, side)`` uint8."""
    array = _array(data, path, "'data'")
    if array.ndim != 2 or array.shape[1] != 3 * side * side:
        raise DataFileError(f"{path}: expected 'data' of shape (n, {3 * side * side}), got {array.shape}")
    return np.ascontiguousarray(_uint8_images(array, path, "'data'").reshape(-1, 3, side, side))


def _check_count(images: np.ndarray, labels: np.ndarray, path: Path) -> None:
    if len(images) != len(labels):
        raise DataFileError(f"{path}: {len(images)} images but {len(labels)} labels")


def _load_cifar(folder: Path, files: Sequence[str], label_key: str, num_classes: int,
                stats: tuple[Stats, Stats], name: str) -> ImageData:
    """Concatenate CIFAR pickle batches: ``'data'`` (n, 3072) uint8, labels under ``label_key``."""
    images, labels = [], []
    for file in files:
        path = folder / file
        entry = _read_pickle(path)
        images.append(_planar_images(_entry(entry, "data", path), 32, path))
        labels.append(_labels(_entry(entry, label_key, path), path, label_key))
        _check_count(images[-1], labels[-1], path)
        if len(labels[-1]) and (labels[-1].min() < 0 or labels[-1].max() >= num_classes):
            raise DataFileError(f"{path}: labels must lie in [0, {num_classes}), got "
                                f"[{labels[-1].min()}, {labels[-1].max()}]")
    return ImageData(torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels)),
                     num_classes, *stats, name)


def _load_svhn(path: Path) -> ImageData:
    """SVHN format 2: ``X`` (32, 32, 3, N) uint8 and ``y`` (N, 1) with 10 standing for digit 0."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        mat = loadmat(str(path))
    except (MatReadError, ValueError, TypeError, OSError, KeyError, IndexError, EOFError, NotImplementedError) as exc:
        raise DataFileError(f"{path}: not a readable MATLAB .mat file ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    x, y = _array(_entry(mat, "X", path), path, "X"), _labels(_entry(mat, "y", path), path, "y")
    if x.ndim != 4 or x.shape[2] != 3 or x.shape[3] != len(y):
        raise DataFileError(f"{path}: expected X of shape (H, W, 3, {len(y)}), got {x.shape}")
    x = _uint8_images(x, path, "X")
    if len(y) and (y.min() < 1 or y.max() > 10):
        raise DataFileError(f"{path}: labels y must lie in 1..10 (10 stands for 0), got [{y.min()}, {y.max()}]")
    y[y == 10] = 0
    images = np.ascontiguousarray(np.transpose(x, (3, 2, 0, 1)))
    return ImageData(torch.from_numpy(images), torch.from_numpy(y), 10, *_SVHN_STATS, "svhn")


def _load_imagenet16(folder: Path, files: Sequence[str], num_classes: int, name: str) -> ImageData:
    """Downsampled ImageNet 16x16 pickles: ``'data'`` (n, 768) uint8 planar, ``'labels'`` 1..1000.

    Keeps labels ``1..num_classes`` and shifts them to ``0..num_classes-1`` (as NAS-Bench-201 does).
    """
    images, labels = [], []
    for file in files:
        path = folder / file
        entry = _read_pickle(path)
        y = _labels(_entry(entry, "labels", path), path, "labels")
        data = _planar_images(_entry(entry, "data", path), 16, path)
        _check_count(data, y, path)
        keep = (y >= 1) & (y <= num_classes)
        images.append(data[keep])
        labels.append(y[keep] - 1)
    return ImageData(torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels)),
                     num_classes, *_IMAGENET16_STATS, name)


def split_train_valid(data: ImageData, fraction: float = 0.5,
                      seed: int | None = None) -> tuple[ImageData, ImageData]:
    """DARTS' search split of a training set: ``(weights part, architecture-validation part)``.

    With ``seed=None`` (the default, as in DARTS) the first ``floor(fraction * N)`` images train the
    weights and the rest validate the architecture, without shuffling. With an integer ``seed`` the
    indices are first permuted by a generator seeded with it (the global RNG is never used).
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must lie strictly between 0 and 1, got {fraction}")
    n = len(data)
    split = int(np.floor(fraction * n))
    if split == 0 or split == n:
        raise ValueError(f"fraction {fraction} of {n} images leaves one part empty")
    if seed is None:
        order = torch.arange(n)
    else:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return data.subset(order[:split]), data.subset(order[split:])


# --------------------------------------------------------------------------------------------------
# Batches
# --------------------------------------------------------------------------------------------------

def pass_generator(seed: int, pass_index: int) -> torch.Generator:
    """The CPU generator all randomness of pass ``pass_index`` is drawn from (seeded from both ints)."""
    if seed < 0 or pass_index < 0:
        raise ValueError(f"seed and pass index must be non-negative, got {seed} and {pass_index}")
    state = np.random.SeedSequence([seed, pass_index]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) >> 1)  # 63 bits: fits every torch version


@dataclass(frozen=True)
class _PassPlan:
    """Everything random about one pass, indexed by position in the pass (all on the data's device).

    ``order`` (N,) long: image indices; ``crop`` (N, 2) long: top/left offsets into the padded image;
    ``flip`` (N,) bool; ``hole`` (N, 2) long: cutout centre row/column. Unused parts are ``None``.
    """

    order: Tensor
    crop: Tensor | None
    flip: Tensor | None
    hole: Tensor | None


class BatchIterator:
    """Normalised mini-batches of an :class:`ImageData`, deterministic in ``(seed, pass index)``.

    Each pass (epoch) visits every image once. Pass ``k`` draws, from ``pass_generator(seed, k)`` and
    in this order: the permutation (if ``shuffle``), then per image the crop offsets and flip bits (if
    ``augment``), then the cutout centres (if ``cutout``). Augmentation follows DARTS: random crop
    after zero padding by ``size // 8`` pixels (4 for 32x32), random horizontal flip (``flip``), then
    normalisation, then cutout (a ``cutout`` x ``cutout`` square, centred uniformly on the image and
    clipped at its border, set to 0 in normalised units; DeVries & Taylor, 2017).

    Use ``for x, y in it`` (each loop is the next pass, counting from 0), ``it.epoch(e)`` (pass ``e``,
    pure) or ``it.stream()`` (an endless, checkpointable :class:`PersistentStream`). Give the weight
    and the validation iterator of a search different seeds: equal-sized datasets with the same seed
    get the same permutations.

    Args:
        data: the dataset; it is moved to ``device`` once (if given).
        batch_size: images per batch.
        shuffle: draw a new permutation every pass (else the stored order).
        augment: random crop (+ flip if ``flip``).
        cutout: side of the cutout square; 0 turns cutout off.
        seed: non-negative seed of the whole stream.
        drop_last: drop the last, smaller batch of every pass.
        device: where the data and batches live; ``None`` keeps the data's device.
        flip: random horizontal flips when ``augment``; turn off for digits and SVHN.

    Yields:
        ``(x, y)``: ``x`` (B, C, H, W) float32 normalised, ``y`` (B,) int64, both on ``device``.
    """

    def __init__(self, data: ImageData, batch_size: int, shuffle: bool = True, augment: bool = False,
                 cutout: int = 0, seed: int = 0, drop_last: bool = False,
                 device: str | torch.device | None = None, flip: bool = True) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if cutout < 0:
            raise ValueError(f"cutout must be >= 0, got {cutout}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.data = data if device is None else data.to(device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.augment = augment
        self.flip = flip
        self.cutout = cutout
        self.seed = seed
        self.drop_last = drop_last
        self.device = self.data.device
        if len(self) == 0:
            raise ValueError(f"{len(data)} images give no batch of {batch_size} (drop_last={drop_last})")
        _, height, width = self.data.shape
        self.padding = (height // 8, width // 8)
        self._mean = torch.tensor(self.data.mean, device=self.device).view(1, -1, 1, 1)
        self._std = torch.tensor(self.data.std, device=self.device).view(1, -1, 1, 1)
        self._passes_started = 0

    def __len__(self) -> int:
        """Batches per pass."""
        n = len(self.data)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        """The next pass: 0 on the first loop over this iterator, then 1, 2, ..."""
        pass_index = self._passes_started
        self._passes_started += 1
        return self.epoch(pass_index)

    def epoch(self, pass_index: int, start: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        """The batches of pass ``pass_index``, from batch ``start`` on (to resume mid-epoch)."""
        if not 0 <= start <= len(self):
            raise ValueError(f"start must lie in [0, {len(self)}], got {start}")
        plan = self._plan(pass_index)
        for position in range(start, len(self)):
            yield self._batch(plan, position)

    def stream(self, pass_index: int = 0, position: int = 0) -> PersistentStream:
        """An endless stream of batches starting at batch ``position`` of pass ``pass_index``."""
        stream = PersistentStream(self)
        stream.load_state_dict({"pass_index": pass_index, "position": position})
        return stream

    def _plan(self, pass_index: int) -> _PassPlan:
        """Draw all randomness of pass ``pass_index`` (on the CPU, then moved to the device)."""
        generator = pass_generator(self.seed, pass_index)
        n = len(self.data)
        order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
        crop = flip = hole = None
        if self.augment:
            pad_h, pad_w = self.padding
            crop = torch.stack([torch.randint(0, 2 * pad_h + 1, (n,), generator=generator),
                                torch.randint(0, 2 * pad_w + 1, (n,), generator=generator)], dim=1)
            flip = torch.rand(n, generator=generator) < 0.5
            if not self.flip:
                flip = None
        if self.cutout:
            _, height, width = self.data.shape
            hole = torch.stack([torch.randint(0, height, (n,), generator=generator),
                                torch.randint(0, width, (n,), generator=generator)], dim=1)
        return _PassPlan(*(None if t is None else t.to(self.device) for t in (order, crop, flip, hole)))

    def _batch(self, plan: _PassPlan, position: int) -> tuple[Tensor, Tensor]:
        """Batch number ``position`` of the pass described by ``plan``."""
        part = slice(position * self.batch_size, (position + 1) * self.batch_size)
        index = plan.order[part]
        x = self.data.images[index]
        if plan.crop is not None:
            x = random_crop(x, plan.crop[part], self.padding)
        if plan.flip is not None:
            x = torch.where(plan.flip[part].view(-1, 1, 1, 1), x.flip(-1), x)
        x = x.float().div_(255.0).sub_(self._mean).div_(self._std)
        if plan.hole is not None:
            x = cutout(x, plan.hole[part], self.cutout)
        return x, self.data.labels[index]


class PersistentStream:
    """An endless stream of batches of a :class:`BatchIterator`, pass after pass.

    Its state is ``{"pass_index": k, "position": i}``: the next batch is batch ``i`` of pass ``k``
    (``0 <= i < len(iterator)``). ``state_dict()`` / ``load_state_dict()`` checkpoint and restore it;
    a restored stream yields exactly the batches the original would have.
    """

    def __init__(self, iterator: BatchIterator) -> None:
        self.iterator = iterator
        self.pass_index = 0
        self.position = 0
        self._plan: _PassPlan | None = None  # cache of the current pass's plan

    def __iter__(self) -> PersistentStream:
        return self

    def __next__(self) -> tuple[Tensor, Tensor]:
        if self._plan is None:
            self._plan = self.iterator._plan(self.pass_index)
        batch = self.iterator._batch(self._plan, self.position)
        self.position += 1
        if self.position == len(self.iterator):
            self.pass_index, self.position, self._plan = self.pass_index + 1, 0, None
        return batch

    def state_dict(self) -> dict[str, int]:
        return {"pass_index": self.pass_index, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        missing = {"pass_index", "position"} - set(state)
        if missing:
            raise KeyError(f"stream state lacks {sorted(missing)}; got {sorted(state)}")
        pass_index, position = int(state["pass_index"]), int(state["position"])
        if pass_index < 0 or not 0 <= position <= len(self.iterator):
            raise ValueError(f"invalid stream state {dict(state)} for {len(self.iterator)} batches per pass")
        if position == len(self.iterator):  # a finished pass: continue with the next one
            pass_index, position = pass_index + 1, 0
        self.pass_index, self.position, self._plan = pass_index, position, None


def random_crop(images: Tensor, offsets: Tensor, padding: tuple[int, int]) -> Tensor:
    """Zero-pad ``(B, C, H, W)`` images by ``padding = (ph, pw)`` and crop ``H x W`` at ``offsets``.

    ``offsets`` (B, 2) long: top and left corner of each crop in the padded image, in
    ``[0, 2 * ph]`` x ``[0, 2 * pw]``; ``(ph, pw)`` returns the image unchanged.
    """
    pad_h, pad_w = padding
    if pad_h == 0 and pad_w == 0:
        return images
    b, c, h, w = images.shape
    padded = F.pad(images, (pad_w, pad_w, pad_h, pad_h))
    device = images.device
    rows = offsets[:, 0, None] + torch.arange(h, device=device)  # (B, H)
    cols = offsets[:, 1, None] + torch.arange(w, device=device)  # (B, W)
    return padded[torch.arange(b, device=device).view(b, 1, 1, 1),
                  torch.arange(c, device=device).view(1, c, 1, 1),
                  rows.view(b, 1, h, 1), cols.view(b, 1, 1, w)]


def cutout(images: Tensor, centres: Tensor, length: int) -> Tensor:
    """Zero a ``length`` x ``length`` square per image of ``(B, C, H, W)``, clipped at the border.

    ``centres`` (B, 2) long: row and column of each square's centre; the square covers rows
    ``[r - length // 2, r + length // 2)`` (likewise columns), as in DeVries & Taylor's code.
    """
    _, _, h, w = images.shape
    half = length // 2
    rows = torch.arange(h, device=images.device)
    cols = torch.arange(w, device=images.device)
    in_rows = (rows >= centres[:, 0, None] - half) & (rows < centres[:, 0, None] + half)  # (B, H)
    in_cols = (cols >= centres[:, 1, None] - half) & (cols < centres[:, 1, None] + half)  # (B, W)
    hole = in_rows[:, None, :, None] & in_cols[:, None, None, :]  # (B, 1, H, W)
    return images.masked_fill(hole, 0.0)


# --------------------------------------------------------------------------------------------------
# Synthetic data in CIFAR-10's on-disk format (tests and the GPU check: a machine without internet)
# --------------------------------------------------------------------------------------------------

def write_synthetic_cifar10(root: str | os.PathLike[str], train_per_batch: int = 10, test: int = 10,
                            seed: int = 0) -> Path:
    """Write random images in CIFAR-10's own on-disk format under ``root`` and return the folder:
    ``root/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}``, python-2-style pickles of dicts
    with bytes keys (``b"data"``: ``(n, 3072)`` uint8 rows of R, G, B planes; ``b"labels"``: ``n`` ints in
    0..9; ``b"batch_label"``, ``b"filenames"``), as the real archive holds them. :func:`load_dataset` reads
    them with the same restricted unpickler as the real files. ``train_per_batch`` images in each of the five
    training files, ``test`` in ``test_batch``; labels cycle through the ten classes."""
    folder = Path(root).expanduser() / _LAYOUTS["cifar10"].folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    files = [(f"data_batch_{i}", train_per_batch, f"training batch {i} of 5") for i in range(1, 6)]
    for index, (name, n, label) in enumerate(files + [("test_batch", test, "testing batch 1 of 1")]):
        entry = {b"batch_label": label.encode(), b"labels": [int((index * n + k) % 10) for k in range(n)],
                 b"data": rng.integers(0, 256, size=(n, 3 * 32 * 32), dtype=np.uint8),
                 b"filenames": [f"synthetic_{k}.png".encode() for k in range(n)]}
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f, protocol=2)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": names, b"num_cases_per_batch": train_per_batch, b"num_vis": 3072}, f, protocol=2)
    return folder


# --------------------------------------------------------------------------------------------------
# Download (opt-in): through torchvision, verified, then read by the restricted unpickler above
# --------------------------------------------------------------------------------------------------

DOWNLOADABLE = {"cifar10": "CIFAR10", "cifar100": "CIFAR100"}
"""Data sets :func:`download_dataset` fetches, and the ``torchvision.datasets`` class that knows where from."""


def download_dataset(name: str, root: str | os.PathLike[str] | None = None) -> Path:
    """Fetch ``name`` into the data root (``root``, else ``$DARTSLIB_DATA``, else ``~/.cache/dartslib``) through
    ``torchvision.datasets``: the archive at the torchvision class's ``url``, checked against its MD5 and
    extracted by ``torchvision.datasets.utils.download_and_extract_archive``; then every extracted file is
    checked against torchvision's per-file MD5. Returns the dataset's folder. The files are read afterwards by
    :func:`load_dataset` with the restricted unpickler, never by torchvision's loader.

    Raises:
        ValueError: ``name`` cannot be downloaded (one line naming ``--download`` and what can).
        DataFileError: a downloaded file does not match its checksum (naming the file).
    """
    if name not in DOWNLOADABLE:
        raise ValueError(f"--download fetches {', '.join(DOWNLOADABLE)}, not {name!r}; see the error without "
                         f"--download for how to get {name}")
    import torchvision.datasets as tv_datasets
    from torchvision.datasets import utils as tv_utils

    source = getattr(tv_datasets, DOWNLOADABLE[name])
    root_path = _resolve_root(root)[0]
    root_path.mkdir(parents=True, exist_ok=True)
    tv_utils.download_and_extract_archive(source.url, str(root_path), filename=source.filename,
                                          md5=source.tgz_md5)
    folder = root_path / source.base_folder
    for file, md5 in [*source.train_list, *source.test_list, (source.meta["filename"], source.meta["md5"])]:
        if not tv_utils.check_integrity(str(folder / file), md5):
            raise DataFileError(f"{folder / file}: downloaded, but missing or not matching torchvision's MD5 {md5}; "
                                f"delete {folder} and download again")
    return folder


def ensure_downloaded(name: str, root: str | os.PathLike[str] | None = None) -> bool:
    """``--download``: fetch ``name`` (:func:`download_dataset`) unless its train and test files are already in
    the data root; True when it downloaded. The digits ship with scikit-learn: nothing to fetch."""
    if name in ("digits", "digits-hard"):
        return False
    try:
        for split in ("train", "test"):
            _find_folder(name, split, root)
        return False
    except DatasetNotFoundError:
        download_dataset(name, root)
        return True
