"""Write reproduce.json: the committed references' arithmetic and what rounding cannot move.

    python book/results/collapse/first_step.py

For ``darts__nb201__seed0`` (whose config ``regime/`` and ``replication/`` share), records the values of the
search before its first update (:func:`dartslib.diagnostics.first_step.first_step_values`: the first batches' losses,
the first alpha gradient, the weight-gradient norm), and this machine (:func:`dartslib.engine.machine.
machine_info`, with its arithmetic fingerprint). ``tests/test_results_reproduce.py`` compares a re-run with the
values on any CPU, within a tolerance derived from float32's epsilon, and runs its bit-exact check against a
reference folder only where this CPU's fingerprint equals the one recorded for that folder. The fingerprints of
the references are kept as they are in the file (the AMD EPYC that wrote ``replication/`` did not record one).
"""
import json
from pathlib import Path

import torch

from dartslib.engine.config import SearchConfig
from dartslib.diagnostics.first_step import first_step_values
from dartslib.engine.machine import machine_info

HERE = Path(__file__).resolve().parent
RUN = "darts__nb201__seed0"

if __name__ == "__main__":
    torch.set_num_threads(1)
    path = HERE / "reproduce.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    config = json.loads((HERE / "regime" / RUN / "result.json").read_text())["config"]
    values = first_step_values(SearchConfig.from_dict({**config, "device": "cpu"}))
    out = {"run": RUN,
           "command": "python book/results/collapse/first_step.py",
           "references": old.get("references", {}),
           "first_step": {**values, "machine": machine_info("cpu")}}
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")
