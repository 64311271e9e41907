"""Training a genotype from scratch: defaults, a toy run, drop-path schedule, resume."""
import json

import pytest
import torch

from dartslib.engine.train import Training, make_train_config

NB201 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def test_paper_defaults_follow_darts():
    config = make_train_config("DARTS_V2", "paper")
    assert (config.epochs, config.batch_size, config.lr, config.weight_decay) == (600, 96, 0.025, 3e-4)
    assert (config.cutout, config.drop_path, config.auxiliary_weight) == (16, 0.2, 0.4)
    assert (config.C, config.layers, config.dataset) == (36, 20, "cifar10")
    assert config.genotype.startswith("Genotype(normal=[('sep_conv_3x3', 0)")


def test_nb201_strings_train_the_nb201_network():
    config = make_train_config(NB201, "paper")
    assert config.is_nb201 and config.auxiliary_weight == 0 and config.drop_path == 0


def test_bad_genotype_and_scale():
    with pytest.raises(ValueError):
        make_train_config("Genotype(normal=[('warp_drive', 0)]", "toy")
    with pytest.raises(ValueError, match="unknown scale"):
        make_train_config("DARTS_V2", "huge")


def tiny(genotype="DARTS_V2", **overrides):
    values = dict(epochs=2, C=4, layers=3, image_size=8, batch_size=128)
    values.update(overrides)
    return make_train_config(genotype, "toy", **values)


def test_toy_training_learns_and_ramps_drop_path(tmp_path):
    reference = Training(tiny(drop_path=0.2), tmp_path / "a", progress=False)
    result = reference.run()
    assert result["epochs"] == 2 and result["parameters"] > 0
    assert result["test_acc"] > 10.0  # better than chance on 10 digits
    history = [json.loads(line) for line in (tmp_path / "a" / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2]
    assert reference.model.drop_path_prob == pytest.approx(0.2 * 1 / 2)  # linear ramp, set per epoch



def test_resumed_training_is_bit_identical(tmp_path):
    full = Training(tiny(), tmp_path / "full", progress=False)
    full.run()
    half = Training(tiny(), tmp_path / "half", progress=False)
    half.config.epochs = 2
    half.run_epoch()  # one epoch by hand, then save as run() would
    half.scheduler.step()
    half.epoch, half.step = 1, 0
    half.history.append({"epoch": 1})
    half.save()
    resumed = Training.resume(tmp_path / "half", progress=False)
    resumed.run()
    for (name, a), (_, b) in zip(full.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), name


def test_nb201_toy_training_runs():
    result = Training(tiny(NB201, layers=1), None, progress=False).run()
    assert result["epochs"] == 2
