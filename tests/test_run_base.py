"""The run base (dartslib.engine.run) that a search and a training share: the checkpoint's kind and format
are checked on resume (one line naming the file), divergence raises the kind's own error (caught by the
common base), and Ctrl-C / SIGTERM / request_stop save a checkpoint that resumes bit-identically."""
import os
import signal

import pytest
import torch

from dartslib import make_config
from dartslib.cli import main
from dartslib.engine.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from dartslib.engine.loop import Search, SearchDiverged, SearchHook, SearchInterrupted, search
from dartslib.engine.run import Run, RunDiverged, RunInterrupted
from dartslib.engine.train import Training, TrainingDiverged, TrainingInterrupted, make_train_config

NB201 = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|nor_conv_3x3~2|"


def search_config(**overrides):
    values = dict(epochs=2, C=4, cells_per_stage=1, max_steps_per_epoch=3, batch_size=32, image_size=8,
                  device="cpu")
    return make_config("darts", "nb201", "toy", **{**values, **overrides})


def train_config(**overrides):  # DARTS_V2 with drop-path: the steps draw from the torch random stream
    values = dict(epochs=2, C=4, layers=3, image_size=8, batch_size=256, drop_path=0.2, device="cpu")
    return make_train_config("DARTS_V2", "toy", **{**values, **overrides})


class StopAt(SearchHook):
    """Stops the search before step ``step`` of epoch ``epoch``: by ``request_stop`` or by a signal."""

    def __init__(self, epoch, step, signum=None):
        self.epoch, self.step, self.signum, self.search = epoch, step, signum, None

    def before_step(self, model, ctx):
        if (ctx.epoch, ctx.step) == (self.epoch, self.step):
            if self.signum is not None:
                os.kill(os.getpid(), self.signum)
            else:
                self.search.request_stop()


class StoppedTraining(Training):
    """A training asked to stop (signal ``signum``, or ``request_stop``) before step ``stop_at = (epoch,
    step)``, hit by a bare KeyboardInterrupt when epoch ``interrupt_epoch`` starts, or with NaN weights
    from epoch ``poison_epoch`` on."""

    stop_at, signum, poison_epoch, interrupt_epoch = None, None, None, None

    def run_epoch(self):
        if self.epoch == self.poison_epoch:
            with torch.no_grad():
                next(self.model.parameters()).fill_(float("nan"))
        if self.epoch == self.interrupt_epoch:
            raise KeyboardInterrupt  # what a second Ctrl-C raises in the middle of a step
        batches = self.train_batches.epoch(self.epoch, start=self.step)
        self.train_batches.epoch = lambda epoch, start: self._stopping(batches, epoch, start)
        try:
            return super().run_epoch()
        finally:
            del self.train_batches.epoch

    def _stopping(self, batches, epoch, start):
        for step, batch in enumerate(batches, start):
            if (epoch, step) == self.stop_at:
                if self.signum is not None:
                    os.kill(os.getpid(), self.signum)
                else:
                    self.request_stop()
            yield batch


