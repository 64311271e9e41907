"""Tests of dartslib.data: loaders (with tiny files in the real on-disk formats), splits, batches."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from dartslib.data import (
    DATASETS, BatchIterator, DatasetNotFoundError, ImageData, PersistentStream, cutout, data_root,
    load_dataset, random_crop, split_train_valid,
)


# ------------------------------------------------------------------------------------------------
# helpers: tiny datasets in the real formats
# ------------------------------------------------------------------------------------------------

def _dump(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f)


def _planar(rng: np.random.Generator, n: int, side: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, 3 * side * side), dtype=np.uint8)


def _write_cifar10(root: Path, per_batch: int = 3) -> dict[str, tuple[np.ndarray, list[int]]]:
    rng = np.random.default_rng(0)
    folder = root / "cifar-10-batches-py"
    written = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data, labels = _planar(rng, per_batch, 32), rng.integers(0, 10, per_batch).tolist()
        _dump(folder / name, {b"batch_label": name.encode(), b"labels": labels, b"data": data,
                              b"filenames": [b"x.png"] * per_batch})
        written[name] = (data, labels)
    _dump(folder / "batches.meta", {b"label_names": [f"c{i}".encode() for i in range(10)],
                                    b"num_cases_per_batch": per_batch, b"num_vis": 3072})
    return written


def _write_cifar100(root: Path, n: int = 5) -> dict[str, tuple[np.ndarray, list[int]]]:
    rng = np.random.default_rng(1)
    folder = root / "cifar-100-python"
    written = {}
    for name in ("train", "test"):
        data, fine = _planar(rng, n, 32), rng.integers(0, 100, n).tolist()
        _dump(folder / name, {b"filenames": [b"x.png"] * n, b"batch_label": name.encode(),
                              b"fine_labels": fine, b"coarse_labels": [f // 5 for f in fine], b"data": data})
        written[name] = (data, fine)
    _dump(folder / "meta", {b"fine_label_names": [f"f{i}".encode() for i in range(100)],
                            b"coarse_label_names": [f"c{i}".encode() for i in range(20)]})
    return written


def _write_imagenet16(folder: Path, per_batch: int = 4) -> dict[str, tuple[np.ndarray, list[int]]]:
    rng = np.random.default_rng(2)
    written = {}
    for name in [f"train_data_batch_{i}" for i in range(1, 11)] + ["val_data"]:
        data = _planar(rng, per_batch, 16)
        labels = [1, 120, 121, 1000][:per_batch]
        _dump(folder / name, {"data": data, "labels": labels, "mean": np.zeros(768)})
        written[name] = (data, labels)
    return written


# ------------------------------------------------------------------------------------------------
# digits
# ------------------------------------------------------------------------------------------------

def test_digits_shapes_labels_and_split() -> None:
    train, test = load_dataset("digits"), load_dataset("digits", "test")
    assert train.images.shape[1:] == (3, 16, 16) and train.images.dtype == torch.uint8
    assert train.labels.dtype == torch.int64 and train.num_classes == 10 and train.name == "digits"
    assert len(train) + len(test) == 1797 and abs(len(test) - 0.2 * 1797) < 10
    assert torch.equal(train.images[:, 0], train.images[:, 2])  # grey replicated to 3 channels
    counts_train, counts_test = train.labels.bincount(minlength=10), test.labels.bincount(minlength=10)
    assert ((counts_test - 0.2 * (counts_train + counts_test)).abs() <= 1).all()  # stratified
    assert test.mean == train.mean and test.std == train.std  # test normalised with train stats
    x = train.images.double() / 255
    assert np.allclose(train.mean, x.mean(dim=(0, 2, 3)).tolist())
    assert np.allclose(train.std, x.std(dim=(0, 2, 3), unbiased=False).tolist())


def test_digits_deterministic_and_independent_of_global_rng() -> None:
    torch.manual_seed(1)
    np.random.seed(1)
    a = load_dataset("digits", "test")
    torch.manual_seed(2)
    np.random.seed(2)
    b = load_dataset("digits", "test")
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)


def test_digits_native_size_scales_grey_values() -> None:
    from sklearn.datasets import load_digits

    raw = load_digits()
    train, test = load_dataset("digits", image_size=8), load_dataset("digits", "test", image_size=8)
    assert train.images.shape[1:] == (3, 8, 8)
    assert int(train.images.max()) == 255
    expected = sorted((np.round(raw.images * 255 / 16)).reshape(len(raw.images), -1).sum(1).tolist())
    got = sorted(torch.cat([train.images, test.images])[:, 0].reshape(1797, -1).double().sum(1).tolist())
    assert expected == got  # the two splits partition the 1797 images
    assert load_dataset("digits", image_size=24).images.shape[1:] == (3, 24, 24)


# ------------------------------------------------------------------------------------------------
# on-disk formats
# ------------------------------------------------------------------------------------------------

def test_cifar10_real_format(tmp_path: Path) -> None:
    written = _write_cifar10(tmp_path)
    train, test = load_dataset("cifar10", root=tmp_path), load_dataset("cifar10", "test", root=tmp_path)
    assert train.images.shape == (15, 3, 32, 32) and test.images.shape == (3, 3, 32, 32)
    assert train.num_classes == 10 and train.mean == pytest.approx((0.4914, 0.4822, 0.4465))
    data, labels = written["data_batch_2"]
    first = train.images[3]  # first image of batch 2: R plane, then G, then B, each row-major
    assert torch.equal(first[0], torch.from_numpy(data[0, :1024].reshape(32, 32)))
    assert torch.equal(first[2], torch.from_numpy(data[0, 2048:].reshape(32, 32)))
    assert train.labels[3:6].tolist() == labels
    assert test.labels.tolist() == written["test_batch"][1]


def test_cifar100_uses_fine_labels(tmp_path: Path) -> None:
    written = _write_cifar100(tmp_path)
    test = load_dataset("cifar100", "test", root=tmp_path)
    assert test.images.shape == (5, 3, 32, 32) and test.num_classes == 100
    assert test.labels.tolist() == written["test"][1]
    assert torch.equal(test.images[4, 1], torch.from_numpy(written["test"][0][4, 1024:2048].reshape(32, 32)))


def test_svhn_mat_format_maps_10_to_0(tmp_path: Path) -> None:
    from scipy.io import savemat

    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, size=(32, 32, 3, 4), dtype=np.uint8)
    y = np.array([[10], [1], [9], [10]], dtype=np.uint8)
    (tmp_path / "svhn").mkdir()
    savemat(tmp_path / "svhn" / "train_32x32.mat", {"X": x, "y": y})
    data = load_dataset("svhn", root=tmp_path)
    assert data.images.shape == (4, 3, 32, 32) and data.labels.tolist() == [0, 1, 9, 0]
    assert torch.equal(data.images[2, 1], torch.from_numpy(x[:, :, 1, 2]))
    savemat(tmp_path / "test_32x32.mat", {"X": x, "y": y})  # torchvision's layout: directly in the root
    assert torch.equal(load_dataset("svhn", "test", root=tmp_path).images, data.images)


def test_imagenet16_keeps_first_120_classes_shifted(tmp_path: Path) -> None:
    written = _write_imagenet16(tmp_path / "ImageNet16")
    train = load_dataset("imagenet16-120", root=tmp_path)
    assert train.images.shape == (20, 3, 16, 16) and train.num_classes == 120
    assert train.labels.tolist() == [0, 119] * 10  # 121 and 1000 dropped, 1-based -> 0-based
    data = written["train_data_batch_3"][0]
    assert torch.equal(train.images[4], torch.from_numpy(data[0].reshape(3, 16, 16)))
    assert torch.equal(train.images[5], torch.from_numpy(data[1].reshape(3, 16, 16)))
    val = load_dataset("imagenet16-120", "test", root=tmp_path / "ImageNet16")  # root = the folder itself
    assert val.labels.tolist() == [0, 119]
    assert val.mean == pytest.approx((122.68 / 255, 116.66 / 255, 104.01 / 255))


def test_image_size_resizes(tmp_path: Path) -> None:
    _write_cifar10(tmp_path)
    small = load_dataset("cifar10", "test", root=tmp_path, image_size=16)
    assert small.images.shape == (3, 3, 16, 16) and small.images.dtype == torch.uint8


# ------------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, folder, hint", [
    ("cifar10", "cifar-10-batches-py", "https://www.cs.toronto.edu/~kriz/cifar.html"),
    ("cifar100", "cifar-100-python", "torchvision.datasets.CIFAR100"),
    ("svhn", "svhn", "http://ufldl.stanford.edu/housenumbers/"),
    ("imagenet16-120", "ImageNet16", "NAS-Bench-201"),
])
def test_missing_data_message(tmp_path: Path, name: str, folder: str, hint: str) -> None:
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset(name, root=tmp_path)
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    assert repr(name) in message and str(tmp_path / folder) in message and hint in message


def test_missing_file_is_named_and_env_root_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_4").unlink()
    monkeypatch.setenv("DARTSLIB_DATA", str(tmp_path))
    assert data_root() == tmp_path
    assert len(load_dataset("cifar10", "test")) == 3  # test split is complete
    with pytest.raises(DatasetNotFoundError, match=r"missing: data_batch_4\.") as info:
        load_dataset("cifar10")
    assert "$DARTSLIB_DATA" in str(info.value)


def test_unknown_name_and_split() -> None:
    with pytest.raises(ValueError, match="valid names: digits, digits-hard, cifar10, cifar100, svhn, imagenet16-120"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="valid splits"):
        load_dataset("digits", "valid")
    assert DATASETS == ("digits", "digits-hard", "cifar10", "cifar100", "svhn", "imagenet16-120")


def test_image_data_validates() -> None:
    images = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    with pytest.raises(ValueError, match="uint8"):
        ImageData(images.float(), torch.zeros(2, dtype=torch.long), 2, (0.5,) * 3, (0.5,) * 3, "x")
    with pytest.raises(ValueError, match="labels must lie"):
        ImageData(images, torch.tensor([0, 2]), 2, (0.5,) * 3, (0.5,) * 3, "x")
    with pytest.raises(ValueError, match="one value per channel"):
        ImageData(images, torch.tensor([0, 1]), 2, (0.5,), (0.5,), "x")


# ------------------------------------------------------------------------------------------------
# ImageData and the search split
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits() -> ImageData:
    return load_dataset("digits")


def test_subset_and_to(digits: ImageData) -> None:
    part = digits.subset([5, 0, 7])
    assert len(part) == 3 and torch.equal(part.images[1], digits.images[0])
    assert part.labels.tolist() == digits.labels[[5, 0, 7]].tolist() and part.mean == digits.mean
    mask = torch.zeros(len(digits), dtype=torch.bool)
    mask[[2, 3]] = True
    assert torch.equal(digits.subset(mask).labels, digits.labels[2:4])
    assert len(digits.subset([])) == 0
    assert digits.to("cpu") is digits


def test_split_train_valid(digits: ImageData) -> None:
    weights, valid = split_train_valid(digits)
    half = len(digits) // 2
    assert torch.equal(weights.images, digits.images[:half])
    assert torch.equal(valid.images, digits.images[half:])
    a, b = split_train_valid(digits, 0.8, seed=3)
    a2, _ = split_train_valid(digits, 0.8, seed=3)
    assert len(a) == int(0.8 * len(digits)) and len(a) + len(b) == len(digits)
    assert torch.equal(a.images, a2.images) and not torch.equal(a.images, digits.images[:len(a)])
    with pytest.raises(ValueError):
        split_train_valid(digits, 1.0)


# ------------------------------------------------------------------------------------------------
# batches
# ------------------------------------------------------------------------------------------------

def _stack(batches) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(*batches)
    return torch.cat(xs), torch.cat(ys)


def test_batches_shapes_lengths_and_coverage(digits: ImageData) -> None:
    it = BatchIterator(digits, 100)
    batches = list(it.epoch(0))
    assert len(it) == len(batches) == 15 and batches[-1][0].shape == (38, 3, 16, 16)
    x, y = batches[0]
    assert x.dtype == torch.float32 and x.shape == (100, 3, 16, 16) and y.dtype == torch.int64
    assert len(BatchIterator(digits, 100, drop_last=True)) == 14
    _, labels = _stack(batches)
    assert torch.equal(labels.bincount(minlength=10), digits.labels.bincount(minlength=10))  # a permutation
    plain = BatchIterator(digits, 1000, shuffle=False)
    assert torch.equal(next(plain.epoch(0))[1], digits.labels[:1000])
    with pytest.raises(ValueError):
        BatchIterator(digits, 2000, drop_last=True)
    assert BatchIterator(digits, 100).data is digits  # device=None: batches stay on the data's device


def test_normalisation(digits: ImageData) -> None:
    x, _ = _stack(BatchIterator(digits, 512, shuffle=False).epoch(0))
    assert x.mean(dim=(0, 2, 3)).abs().max() < 1e-4
    assert (x.std(dim=(0, 2, 3)) - 1).abs().max() < 1e-3


def test_determinism_and_epochs(digits: ImageData) -> None:
    x0, y0 = _stack(BatchIterator(digits, 256, seed=5).epoch(0))
    x0b, y0b = _stack(BatchIterator(digits, 256, seed=5).epoch(0))
    assert torch.equal(x0, x0b) and torch.equal(y0, y0b)
    it = BatchIterator(digits, 256, seed=5)
    first, second = _stack(iter(it)), _stack(iter(it))  # each loop is the next pass
    assert torch.equal(first[1], y0) and torch.equal(second[1], _stack(it.epoch(1))[1])
    assert not torch.equal(first[1], second[1])
    assert not torch.equal(_stack(BatchIterator(digits, 256, seed=6).epoch(0))[1], y0)
    tail = list(BatchIterator(digits, 256, seed=5).epoch(0, start=3))
    assert torch.equal(_stack(tail)[1], y0[3 * 256:])


@pytest.mark.parametrize("augment, cutout_length", [(False, 0), (True, 6)])
def test_stream_resume_is_bit_identical(digits: ImageData, augment: bool, cutout_length: int) -> None:
    small = digits.subset(range(50))
    make = lambda: BatchIterator(small, 16, augment=augment, cutout=cutout_length, seed=3)  # noqa: E731
    reference = make().stream()
    expected = [next(reference) for _ in range(12)]  # 4 batches per pass: crosses two pass boundaries
    stream = make().stream()
    for _ in range(7):
        next(stream)
    state = stream.state_dict()
    assert state == {"pass_index": 1, "position": 3}
    resumed = PersistentStream(make())
    resumed.load_state_dict(state)
    for (x, y), (xe, ye) in zip([next(resumed) for _ in range(5)], expected[7:]):
        assert torch.equal(x, xe) and torch.equal(y, ye)
    epoch_1 = list(make().epoch(1))  # the stream's passes are the iterator's epochs
    assert all(torch.equal(a[0], b[0]) for a, b in zip(epoch_1, expected[4:8]))


def test_augment_shapes_determinism_and_crop(digits: ImageData) -> None:
    small = digits.subset(range(64))
    x, y = next(BatchIterator(small, 64, shuffle=False, augment=True, seed=1).epoch(0))
    x2, _ = next(BatchIterator(small, 64, shuffle=False, augment=True, seed=1).epoch(0))
    plain, y_plain = next(BatchIterator(small, 64, shuffle=False).epoch(0))
    assert x.shape == plain.shape and torch.equal(y, y_plain) and torch.equal(x, x2)
    assert not torch.equal(x, plain)
    mean, std = torch.tensor(small.mean).view(3, 1, 1), torch.tensor(small.std).view(3, 1, 1)
    pixels = ((x * std + mean) * 255).round().to(torch.uint8)
    pad = 16 // 8  # every output is a zero-padded shift (maybe flipped) of its source image
    flipped_any = False
    for i in range(64):
        padded = torch.nn.functional.pad(small.images[i], (pad, pad, pad, pad))
        crops = {(dy, dx): padded[:, dy:dy + 16, dx:dx + 16]
                 for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)}
        shifts = [(dy, dx, f) for (dy, dx), crop in crops.items() for f in (False, True)
                  if torch.equal(pixels[i], crop.flip(-1) if f else crop)]
        assert shifts, f"augmented image {i} is no crop/flip of its source"
        flipped_any |= all(f for _, _, f in shifts)
    assert flipped_any
    no_flip, _ = next(BatchIterator(small, 64, shuffle=False, augment=True, seed=1, flip=False).epoch(0))
    assert not torch.equal(no_flip, x)


def test_cutout_zeroes_one_square() -> None:
    white = ImageData(torch.full((200, 3, 12, 12), 255, dtype=torch.uint8),
                      torch.zeros(200, dtype=torch.long), 1, (0.5,) * 3, (0.25,) * 3, "white")
    x, _ = next(BatchIterator(white, 200, cutout=4, seed=0).epoch(0))
    holes = x == 0
    assert torch.equal(holes[:, 0], holes[:, 2]) and (x[~holes] == 2.0).all()
    full = 0
    for hole in holes[:, 0]:
        rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
        assert 1 <= len(rows) <= 4 and 1 <= len(cols) <= 4
        assert hole[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()  # a filled rectangle
        assert hole.sum() == len(rows) * len(cols)
        full += int(hole.sum() == 16)
    assert full > 50  # away from the border the square is complete


def test_functional_crop_and_cutout() -> None:
    images = torch.arange(2 * 1 * 4 * 4, dtype=torch.uint8).view(2, 1, 4, 4)
    same = random_crop(images, torch.tensor([[1, 1], [1, 1]]), (1, 1))
    assert torch.equal(same, images)
    shifted = random_crop(images, torch.tensor([[0, 2], [2, 0]]), (1, 1))
    assert shifted[0, 0, 0].tolist() == [0, 0, 0, 0] and shifted[0, 0, 1].tolist() == [1, 2, 3, 0]
    assert shifted[1, 0, 3].tolist() == [0, 0, 0, 0] and shifted[1, 0, 0].tolist() == [0, 20, 21, 22]
    out = cutout(torch.ones(1, 1, 5, 5), torch.tensor([[0, 4]]), 4)
    assert (out[0, 0] == 0).nonzero().tolist() == [[0, 2], [0, 3], [0, 4], [1, 2], [1, 3], [1, 4]]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda_batches_match_cpu(digits: ImageData) -> None:
    cpu = next(BatchIterator(digits, 128, augment=True, cutout=4, seed=2).epoch(3))
    gpu = next(BatchIterator(digits, 128, augment=True, cutout=4, seed=2, device="cuda").epoch(3))
    assert gpu[0].is_cuda and torch.equal(cpu[1], gpu[1].cpu())
    assert BatchIterator(digits.to("cuda"), 128).device.type == "cuda"  # device=None keeps the data's
    assert torch.allclose(cpu[0], gpu[0].cpu(), atol=1e-6)


# digits-hard: generated in memory from the digits, the same on every machine

def test_digits_hard_sizes_split_and_sources_disjoint() -> None:
    from dartslib.data import DIGITS_HARD_VARIANTS, make_digits_hard

    train, test = load_dataset("digits-hard"), load_dataset("digits-hard", "test")
    plain_train, plain_test = load_dataset("digits"), load_dataset("digits", "test")
    assert len(train) == DIGITS_HARD_VARIANTS["train"] * len(plain_train)
    assert len(test) == DIGITS_HARD_VARIANTS["test"] * len(plain_test)
    assert train.images.shape[1:] == (3, 16, 16) and train.name == "digits-hard" and train.num_classes == 10
    # the labels are the source split's, tiled: every test image comes from a test digit
    assert torch.equal(test.labels[:len(plain_test)], plain_test.labels)
    assert torch.equal(train.labels[:len(plain_train)], plain_train.labels)
    # test and train normalise alike (the train split's statistics)
    assert train.mean == test.mean and train.std == test.std
    # the transforms make it harder: the variants of one digit differ from each other and from the digit
    images, _ = make_digits_hard("test")
    first, second = images[0], images[len(plain_test)]
    assert np.abs(first - second).mean() > 0.05
    assert load_dataset("digits-hard", image_size=8).images.shape[1:] == (3, 8, 8)


def test_digits_hard_is_deterministic_and_independent_of_global_rng() -> None:
    from dartslib.data import make_digits_hard

    torch.manual_seed(1)
    np.random.seed(1)
    a, la = make_digits_hard("test")
    torch.manual_seed(2)
    np.random.seed(2)
    b, lb = make_digits_hard("test")
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    # control: the other split's generator gives other images
    c, _ = make_digits_hard("train")
    assert not np.array_equal(a[:100], c[:100])
