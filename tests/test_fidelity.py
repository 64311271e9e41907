"""Fidelity to the papers' and the authors' code (issue 10): NAS-Bench-201's DARTS protocol (step order,
Nesterov, per-iteration cosine, CIFAR-100 split), its CLI flags, and what stays DARTS' default."""
import importlib
import json
import math

import pytest
import torch

from dartslib import make_config
from dartslib.cli import main
from dartslib.data import load_dataset
from dartslib.engine.loop import Search
from dartslib.engine.train import make_train_config

search_module = importlib.import_module("dartslib.engine.loop")  # the search loop (dartslib.search is the function)
steps_module = importlib.import_module("dartslib.engine.steps")  # the steps every loop takes (steps.search_step)

TINY = dict(epochs=2, C=4, cells_per_stage=1, max_steps_per_epoch=3, batch_size=32, image_size=8)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_nb201_protocol_values_and_the_unchanged_default():
    c = make_config("darts", "nb201", protocol="nb201")  # AutoDL's DARTS.config + DARTS-V1.sh
    assert (c.lr, c.lr_min, c.lr_schedule, c.momentum, c.nesterov, c.weight_decay, c.batch_size, c.epochs) == (
        0.025, 0.001, "cosine-step", 0.9, True, 5e-4, 64, 50)
    assert (c.step_order, c.arch_lr, c.arch_betas, c.arch_weight_decay) == ("weights-first", 3e-4, (0.5, 0.999), 1e-3)
    d = make_config("darts", "nb201")  # the default stays DARTS' CIFAR search setting
    assert (d.protocol, d.lr_schedule, d.nesterov, d.weight_decay, d.step_order) == (
        "darts", "cosine", False, 3e-4, "arch-first")
    sp = make_config("sp-darts", "nb201", protocol="nb201")  # the method's Table II wins over the protocol
    assert (sp.lr, sp.lr_schedule, sp.batch_size, sp.arch_weight_decay, sp.weight_decay, sp.nesterov) == (
        0.05, "constant", 256, 0.0, 5e-4, True)
    with pytest.raises(ValueError, match="NAS-Bench-201"):
        make_config("darts", "darts", protocol="nb201")
    with pytest.raises(ValueError, match="step_order"):
        make_config("darts", "nb201", step_order="random")


def _spy_steps(monkeypatch):
    calls = []
    for name in ("weight_step", "arch_step_first_order"):
        real = getattr(steps_module, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)
        monkeypatch.setattr(steps_module, name, spy)
    return calls


@pytest.mark.parametrize("order, first", [("arch-first", "arch_step_first_order"), ("weights-first", "weight_step")])
def test_step_order(monkeypatch, order, first):
    calls = _spy_steps(monkeypatch)
    s = Search(make_config("darts", "nb201", "toy", step_order=order, **{**TINY, "epochs": 1}), progress=False)
    s.run()
    assert len(calls) == 6 and calls[0] == first and calls[1] != first


def test_per_iteration_cosine_and_nesterov(monkeypatch):
    lrs = []
    real = steps_module.weight_step

    def spy(model, x, y, optimizer, clip, **kwargs):
        lrs.append(optimizer.param_groups[0]["lr"])
        return real(model, x, y, optimizer, clip, **kwargs)
    monkeypatch.setattr(steps_module, "weight_step", spy)
    s = Search(make_config("darts", "nb201", "toy", protocol="nb201", **TINY), progress=False)
    assert s.weight_optimizer.param_groups[0]["nesterov"]
    s.run()
    total = 2 * 3
    expected = [0.001 + 0.024 * (1 + math.cos(math.pi * t / total)) / 2 for t in range(total)]
    assert lrs == pytest.approx(expected)  # per iteration, as AutoDL's scheduler.update(None, step / len)
    lrs.clear()
    Search(make_config("darts", "nb201", "toy", **TINY), progress=False).run()  # DARTS: per epoch
    assert lrs == pytest.approx([0.025] * 3 + [0.013] * 3)