def _same_models(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def _comparable(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


def _one_line(message):
    return "\n" not in message.strip()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A finished search's and a finished training's checkpoints."""
    root = tmp_path_factory.mktemp("runs")
    search(search_config(epochs=1), root / "search", progress=False)
    Training(train_config(epochs=1), root / "train", progress=False).run()
    return root / "search" / "checkpoint.pt", root / "train" / "checkpoint.pt"


@pytest.fixture(scope="module")
def training_reference(tmp_path_factory):
    run = Training(train_config(), tmp_path_factory.mktemp("ref") / "t", progress=False)
    run.run()
    return run


# -------------------------------------------------------------------------------- the format check
def test_each_kind_resumes_its_own_checkpoint(checkpoints):  # the control for the refusals below
    search_ckpt, train_ckpt = checkpoints
    assert isinstance(Search.resume(search_ckpt, progress=False), Search)
    assert isinstance(Training.resume(train_ckpt, progress=False), Training)


def test_a_training_checkpoint_given_to_a_search_is_refused_in_one_line(checkpoints):
    _, train_ckpt = checkpoints
    with pytest.raises(CheckpointError) as info:
        Search.resume(train_ckpt, progress=False)
    message = str(info.value)
    assert str(train_ckpt) in message and "train checkpoint" in message and "train --resume" in message
    assert _one_line(message)


def test_a_search_checkpoint_given_to_a_training_is_refused_in_one_line(checkpoints):
    search_ckpt, _ = checkpoints
    with pytest.raises(CheckpointError) as info:
        Training.resume(search_ckpt.parent, progress=False)  # a run directory works as well as the file
    message = str(info.value)
    assert str(search_ckpt) in message and "search checkpoint" in message and "search --resume" in message
    assert _one_line(message)


@pytest.mark.parametrize("kind", [Search, Training])
@pytest.mark.parametrize("damage, problem", [
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "corrupt"),  # truncated
    (lambda p: p.write_text("hello\n"), "corrupt"),                                       # not a checkpoint
    (lambda p: torch.save({"weights": torch.ones(2)}, p), "not a dartslib checkpoint"),   # someone else's
    (lambda p: save_checkpoint({"format": "dartslib-search-9"}, p), "format"),            # another version
])
def test_a_damaged_or_foreign_file_is_refused_in_one_line(checkpoints, tmp_path, kind, damage, problem):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(checkpoints[kind is Training].read_bytes())
    damage(path)
    with pytest.raises(CheckpointError) as info:
        kind.resume(path, progress=False)
    assert str(path) in str(info.value) and problem in str(info.value) and _one_line(str(info.value))


def test_an_incomplete_training_checkpoint_names_what_is_missing(checkpoints, tmp_path):
    state = load_checkpoint(checkpoints[1])
    del state["optimizer"]
    save_checkpoint(state, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="missing 'optimizer'") as info:
        Training.resume(tmp_path / "bad.pt", progress=False)
    assert str(tmp_path / "bad.pt") in str(info.value)


# -------------------------------------------------------------------------------------- divergence
def test_divergence_raises_the_kinds_error_and_the_base_catches_both(tmp_path):
    class Poison(SearchHook):
        def on_epoch_start(self, model, epoch, epochs):
            with torch.no_grad():
                next(model.parameters()).fill_(float("nan"))

    with pytest.raises(RunDiverged) as searched:
        search(search_config(), tmp_path / "s", progress=False, hooks=[Poison()])
    training = StoppedTraining(train_config(), tmp_path / "t", progress=False)
    training.poison_epoch = 0
    with pytest.raises(RunDiverged) as trained:
        training.run()
    assert type(searched.value) is SearchDiverged and not isinstance(searched.value, TrainingDiverged)
    assert type(trained.value) is TrainingDiverged
    assert "--arch-lr" in str(searched.value) and "--arch-lr" not in str(trained.value)
    for info in (searched, trained):
        assert "training loss became nan in epoch 1; no checkpoint was written" in str(info.value)
    assert not (tmp_path / "t" / "checkpoint.pt").exists()


def test_a_training_that_diverges_later_names_its_last_good_checkpoint(tmp_path):
    training = StoppedTraining(train_config(), tmp_path, progress=False)
    training.poison_epoch = 1
    with pytest.raises(TrainingDiverged, match=f"epoch 2; the last good checkpoint is {tmp_path / 'checkpoint.pt'}"):
        training.run()
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["epoch"] == 1 and all(torch.isfinite(v).all() for v in state["model"].values()
                                       if v.is_floating_point())


def test_a_diverged_training_is_one_line_from_the_cli(capsys, tmp_path):
    status = main(["train", "--genotype", NB201, "--epochs", "1", "--C", "4", "--layers", "1", "--quiet",
                   "--device", "cpu", "--lr", "1e30", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 1 and err.startswith("error: training loss became") and _one_line(err), err


# ----------------------------------------------------------------------------------- interruption
@pytest.mark.parametrize("signum", [None, signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_training_resumes_bit_identically(training_reference, tmp_path, signum):
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    run = StoppedTraining(train_config(), tmp_path, progress=False)
    run.stop_at, run.signum = (1, 1), signum  # in epoch 2 (its drop-path masks drawn from the torch stream)
    with pytest.raises(TrainingInterrupted) as info:
        run.run()
    assert isinstance(info.value, RunInterrupted) and info.value.checkpoint == tmp_path / "checkpoint.pt"
    assert str(info.value).startswith("training interrupted; state saved to")
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert (state["epoch"], state["step"]) == (1, 2)
    resumed = Training.resume(tmp_path, progress=False)
    resumed.run()
    assert _same_models(resumed.model, training_reference.model)
    assert _comparable(resumed.history) == _comparable(training_reference.history)


def test_a_mid_epoch_training_checkpoint_needs_its_partial_sums_and_random_state(training_reference, tmp_path):
    """The control for the test above: the resumed history and model do depend on what the checkpoint keeps."""
    run = StoppedTraining(train_config(), tmp_path, progress=False)
    run.stop_at = (1, 1)
    with pytest.raises(TrainingInterrupted):
        run.run()
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    no_sums = {**state, "partial": {k: torch.zeros_like(v) for k, v in state["partial"].items()}}
    other_rng = {**state, "rng": {"torch": torch.Generator().manual_seed(123).get_state()}}
    for changed, what in ((no_sums, "history"), (other_rng, "model")):
        save_checkpoint(changed, tmp_path / "checkpoint.pt")
        resumed = Training.resume(tmp_path, progress=False)
        resumed.run()
        if what == "history":
            assert resumed.history[-1]["train_loss"] != training_reference.history[-1]["train_loss"]
        else:
            assert not _same_models(resumed.model, training_reference.model)


def test_a_training_checkpoint_of_the_previous_version_resumes_bit_identically(training_reference, tmp_path):
    # the current code's checkpoints have no "step" and "partial" (they are always at an epoch's end)
    run = StoppedTraining(train_config(), tmp_path, progress=False)
    run.stop_at = (0, len(training_reference.train_batches) - 1)  # epoch 1's last step: it stops at its end
    with pytest.raises(TrainingInterrupted):
        run.run()
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert (state["epoch"], state["step"]) == (1, 0)
    del state["step"], state["partial"]
    save_checkpoint(state, tmp_path / "checkpoint.pt")
    resumed = Training.resume(tmp_path, progress=False)
    resumed.run()
    assert _same_models(resumed.model, training_reference.model)
    assert _comparable(resumed.history) == _comparable(training_reference.history)


def test_a_second_ctrl_c_leaves_as_the_kinds_interrupt_naming_the_last_checkpoint(tmp_path):
    for epoch, expected in ((0, None), (1, tmp_path / "checkpoint.pt")):
        run = StoppedTraining(train_config(), tmp_path, progress=False, overwrite=True)
        run.interrupt_epoch = epoch
        with pytest.raises(TrainingInterrupted) as info:
            run.run()
        assert info.value.checkpoint == expected
        assert str(info.value) == (f"training interrupted; state saved to {expected}" if expected else
                                   "training interrupted (before its first checkpoint, nothing saved)")
        assert not (tmp_path / ".lock").exists()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signalled_search_resumes_bit_identically(tmp_path, signum):
    reference = search(search_config(), tmp_path / "a", progress=False)
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    run = Search(search_config(), tmp_path / "b", progress=False, hooks=[StopAt(1, 1, signum)])
    with pytest.raises(SearchInterrupted) as info:
        run.run()
    assert type(info.value) is SearchInterrupted and isinstance(info.value, RunInterrupted)
    assert str(info.value) == f"search interrupted; state saved to {tmp_path / 'b' / 'checkpoint.pt'}"
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
    resumed = Search.resume(tmp_path / "b", progress=False).run()
    assert _same_models(resumed.model, reference.model)
    assert _comparable(resumed.history) == _comparable(reference.history)


def test_search_and_training_are_runs():
    assert issubclass(Search, Run) and issubclass(Training, Run)
    assert Search.Diverged is SearchDiverged and Training.Interrupted is TrainingInterrupted
