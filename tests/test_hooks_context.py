"""Hooks are handed an :class:`~dartslib.hooks.EpochContext`, not the ``Search``; the config the layers below the
engine read is typed by the protocol :class:`~dartslib.hooks.SearchSettings`, which ``SearchConfig`` satisfies.

(That no import circle remains, ``TYPE_CHECKING`` imports included, is ``tests/test_import_layers.py``.)
"""
from __future__ import annotations

import ast
import dataclasses
import typing
from pathlib import Path
from typing import Any

import pytest
import torch

from dartslib.diagnostics.recording import DiagnosticsRecorder
from dartslib.engine.config import SearchConfig, make_config
from dartslib.engine.loop import Search, SearchInterrupted, search
from dartslib.hooks import EpochContext, SearchHook, SearchSettings

PACKAGE = Path(__file__).resolve().parents[1] / "dartslib"
#: the modules below the engine (they may not import SearchConfig) and the hooks that read ``ctx.config``
BELOW_ENGINE = ("hooks.py", "data.py", "device.py", "progress.py", "space", "arch", "methods",
                "diagnostics/recording.py")


def tiny(**changes: Any) -> SearchConfig:
    values = dict(epochs=2, C=4, cells_per_stage=1, image_size=8, batch_size=64, max_steps_per_epoch=2, device="cpu")
    return make_config("darts", "nb201", "toy", **{**values, **changes})


# ------------------------------------------------------------------------------------------ the protocol

def protocol_mismatches(protocol: type, cls: type) -> list[str]:
    """The members of ``protocol`` that ``cls`` lacks or annotates otherwise (properties: that it has one)."""
    mine = typing.get_type_hints(protocol)
    theirs = typing.get_type_hints(cls)
    out = [f"{name}: {theirs.get(name, 'missing')} is not {hint}" for name, hint in mine.items()
           if theirs.get(name) != hint]
    props = [n for n, v in vars(protocol).items() if isinstance(v, property)]
    out += [f"{n}: no property" for n in props if not isinstance(getattr(cls, n, None), property)]
    return out


def test_search_config_satisfies_the_protocol_with_the_same_annotations():
    assert protocol_mismatches(SearchSettings, SearchConfig) == []
    assert isinstance(tiny(), SearchSettings)


def test_the_protocol_check_finds_a_missing_field_and_another_type():
    """Control: a config without ``w01``, with ``seed`` as text and without ``smooth_temperature``."""
    fields = [(f.name, f.type, f) for f in dataclasses.fields(SearchConfig) if f.name != "w01"]
    fields = [(n, "str" if n == "seed" else t, f) for n, t, f in fields]
    Other = dataclasses.make_dataclass("Other", fields)
    Other.__module__ = SearchConfig.__module__  # its annotations are the config module's names
    found = protocol_mismatches(SearchSettings, Other)
    assert any(m.startswith("w01: missing") for m in found)
    assert any(m.startswith("seed:") for m in found)
    assert "smooth_temperature: no property" in found


def config_reads(source: str) -> set[str]:
    """The attributes read off a name ``config`` or ``cfg`` in ``source``."""
    return {node.attr for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ("config", "cfg")}


def test_every_config_field_read_below_the_engine_is_in_the_protocol():
    declared = set(typing.get_type_hints(SearchSettings)) | {"smooth_temperature"}
    reads = {}
    for entry in BELOW_ENGINE:
        paths = [PACKAGE / entry] if entry.endswith(".py") else sorted((PACKAGE / entry).rglob("*.py"))
        for path in paths:
            for name in config_reads(path.read_text()) - declared:
                reads.setdefault(name, []).append(str(path.relative_to(PACKAGE)))
    assert reads == {}, "add these fields to dartslib.hooks.SearchSettings"
    # control: a switch reading a field the protocol does not declare is found
    assert config_reads("def _hooks(config):\n    return config.lr_min * config.t_sp\n") - declared == {"lr_min"}


# ------------------------------------------------------------------------------------------ the context

class Capture(SearchHook):
    def __init__(self) -> None:
        self.seen: list[tuple[EpochContext, dict[str, Any]]] = []

    def on_epoch_end(self, ctx: EpochContext, record: dict[str, Any]) -> None:
        self.seen.append((ctx, dict(record)))
        if record["epoch"] == 1:
            ctx.request_stop()


def test_a_hook_gets_a_context_with_the_model_config_streams_and_directory(tmp_path):
    capture = Capture()
    run = Search(tiny(), tmp_path / "run", progress=False, hooks=[capture])
    with pytest.raises(SearchInterrupted):  # request_stop acts: stopped after the epoch, saved
        run.run()
    (ctx, record), = capture.seen
    assert isinstance(ctx, EpochContext) and not isinstance(ctx, Search)
    assert ctx.model is run.model and ctx.config is run.config and ctx.out_dir == tmp_path / "run"
    assert ctx.train_batches is run.train_batches and ctx.held_out is run.held_out
    assert ctx.arch_batches is run.arch_stream.iterator  # the iterator: pure calls, the stream is not advanced
    assert (ctx.epoch, ctx.epochs, ctx.steps_per_epoch) == (record["epoch"], 2, run.steps_per_epoch) == (1, 2, 2)
    assert not hasattr(ctx, "arch_stream") and not hasattr(ctx, "history")  # control: not the Search
    assert (tmp_path / "run" / "checkpoint.pt").is_file() and run.epoch == 1  # request_stop stopped it there


def test_the_recorder_measures_from_a_context_alone(tmp_path):
    """The recorder needs only the context: fed a context built by hand from the search's parts, it measures what
    it recorded during the search. Control: the Search itself is no longer something it can read."""
    recorder = DiagnosticsRecorder(every=1, gap=True, gradients=True, eval_batches=1)
    result = search(tiny(epochs=1), None, progress=False, hooks=[recorder])
    recorded = result.history[-1]["diagnostics"]

    run = Search(tiny(epochs=1), None, progress=False)
    run.model.load_state_dict(result.model.state_dict())
    for hook in run.hooks:
        hook.eval_mode(run.model)
    ctx = EpochContext(model=run.model, config=run.config, epoch=1, epochs=1, steps_per_epoch=run.steps_per_epoch,
                       train_batches=run.train_batches, arch_batches=run.arch_stream.iterator,
                       held_out=run.held_out, out_dir=None, request_stop=run.request_stop)
    again = recorder.measure(ctx, 1)
    assert again["discretization"] == recorded["discretization"]
    assert torch.allclose(torch.tensor(again["grad_correlation"]["cosine"][0]),
                          torch.tensor(recorded["grad_correlation"]["cosine"][0]))
    with pytest.raises(AttributeError, match="arch_batches"):
        recorder.measure(run, 1)
