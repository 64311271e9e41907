"""Measure the final checkpoint of every finished search of a sweep: python book/results/collapse/measure.py SWEEP_DIR

Sweeps record no diagnostics, so these are measured afterwards, while the runs' ``checkpoint.pt`` still
exist (they are not committed), by :func:`dartslib.book.results.measure_sweep`: the discretization drop with
batch-statistics BN, with BN re-estimated, keeping the winner's trained weight, and after 40 fine-tuning
steps of the one-hot net; and the gradient correlation of Hou et al. (2021, Eq. 8) on the trained supernet,
bi-level and same-subset. Writes SWEEP_DIR/measures.csv, skipping runs already in it. One CPU thread.
"""
import sys
from pathlib import Path

import torch

from dartslib.book.results import measure_sweep

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python book/results/collapse/measure.py SWEEP_DIR")
    torch.set_num_threads(1)
    measure_sweep(Path(sys.argv[1]))
