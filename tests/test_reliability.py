"""Reliability and security (issue 14): data files cannot run code, a run owns its directory, a killed sweep
takes its children with it, the checkpoint is the record, write failures are one line and lose nothing,
bad input never prints a traceback, and checkpoints are verified on load."""
import errno
import json
import os
import pickle
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
import torch

from dartslib import make_config
from dartslib.engine.checkpoint import CheckpointError, WriteError, load_checkpoint, save_checkpoint
from dartslib.cli import main
from dartslib.data import DataFileError, load_dataset
from dartslib.engine.rundir import RunDirectoryBusy, RunDirectoryError
from dartslib.engine.loop import Search, SearchDiverged, SearchHook, SearchInterrupted, search
from stop_at import StopAt  # tests/stop_at.py

TINY = dict(epochs=2, C=4, cells_per_stage=1, max_steps_per_epoch=2, batch_size=32, image_size=8, device="cpu")
CLI_TINY = ["--space", "nb201", "--cells-per-stage", "1", "--epochs", "2", "--C", "4", "--quiet", "--batch-size", "32",
            "--device", "cpu"]


def tiny(**overrides):
    return make_config("darts", "nb201", "toy", **{**TINY, **overrides})


def run_main(capsys, *argv):
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(err):
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1, err


def interrupted_run(out, epoch=1, step=0, **overrides):
    stopper = StopAt(epoch, step)
    run = Search(tiny(**overrides), out, progress=False, hooks=[stopper])
    stopper.search = run
    with pytest.raises(SearchInterrupted):
        run.run()
    return run


# ------------------------------------------------------------------------------------------- 1. data files
class Payload:
    """Unpickling this runs ``touch MARKER`` (what a hostile mirror would hide in a batch file)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class EvalPayload(Payload):
    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


def _planar(n, side):
    return np.random.default_rng(0).integers(0, 256, size=(n, 3 * side * side), dtype=np.uint8)


def _write(path, obj, protocol=pickle.DEFAULT_PROTOCOL):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj, protocol=protocol))


def _dataset_files(root, name):
    """Valid tiny files of dataset ``name``; returns (folder, the file a search reads first, label key)."""
    if name == "cifar10":
        folder, key = root / "cifar-10-batches-py", b"labels"
        files, side = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"], 32
    elif name == "cifar100":
        folder, key, files, side = root / "cifar-100-python", b"fine_labels", ["train", "test"], 32
    else:
        folder, key, side = root / "ImageNet16", b"labels", 16
        files = [f"train_data_batch_{i}" for i in range(1, 11)] + ["val_data"]
    for file in files:
        _write(folder / file, {b"data": _planar(4, side), key: [1, 2, 3, 4]})
    return folder, files[0], key, side


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "imagenet16-120"])
@pytest.mark.parametrize("payload", [Payload, EvalPayload])
@pytest.mark.parametrize("protocol", [2, pickle.DEFAULT_PROTOCOL])
def test_a_data_file_cannot_run_code(tmp_path, name, payload, protocol):
    folder, first, key, side = _dataset_files(tmp_path / "data", name)
    marker = tmp_path / "pwned"
    # hidden inside an otherwise valid dict
    _write(folder / first, {b"data": _planar(4, side), key: [1, 2, 3, 4], b"extra": payload(marker)}, protocol)
    with pytest.raises(DataFileError, match="refusing") as info:
        load_dataset(name, "train", root=tmp_path / "data")
    assert str(folder / first) in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_real_format_batches_still_load_at_every_protocol(tmp_path, protocol):
    folder, first, key, side = _dataset_files(tmp_path, "cifar10")
    data = _planar(4, 32)
    _write(folder / first, {b"batch_label": b"b1", b"data": data, key: [0, 1, 2, 3],
                            b"filenames": [b"a.png"] * 4, b"mean": np.float64(1.0)}, protocol)
    loaded = load_dataset("cifar10", "train", root=tmp_path)
    assert torch.equal(loaded.images[:4], torch.from_numpy(data).reshape(4, 3, 32, 32))


def test_search_on_a_malicious_cifar_exits_1_without_running_it(capsys, tmp_path):
    folder, first, key, side = _dataset_files(tmp_path / "data", "cifar10")
    marker = tmp_path / "pwned"
    _write(folder / first, {b"data": _planar(4, side), key: [1, 2, 3, 4], b"x": Payload(marker)})
    status, _, err = run_main(capsys, "search", *CLI_TINY, "--dataset", "cifar10", "--data-dir", tmp_path / "data")
    assert status == 1 and str(folder / first) in err and not marker.exists()
    assert_one_line_error(err)


# --------------------------------------------------------------------------------- 2. one run per directory
def test_a_finished_run_is_not_overwritten_silently(capsys, tmp_path):
    search(tiny(), tmp_path, progress=False)
    before = (tmp_path / "result.json").read_bytes()
    with pytest.raises(RunDirectoryError, match="already holds a run.*--resume.*--overwrite"):
        search(tiny(seed=1), tmp_path, progress=False)
    status, _, err = run_main(capsys, "search", *CLI_TINY, "--seed", "1", "--out", tmp_path)
    assert status == 2 and "already holds a run" in err and "--overwrite" in err
    assert_one_line_error(err)
    assert (tmp_path / "result.json").read_bytes() == before


def test_overwrite_removes_the_old_runs_files(capsys, tmp_path):
    search(tiny(epochs=3), tmp_path, progress=False)
    # an interrupted new run must not leave the old result (a sweep would count it as finished)
    stopper = StopAt(1, 0)
    run = Search(tiny(), tmp_path, progress=False, hooks=[stopper], overwrite=True)
    stopper.search = run
    with pytest.raises(SearchInterrupted):
        run.run()
    assert not (tmp_path / "result.json").exists()
    assert [json.loads(line)["epoch"] for line in (tmp_path / "history.jsonl").read_text().splitlines()] == [1]
    status, out, err = run_main(capsys, "search", *CLI_TINY, "--out", tmp_path, "--overwrite")
    assert status == 0 and json.loads(out)["epochs"] == 2
    status, _, err = run_main(capsys, "search", "--resume", tmp_path, "--overwrite")
    assert status == 2 and "give one of them" in err


class LockWitness(SearchHook):
    def __init__(self, out):
        self.out, self.seen = out, []

    def before_step(self, model, ctx):
        self.seen.append(json.loads((self.out / ".lock").read_text())["pid"])


def test_the_run_holds_a_lock_with_its_pid_and_releases_it(tmp_path):
    witness = LockWitness(tmp_path)
    search(tiny(), tmp_path, progress=False, hooks=[witness])
    assert witness.seen and set(witness.seen) == {os.getpid()}
    assert not (tmp_path / ".lock").exists()


def test_a_second_process_on_the_same_directory_stops_naming_the_holder(capsys, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (tmp_path / ".lock").write_text(json.dumps({"pid": holder.pid, "host": os.uname().nodename}))
        with pytest.raises(RunDirectoryBusy, match=f"in use by process {holder.pid}"):
            search(tiny(), tmp_path, progress=False)
        status, _, err = run_main(capsys, "search", *CLI_TINY, "--out", tmp_path)
        assert status == 1 and f"process {holder.pid}" in err
        assert_one_line_error(err)
        assert not (tmp_path / "checkpoint.pt").exists()
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_lock_of_a_dead_process_is_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / ".lock").write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename}))
    result = search(tiny(), tmp_path, progress=False)
    assert result.metrics["epochs"] == 2 and not (tmp_path / ".lock").exists()


def test_two_searches_started_at_once_do_not_both_run(tmp_path):
    code = ("import sys; from dartslib import make_config; from dartslib.engine.loop import search; "
            "search(make_config('darts', 'nb201', 'toy', epochs=8, C=4, cells_per_stage=1, max_steps_per_epoch=2, "
            "batch_size=32, image_size=8, device='cpu'), sys.argv[1], progress=False)")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes[0] == 0 and codes[1] != 0, errs
    assert any("in use by process" in e or "already holds a run" in e for e in errs)
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 8


# -------------------------------------------------------------------------------------------- 3. sweeps
SWEEP = ["sweep", "--methods", "darts", "--spaces", "nb201", "--seeds", "0", "--set", "C=4", "--set",
         "cells_per_stage=1", "--set", "batch_size=32", "--set", "image_size=8", "--set", "device=\"cpu\""]


def _wait_for_lock(run_dir, process, timeout=120):
    """The pid of the sweep's child once it holds the lock and has built its search (it takes the lock first)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        log = run_dir / "log.txt"
        started = log.is_file() and ("starting" in log.read_text() or "resuming" in log.read_text())
        if (run_dir / ".lock").is_file() and started:
            try:
                return json.loads((run_dir / ".lock").read_text())["pid"]
            except (ValueError, KeyError):
                pass
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    raise AssertionError("the sweep's child never took its lock")


