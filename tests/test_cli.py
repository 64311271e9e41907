"""The command line: outputs, exit statuses and one-line errors for bad input."""
import json
import subprocess
import sys

import pytest

from dartslib.cli import main

TINY = ["--epochs", "1", "--C", "4", "--quiet", "--batch-size", "32"]


def run_main(capsys, *argv):
    try:
        status = main(list(argv))
    except SystemExit as exc:  # argparse exits for usage errors
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def test_count_published_genotype(capsys):
    status, out, _ = run_main(capsys, "count", "--genotype", "DARTS_V2")
    assert status == 0
    assert "3,349,342" in out and "MACs" in out


def test_count_nb201_string(capsys):
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    status, out, _ = run_main(capsys, "count", "--genotype", arch)
    assert status == 0 and "parameters:" in out


def test_search_toy_writes_a_run(capsys, tmp_path):
    status, out, _ = run_main(capsys, "search", "--space", "nb201", "--cells-per-stage", "1", *TINY,
                              "--out", str(tmp_path))
    assert status == 0
    printed = json.loads(out)
    assert printed["genotype"].startswith("|") and printed["epochs"] == 1
    assert (tmp_path / "result.json").exists() and (tmp_path / "history.jsonl").exists()


@pytest.mark.parametrize("argv, message", [
    (["search", "--method", "magic"], "invalid choice: 'magic'"),
    (["search", "--space", "cifar"], "invalid choice: 'cifar'"),
    (["search", "--dataset", "mnist"], "invalid choice: 'mnist'"),
    (["search", "--epochs", "-3"], "must not be negative"),
    (["count", "--genotype", "Genotype(normal=[('sep_conv_3x3', 0)"], "error:"),
    (["count", "--genotype", "__import__('os').system('echo pwned')"], "error:"),
    (["count", "--genotype", "|conv_7x7~0|+|none~0|none~1|+|none~0|none~1|none~2|"], "conv_7x7"),
    (["count", "--genotype", "NOT_A_PUBLISHED_CELL"], "error:"),
])
def test_bad_input_is_one_line_and_status_2(capsys, argv, message):
    status, out, err = run_main(capsys, *argv)
    assert status == 2
    assert message in err
    assert "Traceback" not in err and "pwned" not in out + err


def test_missing_data_exits_1_with_where_to_put_it(capsys, tmp_path):
    status, _, err = run_main(capsys, "search", "--dataset", "cifar10", "--data-dir", str(tmp_path), *TINY)
    assert status == 1
    assert "cifar" in err.lower() and str(tmp_path) in err and "Traceback" not in err


def test_corrupt_checkpoint_exits_1(capsys, tmp_path):
    (tmp_path / "checkpoint.pt").write_bytes(b"\x00garbage")
    status, _, err = run_main(capsys, "search", "--resume", str(tmp_path))
    assert status == 1 and "corrupt" in err and "Traceback" not in err


def test_resume_continues_to_the_configured_epochs(capsys, tmp_path):
    run_main(capsys, "search", "--space", "nb201", "--cells-per-stage", "1", *TINY, "--out", str(tmp_path))
    status, out, err = run_main(capsys, "search", "--resume", str(tmp_path), "--quiet")
    assert status == 0 and json.loads(out)["epochs"] == 1


def test_module_entry_point_help():
    done = subprocess.run([sys.executable, "-m", "dartslib", "search", "--help"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0
    for flag in ("--method", "--space", "--dataset", "--scale", "--epochs", "--seed", "--device",
                 "--data-dir", "--out", "--resume"):
        assert flag in done.stdout


def test_module_entry_point_bad_space_has_no_traceback():
    done = subprocess.run([sys.executable, "-m", "dartslib", "search", "--space", "s9"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "s9" in done.stderr and "nb201" in done.stderr


def test_count_nb201_depth_is_cells_per_stage_and_layers_is_refused(capsys):
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    status, out, _ = run_main(capsys, "count", "--genotype", arch)
    assert status == 0 and "1,531,546" in out  # the benchmark's C=16, N=5 anchor
    status, shallow, _ = run_main(capsys, "count", "--genotype", arch, "--cells-per-stage", "1")
    assert status == 0 and "1,531,546" not in shallow and "parameters:" in shallow
    status, out, err = run_main(capsys, "count", "--genotype", arch, "--layers", "8")
    assert status != 0 and "--layers" in out + err and "Traceback" not in out + err
    status, out, err = run_main(capsys, "count", "--genotype", "DARTS_V2", "--cells-per-stage", "2")
    assert status != 0 and "--cells-per-stage" in out + err