def test_nb201_protocol_cifar100_split(monkeypatch):
    # no CIFAR-100 here: stand digits in for it and check which parts train what
    digits = {split: load_dataset("digits", split, image_size=8) for split in ("train", "test")}
    monkeypatch.setattr(search_module, "load_dataset", lambda name, split="train", **kw: digits[split])
    s = Search(make_config("darts", "nb201", "toy", protocol="nb201", dataset="cifar100", **TINY), progress=False)
    n_train, n_test = len(digits["train"]), len(digits["test"])
    assert len(s.train_batches) == math.ceil(n_train / 32)  # the weights: the whole training set
    seen = sum(len(y) for _, y in s.held_out.epoch(0))
    assert seen == n_test - n_test // 2  # the alphas and the evaluation: half of the test set
    darts = Search(make_config("darts", "nb201", "toy", dataset="cifar100", **TINY), progress=False)
    assert len(darts.train_batches) == math.ceil((n_train // 2) / 32)  # DARTS: half of the training set


FAST = ["--epochs", "1", "--C", "2", "--cells-per-stage", "1", "--batch-size", "512", "--quiet"]


def test_cli_flags_of_the_new_switches(tmp_path):
    rc = main(["search", "--method", "sp-darts", "--space", "nb201", "--protocol", "nb201", "--t-warmup", "10",
               *FAST, "--out", str(tmp_path / "sp")])
    assert rc == 0
    config = json.loads((tmp_path / "sp" / "result.json").read_text())["config"]
    assert (config["protocol"], config["t_warmup"], config["step_order"], config["nesterov"]) == (
        "nb201", 10.0, "weights-first", True)
    rc = main(["search", "--method", "darts-gaussian", "--space", "nb201", "--skip-noise-decay-epochs", "30",
               *FAST, "--out", str(tmp_path / "g")])
    assert rc == 0
    assert json.loads((tmp_path / "g" / "result.json").read_text())["config"]["skip_noise_decay_epochs"] == 30


def test_train_config_drop_path_mode():
    assert make_train_config("FairDARTS_a", "toy").drop_path_mode == "auto"
    assert make_train_config("FairDARTS_a", "toy", drop_path_mode="edge").drop_path_mode == "edge"
    with pytest.raises(ValueError, match="drop_path_mode"):
        make_train_config("DARTS_V2", "toy", drop_path_mode="cell")


def test_single_darts_none_gate_does_not_move_without_weight_decay():
    # Hou et al. (2021), Sec. 5.1.2: "weight decay is set to 0 to avoid extra gradients on zero operations".
    # none's alpha gets no gradient from the loss; with the old alpha weight decay (1e-3) Adam walked it.
    runs = {wd: Search(make_config("single-darts", "nb201", "toy", arch_weight_decay=wd, **TINY), progress=False)
            for wd in (0.0, 1e-3)}
    for s in runs.values():
        s.run()
    none = {wd: s.model.arch_params["cell"][:, 0] for wd, s in runs.items()}
    assert torch.equal(none[0.0], torch.full_like(none[0.0], -math.log(7.0)))
    assert (none[1e-3] > -math.log(7.0) + 1e-4).all()


def test_discretization_gap_derives_as_the_search_does():
    # SP-DARTS derives at t_sp; the gap recorder must measure the genotype the search reports, not one derived
    # from the op weights at the form's resting temperature t_sm
    from dartslib import build_supernet
    from dartslib.arch.derive import derive
    from dartslib.diagnostics.measures import discretization_gap
    from dartslib.methods.presets import prepare_supernet

    config = make_config("sp-darts", "darts-nonone")
    model = build_supernet("darts-nonone", C=2, layers=3)
    prepare_supernet(model, config)
    torch.manual_seed(0)
    with torch.no_grad():
        for alpha in model.arch_parameters():
            alpha.copy_(0.05 * torch.randn_like(alpha))
    form = model.op_weight_form
    with torch.no_grad():
        at_sp = {ct: form.derivation_weights(a) for ct, a in model.arch_params.items()}
        at_sm = {ct: torch.softmax(a / form.t_sm, -1) for ct, a in model.arch_params.items()}
    searched = str(derive(at_sp, "darts-nonone", None, **config.derive_options))
    assert searched != str(derive(at_sm, "darts-nonone", None, **config.derive_options))  # the case matters
    batches = [(torch.randn(4, 3, 8, 8), torch.randint(0, 10, (4,)))]
    gap = discretization_gap(model, batches, None, None, config.derive_options)
    assert gap["genotype"] == searched


def test_batched_seeds_refuse_the_nb201_protocol():
    from dartslib.engine.batched import check_batchable

    check_batchable([make_config("darts", "nb201", "toy", seed=s) for s in (0, 1)])
    with pytest.raises(ValueError, match="protocol"):
        check_batchable([make_config("darts", "nb201", "toy", protocol="nb201", seed=s) for s in (0, 1)])