def _gone(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(line.startswith("State:") and "Z" in line.split()[1] for line in f)
    except FileNotFoundError:
        return True


def _start_sweep(tmp_path, epochs):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "dartslib", *SWEEP, "--set", f"epochs={epochs}", "--out",
                             str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_sweep_takes_its_children_with_it(tmp_path):
    parent = _start_sweep(tmp_path, epochs=100000)
    run_dir = tmp_path / "darts__nb201__seed0"
    try:
        child = _wait_for_lock(run_dir, parent)
    finally:
        if parent.poll() is None and not (run_dir / ".lock").is_file():
            parent.kill()
    time.sleep(2.0)
    parent.kill()  # kill -9
    parent.communicate()
    deadline = time.time() + 60
    while not _gone(child) and time.time() < deadline:
        time.sleep(0.2)
    try:
        assert _gone(child), "the child kept running after its sweep was killed"
    finally:
        if not _gone(child):
            os.kill(child, signal.SIGKILL)
    assert (run_dir / "checkpoint.pt").is_file()  # it saved on the way out
    assert "interrupted" in (run_dir / "log.txt").read_text()


def test_a_child_stopped_by_sigint_is_reported_as_interrupted(tmp_path):
    parent = _start_sweep(tmp_path, epochs=100000)
    run_dir = tmp_path / "darts__nb201__seed0"
    try:
        child = _wait_for_lock(run_dir, parent)
        time.sleep(2.0)
        os.kill(child, signal.SIGINT)
        _, err = parent.communicate(timeout=120)
    finally:
        if parent.poll() is None:
            parent.send_signal(signal.SIGINT)  # the children stop with it
            parent.communicate(timeout=120)
    assert "interrupted darts__nb201__seed0" in err and "failed" not in err
    assert parent.returncode == 130


@pytest.mark.parametrize("setting, field", [("epochs=abc", "epochs"), ("batch_size=0", "batch_size")])
def test_invalid_set_values_stop_the_sweep_up_front(capsys, tmp_path, setting, field):
    status, _, err = run_main(capsys, *SWEEP, "--set", setting, "--out", tmp_path)
    assert status == 2 and "--set" in err and field in err and "refused" not in err
    assert_one_line_error(err)
    assert not list(tmp_path.iterdir())


def test_a_failed_run_is_listed_as_failed_with_its_reason(capsys, tmp_path):
    from dartslib.sweep import collect

    empty = tmp_path / "no-data"
    empty.mkdir()
    status, out, err = run_main(capsys, *SWEEP, "--set", "epochs=1", "--set", "dataset=\"cifar10\"", "--set",
                                f"data_dir={json.dumps(str(empty))}", "--out", tmp_path / "sweep")
    assert status == 1 and "failed   darts__nb201__seed0" in err and "not found" in err
    (row,) = collect(tmp_path / "sweep").itertuples()
    assert row.status == "failed" and "not found" in row.reason


# ------------------------------------------------------------------------------- 4. the checkpoint is the record
def test_resume_after_a_kill_between_checkpoint_and_history_completes_the_record(capsys, tmp_path):
    search(tiny(), tmp_path, progress=False)
    lines = (tmp_path / "history.jsonl").read_text().splitlines()
    (tmp_path / "history.jsonl").write_text(lines[0] + "\n")  # killed after the rename, before the history
    (tmp_path / "result.json").unlink()
    status, out, err = run_main(capsys, "search", "--resume", tmp_path, "--quiet")
    assert status == 0 and "epoch 3/2" not in err and "complete (2/2 epochs)" in err
    assert (tmp_path / "history.jsonl").read_text().splitlines() == lines
    assert json.loads((tmp_path / "result.json").read_text())["metrics"]["epochs"] == 2


def test_a_checkpoint_whose_epoch_disagrees_with_its_history_yields_one_history(tmp_path):
    full = search(tiny(epochs=3), tmp_path / "full", progress=False)
    interrupted_run(tmp_path / "cut", epoch=1, step=0, epochs=3)
    state = load_checkpoint(tmp_path / "cut" / "checkpoint.pt")
    assert state["epoch"] == 1
    state["history"] = list(full.history)  # records 1..3 beside a checkpoint at epoch 1
    save_checkpoint(state, tmp_path / "cut" / "checkpoint.pt")
    resumed = Search.resume(tmp_path / "cut", progress=False).run()
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    on_disk = [json.loads(line)["epoch"] for line in (tmp_path / "cut" / "history.jsonl").read_text().splitlines()]
    assert on_disk == [1, 2, 3]


# ------------------------------------------------------------------------------------------ 5. write failures
def test_out_pointing_at_a_file_fails_before_any_work(capsys, tmp_path):
    target = tmp_path / "a-file"
    target.write_text("keep me")
    status, _, err = run_main(capsys, "search", *CLI_TINY, "--out", target)
    assert status == 1 and str(target) in err and "is a file" in err
    assert_one_line_error(err)
    assert target.read_text() == "keep me"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_out_fails_before_the_first_step(capsys, tmp_path):
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o500)
    try:
        class NoStep(SearchHook):
            def before_step(self, model, ctx):
                raise AssertionError("a step ran")

        with pytest.raises(WriteError, match=str(read_only)):
            search(tiny(), read_only, progress=False, hooks=[NoStep()])
    finally:
        read_only.chmod(0o700)


