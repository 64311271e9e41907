"""``--download`` / ``download=True``: a missing CIFAR-10 is fetched through torchvision, checked against the
MD5 sums, then read by dartslib's restricted unpickler; off by default. No network: torchvision's downloader
is replaced by a fake that writes CIFAR-format files (dartslib.data.write_synthetic_cifar10)."""
from __future__ import annotations

import hashlib

import pytest
import torchvision.datasets as tv_datasets
from torchvision.datasets import utils as tv_utils

from dartslib.data import DataFileError, DatasetNotFoundError, load_dataset, write_synthetic_cifar10


def _md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def fake_torchvision(tmp_path_factory, monkeypatch):
    """torchvision's CIFAR10 sums set to those of synthetic files, and a downloader that writes those files."""
    reference = write_synthetic_cifar10(tmp_path_factory.mktemp("reference"), train_per_batch=3, test=4)
    sums = {p.name: _md5(p) for p in reference.iterdir()}
    monkeypatch.setattr(tv_datasets.CIFAR10, "train_list", [[f"data_batch_{i}", sums[f"data_batch_{i}"]]
                                                            for i in range(1, 6)])
    monkeypatch.setattr(tv_datasets.CIFAR10, "test_list", [["test_batch", sums["test_batch"]]])
    monkeypatch.setattr(tv_datasets.CIFAR10, "meta", {"filename": "batches.meta", "key": "label_names",
                                                      "md5": sums["batches.meta"]})
    calls = []

    def download_and_extract_archive(url, download_root, filename=None, md5=None, **kwargs):
        calls.append((url, filename, md5))
        write_synthetic_cifar10(download_root, train_per_batch=3, test=4)

    monkeypatch.setattr(tv_utils, "download_and_extract_archive", download_and_extract_archive)
    return calls


def test_download_fetches_verifies_and_reads_with_the_restricted_unpickler(tmp_path, fake_torchvision, monkeypatch):
    import dartslib.data as data

    read = []
    original = data._read_pickle
    monkeypatch.setattr(data, "_read_pickle", lambda path: read.append(path.name) or original(path))
    train = load_dataset("cifar10", "train", root=tmp_path, download=True)
    assert train.images.shape == (15, 3, 32, 32) and train.num_classes == 10
    assert fake_torchvision == [(tv_datasets.CIFAR10.url, "cifar-10-python.tar.gz", tv_datasets.CIFAR10.tgz_md5)]
    assert read == [f"data_batch_{i}" for i in range(1, 6)]  # dartslib's unpickler read every file
    load_dataset("cifar10", "test", root=tmp_path, download=True)
    assert len(fake_torchvision) == 1, "files already there: no second download"


def test_without_download_nothing_is_fetched_and_the_error_offers_the_flag(tmp_path, fake_torchvision):
    with pytest.raises(DatasetNotFoundError, match="--download"):
        load_dataset("cifar10", "train", root=tmp_path)
    assert fake_torchvision == []


def test_a_file_that_does_not_match_its_checksum_is_refused(tmp_path, fake_torchvision, monkeypatch):
    monkeypatch.setattr(tv_datasets.CIFAR10, "test_list", [["test_batch", "0" * 32]])
    with pytest.raises(DataFileError, match=r"test_batch: downloaded, but .* torchvision's MD5 0{32}"):
        load_dataset("cifar10", "train", root=tmp_path, download=True)


def test_a_data_set_torchvision_cannot_fetch_is_a_one_line_error(tmp_path):
    from dartslib.data import download_dataset

    with pytest.raises(ValueError, match="--download fetches cifar10, cifar100, not 'imagenet16-120'"):
        download_dataset("imagenet16-120", tmp_path)


def test_the_cli_flag_downloads_before_the_run_and_is_off_by_default(tmp_path, fake_torchvision, monkeypatch):
    import dartslib.cli as cli

    ran = []
    monkeypatch.setattr(cli, "_run_search", lambda args: ran.append(args.download) or 0)
    assert cli.main(["search", "--scale", "paper", "--data-dir", str(tmp_path)]) == 0
    assert fake_torchvision == [] and ran == [False]
    assert cli.main(["search", "--scale", "paper", "--data-dir", str(tmp_path), "--download"]) == 0
    assert len(fake_torchvision) == 1 and ran == [False, True]
    assert (tmp_path / "cifar-10-batches-py" / "test_batch").is_file()
