"""The device contract, checked without a GPU: every function that takes a model and data moves the data to
the model's device.

The model is put on the ``meta`` device (tensors with a shape and no storage) and handed ordinary CPU batches;
a global forward pre-hook raises :class:`DeviceMismatch` whenever a module receives an input tensor on another
device than its own parameters. On a GPU the same mistake is "Expected all tensors to be on the same device".
A function that moves its batches runs its forward passes on ``meta``; where it then needs a number
(``.item()``, ``float()``), meta raises its own error, which is accepted here only after at least one module
call passed the device check (the point is the check, not the number).

Without the device contract (dartslib before issue 20, commit 14f7b22) all 13 measurement and book-helper
cases below fail with :class:`DeviceMismatch` (14 failures with the helper's own test, an ImportError); the
two controls pass either way.
"""
from __future__ import annotations

import itertools
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import pytest
import torch
from torch import nn

import dartslib
from dartslib import build_supernet, make_config


class DeviceMismatch(AssertionError):
    """A module received an input tensor on another device than its parameters."""


def _tensors(value: Any) -> Iterator[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _tensors(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)


@contextmanager
def device_guard() -> Iterator[dict[str, int]]:
    """Raise :class:`DeviceMismatch` from any module whose input is on another device than its parameters
    (or, for a module without its own, its submodules' parameters); count the module calls that passed."""
    counts = {"checked": 0}

    def check(module: nn.Module, args: tuple) -> None:
        own = itertools.chain(module.parameters(recurse=False), module.buffers(recurse=False))
        ref = next(own, None)
        if ref is None:
            ref = next(module.parameters(), None)
        if ref is None:
            return
        for t in _tensors(args):
            if t.device != ref.device:
                raise DeviceMismatch(f"{type(module).__name__} on {ref.device} got an input on {t.device}")
        counts["checked"] += 1

    handle = torch.nn.modules.module.register_module_forward_pre_hook(check)
    try:
        yield counts
    finally:
        handle.remove()


def _meta_error(exc: BaseException) -> bool:
    """The error meta tensors raise when a value is asked of them (``.item()``, ``float()``, ``.numpy()``)."""
    return isinstance(exc, (RuntimeError, NotImplementedError, ValueError)) and "meta" in str(exc).lower()


def run_guarded(fn: Callable[[], Any]) -> int:
    """Run ``fn`` under :func:`device_guard`; a meta error after the device checks passed is accepted.
    Returns the number of module calls checked (at least one, or the case tested nothing)."""
    with device_guard() as counts:
        try:
            fn()
        except DeviceMismatch:
            raise
        except Exception as exc:  # noqa: BLE001 - only meta's "no value here" error is expected
            if not _meta_error(exc):
                raise
    assert counts["checked"] > 0, "no module call was checked: the case did not reach a forward pass"
    return counts["checked"]


# ------------------------------------------------------------------------------------------------ the controls

def test_the_guard_catches_an_input_on_another_device():
    """Control: a meta model given a CPU tensor is caught; given a meta tensor it passes."""
    layer = nn.Linear(3, 2).to("meta")
    with pytest.raises(DeviceMismatch, match="Linear on meta got an input on cpu"):
        run_guarded(lambda: layer(torch.zeros(1, 3)))
    assert run_guarded(lambda: layer(torch.zeros(1, 3, device="meta"))) == 1


def test_the_guard_accepts_only_metas_own_error():
    """Control: a meta model whose value is asked for raises meta's error, which is accepted; other errors
    are not."""
    layer = nn.Linear(3, 2).to("meta")
    run_guarded(lambda: layer(torch.zeros(1, 3, device="meta")).sum().item())
    with pytest.raises(ZeroDivisionError):
        run_guarded(lambda: (layer(torch.zeros(1, 3, device="meta")), 1 / 0))


# ------------------------------------------------------------------------------------------------ the cases

def _config(**overrides: Any):
    return make_config("darts", "nb201", "toy", seed=0, C=4, cells_per_stage=1, image_size=8, epochs=1,
                       max_steps_per_epoch=2, batch_size=16, **overrides)


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A search run by ``dartslib.book.search_many`` (the chapters' helper), its run directory, and CPU batches."""
    from dartslib.book import search_many
    from dartslib.data import BatchIterator, load_dataset

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("runs") / "darts"
    config = _config()
    result = search_many({"darts": config}, {"darts": out}, workers=1)["darts"]
    data = load_dataset(config.dataset, "test", root=config.data_dir, image_size=config.image_size)
    batches = list(itertools.islice(BatchIterator(data, 16, shuffle=False).epoch(0), 2))
    return result, out, batches


@pytest.fixture
def meta_model(searched):
    """The searched supernet on the meta device (a fresh copy per test)."""
    import copy

    return copy.deepcopy(searched[0].model).to("meta")


def _cases() -> dict[str, Callable[[nn.Module, list], Any]]:
    from dartslib.diagnostics import measures
    from dartslib.diagnostics.grad_correlation import gradient_correlation, op_weight_gradients
    from dartslib.diagnostics.hessian import alpha_hessian_eigenvalue  # alpha_hessian: the same alpha_loss
    from dartslib.diagnostics.landscape import accuracy_landscape
    from dartslib.engine.loop import evaluate
    from dartslib.book.residual_gain import _accuracy as beta_resnet_accuracy

    cell = "|skip_connect~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"

    def one_hot(model: nn.Module) -> dict[str, torch.Tensor]:
        return measures.one_hot_op_weights(cell, model.space, like=model.op_weights())

    return {
        "accuracy": lambda m, b: measures.accuracy(m, b),
        "accuracy with op weights": lambda m, b: measures.accuracy(m, b, one_hot(m), "running"),
        "recalibrate_bn": lambda m, b: measures.recalibrate_bn(m, b),
        "finetuned_accuracy": lambda m, b: measures.finetuned_accuracy(m, b, b, one_hot(m)),
        "discretization_gap": lambda m, b: measures.discretization_gap(m, b, cell, bn="recalibrate",
                                                                        calibration_batches=b),
        "gradient_correlation": lambda m, b: gradient_correlation(m, b[0], b[1]),
        "op_weight_gradients": lambda m, b: op_weight_gradients(m, b[0]),
        "alpha_hessian_eigenvalue": lambda m, b: alpha_hessian_eigenvalue(m, b, iters=2),
        "accuracy_landscape": lambda m, b: accuracy_landscape(m, b, points=3),
        "evaluate": lambda m, b: evaluate(m, iter(b)),
        "book: residual_gain accuracy": lambda m, b: beta_resnet_accuracy(m, b),
    }


CASES = list(_cases())


@pytest.mark.parametrize("case", CASES)
def test_a_measurement_moves_cpu_batches_to_the_models_device(case, meta_model, searched, one_thread):
    _, _, batches = searched
    fn = _cases()[case]
    if case.startswith("book: residual_gain"):
        from dartslib.book.residual_gain import BetaResNet

        meta_model = BetaResNet(1.0, C=4, blocks_per_stage=1, num_classes=10, in_channels=batches[0][0].shape[1])
        meta_model = meta_model.to("meta")
    run_guarded(lambda: fn(meta_model, batches))


def test_measure_run_moves_its_batches_to_the_resumed_models_device(searched, monkeypatch, one_thread):
    """``dartslib.book.results.measure_run`` resumes a run (on CUDA when there is one) and builds its batches
    from the data set: here the resumed model is put on meta, and the batches must follow it."""
    from dartslib.book.results import measure_run
    from dartslib.engine.loop import Search

    resume = Search.resume.__func__

    def resume_on_meta(cls, *args, **kwargs):
        search = resume(cls, *args, **kwargs)
        search.model.to("meta")
        return search

    monkeypatch.setattr(Search, "resume", classmethod(resume_on_meta))
    _, run_dir, _ = searched
    run_guarded(lambda: measure_run(run_dir, calibration_batches=1, pairs=1, finetune_steps=1))


def test_search_many_hands_back_a_model_the_measurements_take_with_cpu_batches(searched, one_thread):
    """What a chapter does with ``search_many``'s result: measure it with batches built on the CPU. The model
    comes back on the device the search ran on (the CPU here); moved to meta, as it would be on CUDA, the
    chapters' measurement still runs."""
    from dartslib.diagnostics.measures import discretization_gap

    result, _, batches = searched
    assert isinstance(result, dartslib.SearchResult)
    assert next(result.model.parameters()).device.type == "cpu"
    import copy

    run_guarded(lambda: discretization_gap(copy.deepcopy(result.model).to("meta"), batches,
                                                   result.genotype))  # derived on the CPU: meta has no values


def test_the_fix_is_the_one_helper():
    """Control for the cases above: the helper moves nested batches and leaves non-tensors alone."""
    from dartslib.device import model_device, to_device

    model = nn.Linear(2, 2).to("meta")
    assert model_device(model) == torch.device("meta")
    moved = to_device((torch.zeros(2), [torch.ones(1)], "label", 3), model_device(model))
    assert moved[0].device.type == "meta" and moved[1][0].device.type == "meta" and moved[2:] == ("label", 3)
    assert model_device(nn.ReLU()) == torch.device("cpu")  # no parameter: the CPU


# ------------------------------------------------------------------------------------------ device selection

def test_auto_falling_back_to_the_cpu_warns_at_small_and_paper_scale_with_the_reason(monkeypatch):
    """``device="auto"`` on a machine where CUDA is not usable: silent at toy scale (the CPU is the plan), a
    :class:`CPUFallbackWarning` naming the reason at small and paper; ``"cpu"`` asked for never warns."""
    import warnings

    from dartslib.device import CPUFallbackWarning
    from dartslib.engine.loop import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", None)  # the reason: a CPU-only build
    for scale, warns in (("toy", False), (None, False), ("small", True), ("paper", True)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert resolve_device("auto", scale) == torch.device("cpu")
            assert resolve_device("cpu", scale) == torch.device("cpu")
        fallbacks = [w for w in caught if issubclass(w.category, CPUFallbackWarning)]
        assert len(fallbacks) == int(warns), scale
        if warns:
            assert "CPU-only build" in str(fallbacks[0].message) and "--device cpu" in str(fallbacks[0].message)


def test_the_reason_cuda_is_unavailable_names_the_drivers_complaint(monkeypatch):
    from dartslib.device import cuda_unavailable_reason

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", "12.4")

    def old_driver():
        raise RuntimeError("The NVIDIA driver on your system is too old (found version 11040).\nmore")

    monkeypatch.setattr(torch.cuda, "init", old_driver)
    assert cuda_unavailable_reason() == ("torch " + torch.__version__ + " (CUDA 12.4) cannot start CUDA: The NVIDIA "
                                         "driver on your system is too old (found version 11040).")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert cuda_unavailable_reason() is None  # control


def test_the_repeatability_switches(monkeypatch):
    """``DARTSLIB_DETERMINISTIC=1`` turns deterministic algorithms on and cuDNN's benchmark off even when asked
    for; ``DARTSLIB_CUDNN_BENCHMARK=1`` alone turns the benchmark on; neither: both off."""
    from dartslib.device import configure_cuda

    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
              torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    try:
        assert configure_cuda({}) == {"deterministic": False, "cudnn_benchmark": False}
        assert configure_cuda({"DARTSLIB_CUDNN_BENCHMARK": "1"}) == {"deterministic": False, "cudnn_benchmark": True}
        assert torch.backends.cudnn.benchmark
        both = {"DARTSLIB_DETERMINISTIC": "1", "DARTSLIB_CUDNN_BENCHMARK": "1"}
        assert configure_cuda(both) == {"deterministic": True, "cudnn_benchmark": False}
        assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before[2], before[3]


def test_synchronize_is_a_no_op_on_the_cpu():
    from dartslib.device import synchronize

    assert synchronize("cpu") is None and synchronize(None) is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU (benchmarks/gpu_check.sh runs it)")
@pytest.mark.parametrize("case", CASES)
def test_on_cuda_every_measurement_takes_cpu_batches_and_gives_the_cpus_answer(case, searched, one_thread):
    """On a real GPU: the model on CUDA, the batches on the CPU, and the same numbers as on the CPU (to
    float32 rounding) where the case returns numbers."""
    import copy

    result, _, batches = searched
    fn = _cases()[case]
    if case.startswith("book: residual_gain"):
        from dartslib.book.residual_gain import BetaResNet

        torch.manual_seed(0)
        model = BetaResNet(1.0, C=4, blocks_per_stage=1, num_classes=10, in_channels=batches[0][0].shape[1])
    else:
        model = copy.deepcopy(result.model)
    on_cpu = fn(copy.deepcopy(model).cpu(), batches)
    on_cuda = fn(copy.deepcopy(model).cuda(), batches)
    if isinstance(on_cpu, tuple) and all(isinstance(v, float) for v in on_cpu):
        assert on_cuda == pytest.approx(on_cpu, rel=1e-3, abs=1e-3)