def test_a_read_only_out_is_detected_by_the_lock(tmp_path, monkeypatch):
    """As root a read-only directory is writable; simulate EROFS at the lock, the first file written."""
    real_open = os.open

    def refuse(path, flags, *args, **kwargs):
        if os.path.basename(str(path)).startswith(".lock"):  # the lock, or the file it is written into first
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)

    class NoStep(SearchHook):
        def before_step(self, model, ctx):
            raise AssertionError("a step ran")

    with pytest.raises(WriteError, match="Read-only file system"):
        search(tiny(), tmp_path / "out", progress=False, hooks=[NoStep()])


def test_a_full_disk_is_one_line_keeps_the_last_checkpoint_and_removes_the_temporary(capsys, tmp_path, monkeypatch):
    import dartslib.engine.checkpoint as checkpoint

    real_save, calls = torch.save, []

    def save_until_the_disk_fills(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            f.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(checkpoint.torch, "save", save_until_the_disk_fills)
    status, _, err = run_main(capsys, "search", *CLI_TINY, "--out", tmp_path)
    assert status == 1 and "No space left on device" in err and str(tmp_path / "checkpoint.pt") in err
    assert_one_line_error(err)
    monkeypatch.setattr(checkpoint.torch, "save", real_save)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["epoch"] == 1
    assert not list(tmp_path.glob(".*.tmp")) and not (tmp_path / ".lock").exists()


def test_stale_temporaries_of_killed_saves_are_removed_on_the_next_start(tmp_path):
    interrupted_run(tmp_path)
    stale = [tmp_path / ".checkpoint.pt.k1ll3d.tmp", tmp_path / ".history.jsonl.abc_12.tmp"]
    for path in stale:
        path.write_bytes(b"half a file")
    Search.resume(tmp_path, progress=False).run()
    assert not any(path.exists() for path in stale)


def test_outputs_get_the_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        search(tiny(), tmp_path, progress=False)
    finally:
        os.umask(old)
    for name in ("checkpoint.pt", "history.jsonl", "result.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name


# ------------------------------------------------------------------------------ 6. one line, never a traceback
@pytest.mark.parametrize("argv, flag", [
    (["--device", "tpu"], "--device"), (["--device", "bogus"], "--device"), (["--device", "meta"], "--device"),
    (["--lr", "1e300"], "--lr"), (["--lr", "nan"], "--lr"), (["--lr", "inf"], "--lr"),
    (["--arch-init", "nan"], "--arch-init"), (["--seed", "99999999999999999999"], "--seed"),
    (["--epochs", "0"], "--epochs"),
])
def test_bad_values_are_refused_up_front_naming_the_flag(capsys, argv, flag):
    status, _, err = run_main(capsys, "search", *CLI_TINY, *argv)
    assert status == 2 and flag in err
    assert_one_line_error(err)


def _checkpoint(tmp_path):
    interrupted_run(tmp_path / "run")
    return load_checkpoint(tmp_path / "run" / "checkpoint.pt")


@pytest.mark.parametrize("change, message", [
    (lambda s: s["config"].update(C=8), "does not fit"),
    (lambda s: s["config"].update(space="s1", cells_per_stage=1, layers=3), "does not fit"),
    (lambda s: s.pop("config"), "missing 'config'"),
    (lambda s: s.pop("model"), "missing 'model'"),
    (lambda s: s.update(format="dartslib-search-2"), "newer dartslib"),
    (lambda s: s.update(format="dartslib-train-1"), "train --resume"),
])
def test_unusable_checkpoints_are_one_line(capsys, tmp_path, change, message):
    state = _checkpoint(tmp_path)
    change(state)
    save_checkpoint(state, tmp_path / "bad.pt")
    status, _, err = run_main(capsys, "search", "--resume", tmp_path / "bad.pt")
    assert status == 1 and message in err and str(tmp_path / "bad.pt") in err
    assert_one_line_error(err)


def test_a_training_checkpoint_given_to_search_resume(capsys, tmp_path):
    status, _, err = run_main(capsys, "train", "--genotype", "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|"
                              "none~1|nor_conv_3x3~2|", "--epochs", "1", "--C", "4", "--layers", "1", "--quiet",
                              "--device", "cpu", "--out", tmp_path)
    assert status == 0, err
    status, _, err = run_main(capsys, "search", "--resume", tmp_path)
    assert status == 1 and "train --resume" in err and "unknown config keys" not in err
    assert_one_line_error(err)


def test_resume_given_a_text_file(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    status, _, err = run_main(capsys, "search", "--resume", tmp_path / "notes.txt")
    assert status == 1 and str(tmp_path / "notes.txt") in err
    assert_one_line_error(err)


def test_a_truncated_pickle_names_the_file(capsys, tmp_path):
    folder, first, _, _ = _dataset_files(tmp_path, "cifar10")
    (folder / first).write_bytes((folder / first).read_bytes()[:100])
    with pytest.raises(DataFileError, match="truncated"):
        load_dataset("cifar10", "train", root=tmp_path)
    status, _, err = run_main(capsys, "search", *CLI_TINY, "--dataset", "cifar10", "--data-dir", tmp_path)
    assert status == 1 and str(folder / first) in err
    assert_one_line_error(err)


def test_a_bad_mat_file_and_svhn_without_x_name_the_file(tmp_path):
    from scipy.io import savemat

    folder = tmp_path / "svhn"
    folder.mkdir()
    (folder / "train_32x32.mat").write_text("not a mat file")
    with pytest.raises(DataFileError, match="train_32x32.mat"):
        load_dataset("svhn", "train", root=tmp_path)
    savemat(folder / "train_32x32.mat", {"y": np.ones((3, 1))})
    with pytest.raises(DataFileError, match="train_32x32.mat: expected a key 'X'"):
        load_dataset("svhn", "train", root=tmp_path)


def test_imagenet16_without_labels_names_the_file(tmp_path):
    folder, first, _, _ = _dataset_files(tmp_path, "imagenet16-120")
    _write(folder / first, {b"data": _planar(4, 16)})
    with pytest.raises(DataFileError, match=f"{first}: expected a key 'labels'"):
        load_dataset("imagenet16-120", "train", root=tmp_path)


def test_float_images_are_refused_not_wrapped(tmp_path):
    folder, first, key, _ = _dataset_files(tmp_path, "cifar10")
    _write(folder / first, {b"data": _planar(4, 32).astype(np.float32) * 1.5, key: [1, 2, 3, 4]})
    with pytest.raises(DataFileError, match=f"{first}.*dtype float32"):
        load_dataset("cifar10", "train", root=tmp_path)


def test_a_corrupt_history_given_to_plot(capsys, tmp_path):
    search(tiny(), tmp_path, progress=False)
    with open(tmp_path / "history.jsonl", "a") as f:
        f.write('{"epoch": 3, "train_lo\n')
    status, _, err = run_main(capsys, "plot", tmp_path)
    assert status == 2 and str(tmp_path) in err and "corrupt" in err
    assert_one_line_error(err)


def test_a_genotype_with_a_huge_concat_range_is_a_value_error():
    from dartslib.arch.genotype import Genotype
    from dartslib.arch.networks import build_network

    edges = [("sep_conv_3x3", 0), ("sep_conv_3x3", 1)] * 2
    genotype = Genotype(normal=edges, normal_concat=range(2, 10**30), reduce=edges, reduce_concat=range(2, 4))
    with pytest.raises(ValueError, match="normal_concat lists"):
        build_network(genotype, C=8, layers=3)


def test_a_malformed_genotype_error_names_the_flag(capsys):
    status, _, err = run_main(capsys, "count", "--genotype", "Genotype(normal=[('sep_conv_3x3', 0)")
    assert status == 2 and "--genotype" in err
    assert_one_line_error(err)


class PoisonAtOnce(SearchHook):
    def on_epoch_start(self, model, epoch, epochs):
        with torch.no_grad():
            model.classifier.weight.fill_(float("nan"))


def test_divergence_in_epoch_1_names_no_missing_checkpoint(tmp_path):
    with pytest.raises(SearchDiverged) as info:
        search(tiny(), tmp_path, progress=False, hooks=[PoisonAtOnce()])
    assert "checkpoint.pt" not in str(info.value) and "no checkpoint was written" in str(info.value)
    assert not (tmp_path / "checkpoint.pt").exists()


# ------------------------------------------------------------------------------------ 7. checkpoint integrity
def _flip_tensor_bytes(path, count=64):
    with zipfile.ZipFile(path) as archive:
        info = max((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    raw = bytearray(path.read_bytes())
    name_len, extra_len = int.from_bytes(raw[info.header_offset + 26:info.header_offset + 28], "little"), \
        int.from_bytes(raw[info.header_offset + 28:info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len + info.file_size // 2
    for i in range(start, start + count):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_flipped_tensor_bytes_are_detected(capsys, tmp_path):
    interrupted_run(tmp_path)
    _flip_tensor_bytes(tmp_path / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="checksum"):
        load_checkpoint(tmp_path / "checkpoint.pt")
    status, _, err = run_main(capsys, "search", "--resume", tmp_path)
    assert status == 1 and "checksum" in err
    assert_one_line_error(err)


def test_checkpoints_written_before_checksums_still_resume(tmp_path):
    reference = search(tiny(), tmp_path / "ref", progress=False)
    interrupted_run(tmp_path / "old")
    state = load_checkpoint(tmp_path / "old" / "checkpoint.pt")
    torch.save(state, tmp_path / "old" / "checkpoint.pt")  # as the code wrote them before: no checksum
    resumed = Search.resume(tmp_path / "old", progress=False).run()
    for (name, a), (_, b) in zip(reference.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), name


def test_zero_epochs_write_a_consistent_empty_run(capsys, tmp_path):
    from dartslib.diagnostics.recording import load_run

    search(tiny(epochs=0), tmp_path, progress=False)
    assert (tmp_path / "history.jsonl").read_text() == "" and (tmp_path / "result.json").is_file()
    assert load_run(tmp_path).history == []
    status, _, err = run_main(capsys, "plot", tmp_path)
    assert status == 2 and "empty history" in err


# ------------------------------------------------------------------------ 8. reliability, round two (issue 24)
def _children(pid):
    """The processes whose parent is ``pid`` (Linux: /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_row1_a_sweep_started_with_sigint_ignored_takes_its_children_with_it(tmp_path):
    """nohup / `&` in a script: the sweep and its children start with SIGINT ignored; kill -9 the sweep
    while its child is still starting (before the search's own handlers exist)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    parent = subprocess.Popen([sys.executable, "-m", "dartslib", *SWEEP, "--set", "epochs=100000", "--out",
                               str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    children, deadline = [], time.time() + 60
    while not children and time.time() < deadline:
        children = _children(parent.pid)
        time.sleep(0.05)
    parent.kill()  # kill -9 while the child starts
    parent.wait()
    assert children, "the sweep started no child"
    child = children[0]
    deadline = time.time() + 60
    while not _gone(child) and time.time() < deadline:
        time.sleep(0.2)
    try:
        assert _gone(child), "the child of a sweep started with SIGINT ignored kept running after kill -9"
    finally:
        if not _gone(child):
            os.kill(child, signal.SIGKILL)
    log = (tmp_path / "darts__nb201__seed0" / "log.txt").read_text()
    assert "Traceback" not in log and "interrupted" in log, log


def test_row1_a_rerun_waits_for_a_live_holder_and_never_runs_a_seed_twice(capsys, tmp_path, monkeypatch):
    """A child of a killed sweep still holds its run directory (saving), then finishes the seed: the rerun's
    child waits for the lock, sees the result, and runs nothing (no traceback, no epoch run twice)."""
    sweep = [*SWEEP, "--set", "epochs=1", "--set", "max_steps_per_epoch=1", "--out", tmp_path]
    status, _, err = run_main(capsys, *sweep)
    assert status == 0, err
    run_dir = tmp_path / "darts__nb201__seed0"
    result = (run_dir / "result.json").read_text()
    history = (run_dir / "history.jsonl").read_text()
    (run_dir / "result.json").unlink()  # as if the orphan were still in its last epoch
    orphan = subprocess.Popen([sys.executable, "-c", (  # finishes once the rerun's child waits for it
        "import pathlib, sys, time; d = pathlib.Path(sys.argv[1]); end = time.time() + 60\n"
        "while 'waiting for' not in (d / 'log.txt').read_text() and time.time() < end: time.sleep(0.1)\n"
        "time.sleep(0.5); (d / 'result.json').write_text(sys.argv[2]); (d / '.lock').unlink()"),
        str(run_dir), result])
    (run_dir / "log.txt").write_text("")
    try:
        (run_dir / ".lock").write_text(json.dumps({"pid": orphan.pid, "host": os.uname().nodename}))
        monkeypatch.setenv("DARTSLIB_SWEEP_LOCK_WAIT", "60")
        status, _, err = run_main(capsys, *sweep)
    finally:
        orphan.wait(timeout=60)
    log = (run_dir / "log.txt").read_text()
    assert status == 0 and "Traceback" not in log, log
    assert f"waiting for process {orphan.pid}" in log and "finished by an earlier process" in log
    assert (run_dir / "history.jsonl").read_text() == history


def test_row1_a_directory_still_busy_after_the_wait_is_one_line_in_the_log(capsys, tmp_path, monkeypatch):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        run_dir = tmp_path / "darts__nb201__seed0"
        run_dir.mkdir()
        (run_dir / ".lock").write_text(json.dumps({"pid": holder.pid, "host": os.uname().nodename}))
        monkeypatch.setenv("DARTSLIB_SWEEP_LOCK_WAIT", "0")
        status, _, err = run_main(capsys, *SWEEP, "--set", "epochs=1", "--out", tmp_path)
    finally:
        holder.kill()
        holder.wait()
    log = (run_dir / "log.txt").read_text()
    assert status == 1 and "Traceback" not in log and f"in use by process {holder.pid}" in log, log


@pytest.mark.parametrize("genotype", [None, "garbage"])
def test_row2_train_resume_works_alone_and_refuses_flags_that_do_not_apply(capsys, tmp_path, genotype):
    status, _, err = run_main(capsys, "train", "--genotype", "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|"
                              "none~1|nor_conv_3x3~2|", "--epochs", "1", "--C", "4", "--layers", "1", "--quiet",
                              "--device", "cpu", "--out", tmp_path)
    assert status == 0, err
    extra = ["--genotype", genotype] if genotype else []
    status, out, err = run_main(capsys, "train", "--resume", tmp_path, "--quiet", "--device", "cpu", *extra)
    if genotype is None:
        assert status == 0 and "is complete (1/1 epochs)" in err, err
    else:
        assert status == 2 and "--genotype does not apply with --resume" in err
        assert_one_line_error(err)


def test_row3_search_resume_refuses_every_flag_that_would_change_the_run(capsys, tmp_path):
    interrupted_run(tmp_path / "run")
    before = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    for argv, flag in [(["--epochs", "8"], "--epochs"), (["--C", "16"], "--C"), (["--seed", "0"], "--seed"),
                       (["--out", tmp_path / "elsewhere"], "--out"), (["--method", "darts"], "--method"),
                       (["--scale", "toy"], "--scale"), (["--zero-one", "l01"], "--zero-one")]:
        status, _, err = run_main(capsys, "search", "--resume", tmp_path / "run", *argv)
        assert status == 2 and f"{flag} does not apply with --resume" in err, (argv, err)
        assert_one_line_error(err)
    with pytest.raises(ValueError, match="epochs cannot change when a run resumes"):
        Search.resume(tmp_path / "run", progress=False, epochs=8)
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == before
    assert not (tmp_path / "elsewhere").exists()
    status, _, err = run_main(capsys, "search", "--resume", tmp_path / "run", "--quiet", "--device", "cpu")
    assert status == 0, err


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("finished")
    search(tiny(), out, progress=False)
    return out


@pytest.mark.parametrize("case, message", [
    ("wrong types", "'train_loss' must be a number"),
    ("op weights as text", "'op_weights' must be an object"),
    ("deep nesting", "nested"),
    ("huge int", "integer too long"),
    ("big int", "integer too large"),
    ("not an object", "must be a JSON object"),
    ("epoch as text", "'epoch' must be an integer"),
])
def test_row4_plot_on_a_malformed_history_names_the_file_and_line(capsys, tmp_path, finished_run, case, message):
    import shutil

    shutil.copytree(finished_run, tmp_path / "run")
    lines = (tmp_path / "run" / "history.jsonl").read_text().splitlines()
    record = json.loads(lines[1])
    bad = {"wrong types": json.dumps({**record, "train_loss": "abc"}),
           "op weights as text": json.dumps({**record, "op_weights": "x"}),
           "deep nesting": '{"epoch": 2, "x": ' + "[" * 5000 + "]" * 5000 + "}",
           "huge int": '{"epoch": 2' + "0" * 5000 + "}",
           "big int": json.dumps({**record, "seconds": 10**400}),
           "not an object": "[1, 2]",
           "epoch as text": json.dumps({**record, "epoch": "2"})}[case]
    (tmp_path / "run" / "history.jsonl").write_text(lines[0] + "\n" + bad + "\n")
    status, _, err = run_main(capsys, "plot", tmp_path / "run", "--formats", "png")
    assert status == 2 and f"{tmp_path / 'run' / 'history.jsonl'}, line 2" in err and message in err, err
    assert_one_line_error(err)


def test_row4_plot_without_result_or_checkpoint_names_the_directory(capsys, tmp_path, finished_run):
    (tmp_path / "history.jsonl").write_text((finished_run / "history.jsonl").read_text())
    status, _, err = run_main(capsys, "plot", tmp_path)
    assert status == 2 and str(tmp_path) in err and "neither result.json nor checkpoint.pt" in err
    assert_one_line_error(err)


@pytest.mark.parametrize("argv, flag", [
    (["search", "--C", "99999999"], "--C"), (["search", "--layers", "100000"], "--layers"),
    (["search", "--cells-per-stage", "100000"], "--cells-per-stage"),
    (["count", "--genotype", "DARTS_V2", "--C", "100000"], "--C"),
    (["count", "--genotype", "DARTS_V2", "--image-size", "100000"], "--image-size"),
    (["count", "--genotype", "DARTS_V2", "--layers", "100000"], "--layers"),
    (["count", "--genotype", "DARTS_V2", "--num-classes", "10000000"], "--num-classes"),
    (["train", "--genotype", "DARTS_V2", "--C", "100000"], "--C"),
])
def test_row5_sizes_have_an_upper_bound_naming_the_flag(capsys, argv, flag):
    status, _, err = run_main(capsys, *argv)  # refused while parsing the flags: nothing built, nothing allocated
    assert status == 2 and f"argument {flag}" in err and "at most" in err, err
    assert_one_line_error(err)


def test_row5_a_supernet_too_large_in_combination_is_refused_before_allocating(tmp_path):
    config = make_config("darts", "darts", "toy", C=1024, layers=5, device="cpu")
    with pytest.raises(ValueError, match=r"--C 1024 with --layers 5: the supernet would have"):
        Search(config, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_row5_count_builds_nothing_it_does_not_need(capsys):
    status, out, _ = run_main(capsys, "count", "--genotype", "DARTS_V2", "--C", "1024", "--layers", "100",
                              "--image-size", "1024")
    assert status == 0 and "parameters:" in out  # shapes only ('meta' device): tens of GB were never allocated


@pytest.mark.parametrize("setting, field", [("device=bogus", "device"), ("image_size=-1", "image_size"),
                                            ("arch_betas=[5,5]", "arch_betas"), ("dataset=bogus", "dataset"),
                                            ("augment=\"no\"", "augment"), ("C=99999999", "C"),
                                            ("epochs=" + "9" * 5000, "epochs"), ("lr=" + "[" * 3000, "lr")])
def test_row6_an_invalid_set_stops_the_sweep_before_any_run(capsys, tmp_path, setting, field):
    status, _, err = run_main(capsys, *SWEEP, "--set", setting, "--out", tmp_path / "sweep")
    assert status == 2 and "--set" in err and field in err and "refused" not in err, err
    assert_one_line_error(err)
    assert not (tmp_path / "sweep").exists()


@pytest.mark.parametrize("field, value, message", [
    ("train_portion", "x", "train_portion must be"), ("image_size", "16", "image_size must be"),
    ("arch_betas", (5, 5), "arch_betas must be"), ("arch_betas", 5, "arch_betas must be"),
    ("epochs", True, "epochs must be"), ("augment", "no", "augment must be"),
    ("max_steps_per_epoch", 1.5, "max_steps_per_epoch must be"), ("device", "bogus", "device 'bogus'"),
    ("dataset", "bogus", "unknown dataset"), ("nesterov", 1, "nesterov must be"), ("seed", -1, "seed must be"),
    ("data_dir", 3, "data_dir must be"), ("lr_schedule", None, "lr_schedule"),
])
def test_row7_every_config_field_is_checked_when_the_config_is_made(field, value, message):
    from dartslib.engine.config import SearchConfig

    with pytest.raises(ValueError, match=message):
        make_config("darts", "nb201", "toy", **{field: value}) if value is not None else \
            SearchConfig(**{field: value})
    with pytest.raises(ValueError, match=message):
        SearchConfig(**{field: value})


@pytest.mark.parametrize("field, value", [("cutout", -1), ("drop_path", 1.5), ("flip", "yes"), ("C", 10**6),
                                          ("device", "tpu"), ("image_size", "16"), ("epochs", 2.5)])
def test_row7_train_config_fields_are_checked_when_made(field, value):
    from dartslib.engine.train import TrainConfig, make_train_config

    with pytest.raises(ValueError, match=field):
        make_train_config("DARTS_V2", "toy", **{field: value})
    with pytest.raises(ValueError, match=field):
        TrainConfig(genotype="DARTS_V2", **{field: value})


def test_row7_wrong_arguments_are_type_errors_naming_them():
    from dartslib.arch.counting import count_macs, count_parameters

    for bad in (None, {}):
        with pytest.raises(TypeError, match="config must be a SearchConfig"):
            search(bad)
    with pytest.raises(TypeError, match="count_parameters: model must be"):
        count_parameters(None)
    with pytest.raises(TypeError, match="count_macs: model must be"):
        count_macs(None, (3, 8, 8))
    from dartslib.engine.config import SearchConfig
    from dartslib.engine.train import make_train_config

    with pytest.raises(TypeError, match="make_train_config: genotype must be"):
        make_train_config(None)
    with pytest.raises(ValueError, match="a search config is a dict"):
        SearchConfig.from_dict(None)


def test_row8_an_old_empty_or_garbage_lock_is_stale(tmp_path):
    from dartslib.engine.rundir import RunLock

    for content in ("", "\x00garbage{"):
        (tmp_path / ".lock").write_text(content)
        with pytest.raises(RunDirectoryBusy, match="unreadable lock"):  # young: maybe being written right now
            RunLock(tmp_path).acquire()
        old = time.time() - 3600
        os.utime(tmp_path / ".lock", (old, old))
        lock = RunLock(tmp_path).acquire()
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
        lock.release()
        assert not (tmp_path / ".lock").exists()


def test_row8_the_lock_is_written_and_fsynced_before_it_appears(tmp_path, monkeypatch):
    from dartslib.engine.rundir import RunLock

    real_link, real_fsync, seen, synced = os.link, os.fsync, [], []
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])

    def link(src, dst, *args, **kwargs):
        seen.append((json.loads(open(src).read()), bool(synced)))  # complete and fsynced before it has its name
        return real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "link", link)
    lock = RunLock(tmp_path).acquire()
    assert seen == [({"pid": os.getpid(), "host": os.uname().nodename}, True)]
    assert [p.name for p in tmp_path.iterdir()] == [".lock"]  # no temporary left
    lock.release()


def test_row9_labels_nested_too_deep_name_the_file(tmp_path):
    folder, first, key, _ = _dataset_files(tmp_path, "cifar10")
    nested = 1
    for _ in range(200):
        nested = [nested]
    _write(folder / first, {b"data": _planar(4, 32), key: [nested] * 4})
    with pytest.raises(DataFileError, match=f"{first}: 'labels' is not a rectangular array"):
        load_dataset("cifar10", "train", root=tmp_path)


def test_row9_a_data_set_without_images_names_its_folder(capsys, tmp_path):
    folder, _, key, _ = _dataset_files(tmp_path, "cifar10")
    for name in [f"data_batch_{i}" for i in range(1, 6)]:
        _write(folder / name, {b"data": np.zeros((0, 3072), dtype=np.uint8), key: []})
    with pytest.raises(DataFileError, match="hold no images"):
        load_dataset("cifar10", "train", root=tmp_path)
    status, _, err = run_main(capsys, "search", *CLI_TINY, "--dataset", "cifar10", "--data-dir", tmp_path)
    assert status == 1 and str(folder) in err and "hold no images" in err
    assert_one_line_error(err)


@pytest.mark.parametrize("change, message", [
    (dict(epoch=-1), "its epoch is -1"), (dict(step=10**6), "step 1000000"), (dict(epoch=99), "its epoch is 99"),
    (dict(step=-3), "its step is -3"), (dict(epoch=True), "its epoch is True"),
])
def test_row9_a_forged_checkpoint_epoch_or_step_names_the_file(capsys, tmp_path, change, message):
    state = _checkpoint(tmp_path)
    state.update(change)
    save_checkpoint(state, tmp_path / "forged.pt")
    status, _, err = run_main(capsys, "search", "--resume", tmp_path / "forged.pt")
    assert status == 1 and str(tmp_path / "forged.pt") in err and message in err, err
    assert_one_line_error(err)


def test_row9_train_batch_size_1_names_the_flag(capsys):
    status, _, err = run_main(capsys, "train", "--genotype", "DARTS_V2", "--batch-size", "1", "--device", "cpu")
    assert status == 2 and "--batch-size" in err and "at least 2" in err
    assert_one_line_error(err)


class HugeBytearray:
    def __reduce__(self):
        return (bytearray, (2 * 10**9,))


class HugeArray:
    def __reduce__(self):
        return (np.ndarray, ((10**9,), np.dtype(np.uint8)))


@pytest.mark.parametrize("payload", [HugeBytearray, HugeArray])
def test_row10_the_unpickler_refuses_before_allocating(tmp_path, payload):
    import tracemalloc

    folder, first, _, _ = _dataset_files(tmp_path, "cifar10")
    _write(folder / first, {b"data": payload()}, protocol=2)
    assert (folder / first).stat().st_size < 200
    tracemalloc.start()
    try:
        with pytest.raises(DataFileError, match="refusing to build") as info:
            load_dataset("cifar10", "train", root=tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(folder / first) in str(info.value) and peak < 50 * 2**20


def test_row11_an_empty_out_is_refused(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for argv in (["search", *CLI_TINY, "--out", ""], ["train", "--genotype", "DARTS_V2", "--out", " "],
                 [*SWEEP, "--out", ""]):
        status, _, err = run_main(capsys, *argv)
        assert status == 2 and "--out" in err and "empty path" in err, err
        assert_one_line_error(err)
    with pytest.raises(ValueError, match="out_dir must be a directory"):
        search(tiny(), "", progress=False)
    assert not list(tmp_path.iterdir())
