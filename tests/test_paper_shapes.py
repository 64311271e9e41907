"""Paper-shaped smoke tests on the CPU: every method preset takes one step at its paper configuration, on
CIFAR-10-format files, in both the DARTS and the NB201 space; and the final training takes two steps at
DARTS' evaluation setting (C=36, 20 cells, cutout, auxiliary head, drop-path).

The data are random images written in CIFAR-10's own on-disk format (``cifar-10-batches-py/data_batch_1..5``,
``test_batch``, ``batches.meta``: python-2 pickles of dicts with bytes keys) by
:func:`dartslib.data.write_synthetic_cifar10` and read back by the library's restricted unpickler, as the real
archive would be. Only the batch is reduced, to what one CPU core takes in about a minute for the whole file
(2 images in the DARTS space, whose supernet step is about 3 s on one core, 4 in NB201's): everything else --
image size 32, the supernet's width and depth, the method's own settings -- is the paper's.
"""
from __future__ import annotations

import warnings

import pytest
import torch

from dartslib import make_config
from dartslib.data import load_dataset, write_synthetic_cifar10
from dartslib.methods.presets import METHODS

#: the batch per space: BN needs two images; the DARTS space's supernet is the costly one
BATCH = {"darts": 2, "nb201": 4}
#: presets that run on one topology only, and the deprecated alias (the same settings as single-darts)
SKIP = {("darts-m2", "nb201"), ("single-darts-sigmoid", "darts"), ("single-darts-sigmoid", "nb201")}
#: FairDARTS searches the DARTS space without ``none`` (a sigmoid gate on an all-zero op never moves)
SPACE = {("fairdarts", "darts"): "darts-nonone"}
CASES = [(m, s) for s in ("darts", "nb201") for m in METHODS if (m, s) not in SKIP]


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_synthetic_cifar10(root, train_per_batch=4, test=8)
    return root


def test_the_synthetic_files_are_cifar10s_format(cifar_root):
    """The files have the real archive's names and are read by ``load_dataset`` as CIFAR-10: 32x32 RGB,
    ten classes, CIFAR-10's normalisation statistics."""
    import pickle

    folder = cifar_root / "cifar-10-batches-py"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["batches.meta", "test_batch"] + [f"data_batch_{i}" for i in range(1, 6)])
    with open(folder / "data_batch_1", "rb") as f:
        raw = pickle.load(f, encoding="bytes")
    assert set(raw) == {b"batch_label", b"labels", b"data", b"filenames"} and raw[b"data"].shape == (4, 3072)
    train = load_dataset("cifar10", "train", root=cifar_root)
    assert train.images.shape == (20, 3, 32, 32) and train.num_classes == 10
    assert sorted(set(train.labels.tolist())) == list(range(10))
    assert load_dataset("cifar10", "test", root=cifar_root).images.shape == (8, 3, 32, 32)


@pytest.mark.slow
@pytest.mark.parametrize("method,space", CASES, ids=[f"{m}-{s}" for m, s in CASES])
def test_one_search_step_at_the_paper_configuration(method, space, cifar_root, one_thread):
    from dartslib.engine.loop import Search

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        config = make_config(method, SPACE.get((method, space), space), "paper", data_dir=str(cifar_root),
                             epochs=1, max_steps_per_epoch=1, batch_size=BATCH[space], device="cpu")
    paper = make_config(method, SPACE.get((method, space), space), "paper")
    changed = {k for k in paper.to_dict() if paper.to_dict()[k] != config.to_dict()[k]}
    assert changed == {"data_dir", "epochs", "max_steps_per_epoch", "batch_size", "device"} - (
        {"device"} if paper.device == "cpu" else set())  # the batch is all that shrinks
    search = Search(config, None, progress=False)
    assert (config.dataset, config.image_size, config.C) == ("cifar10", None, 16)
    alphas = [a.detach().clone() for a in search.model.arch_parameters()]
    weights = [w.detach().clone() for w in search.model.weight_parameters()]
    stats = search.run_epoch()
    assert search.step == 1 and torch.isfinite(torch.tensor(stats["train_loss"]))
    assert any(not torch.equal(a, b) for a, b in zip(alphas, search.model.arch_parameters()))  # alphas stepped
    assert any(not torch.equal(w, v) for w, v in zip(weights, search.model.weight_parameters()))  # weights too


@pytest.mark.slow
def test_two_steps_of_final_training_at_darts_evaluation_setting(cifar_root, one_thread, monkeypatch):
    """C=36, 20 cells, cutout 16, auxiliary head (weight 0.4), drop-path 0.2 on DARTS-V2's genotype; the batch
    is 2 instead of 96. Two steps, each with the auxiliary head's loss and drop-path active."""
    from dartslib.arch.genotype import published_genotype
    from dartslib.engine.train import Training, make_train_config

    config = make_train_config(str(published_genotype("DARTS_V2")), "paper", data_dir=str(cifar_root),
                               batch_size=2, epochs=1, device="cpu")
    assert (config.C, config.layers, config.cutout, config.auxiliary_weight, config.drop_path) == (36, 20, 16, 0.4,
                                                                                                  0.2)
    training = Training(config, None, progress=False)
    model = training.model
    assert hasattr(model, "forward_with_aux") and model.auxiliary_head is not None
    calls = []
    original = model.forward_with_aux

    def counted(x):
        logits, aux = original(x)
        calls.append((tuple(x.shape), aux is not None))
        return logits, aux

    monkeypatch.setattr(model, "forward_with_aux", counted)
    training.epoch = 1  # drop-path probability 0.2 * epoch / epochs: active from the second epoch on
    cut = [b for _, b in zip(range(2), training.train_batches.epoch(0))]
    monkeypatch.setattr(training.train_batches, "epoch", lambda epoch, start=0: iter(cut[start:]))
    monkeypatch.setattr(type(training.train_batches), "__len__", lambda self: 2)
    before = [p.detach().clone() for p in model.parameters()]
    stats = training.run_epoch()
    assert calls == [((2, 3, 32, 32), True)] * 2 and model.drop_path_prob == pytest.approx(0.2)
    assert torch.isfinite(torch.tensor(stats["train_loss"]))
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
