"""Parameter and multiply-accumulate counts, checked by hand on tiny models."""
from __future__ import annotations

import torch
from torch import nn

from dartslib.arch.counting import count_macs, count_parameters
from dartslib.arch.networks import build_network


def _tiny() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),              # 8x8x8 outputs, each 3*3*3 MACs
        nn.BatchNorm2d(8),
        nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=4, bias=False),  # 8x4x4 outputs, each 2*3*3 MACs
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 5),                             # 5 outputs, each 8 MACs
    )


def test_macs_of_a_tiny_model_by_hand():
    conv = 8 * 8 * 8 * 3 * 3 * 3       # 13,824
    grouped = 8 * 4 * 4 * 2 * 3 * 3    # 2,304
    linear = 5 * 8                     # 40
    model = _tiny()
    assert count_macs(model, (3, 8, 8)) == conv + grouped + linear == 16_168
    assert count_macs(model, (1, 3, 8, 8)) == 16_168
    assert count_macs(model, (4, 3, 8, 8)) == 16_168  # per sample


def test_linear_over_positions():
    assert count_macs(nn.Linear(6, 4), (1, 6)) == 6 * 4
    assert count_macs(nn.Sequential(nn.Flatten(2), nn.Linear(4, 3)), (5, 2, 2)) == 5 * 4 * 3


def test_parameters_of_a_tiny_model_by_hand():
    model = _tiny()
    assert count_parameters(model) == (3 * 8 * 9 + 8) + (8 + 8) + (8 * 2 * 9) + (8 * 5 + 5) == 429


def test_auxiliary_head_is_excluded_unless_asked():
    model = nn.Module()
    model.body = nn.Linear(4, 4)                      # 20
    model.auxiliary_head = nn.Sequential(nn.Linear(4, 2))  # 10
    assert count_parameters(model) == 20
    assert count_parameters(model, include_auxiliary=True) == 30


def test_shared_parameters_count_once():
    layer = nn.Linear(3, 3)
    assert count_parameters(nn.Sequential(layer, layer)) == 12


def test_modes_are_restored():
    model = _tiny().train()
    model[1].eval()
    count_macs(model, (3, 8, 8))
    assert model.training and model[0].training and not model[1].training


def test_darts_v2_macs():
    # DARTS' 528M multiply-adds at 32x32 (FairDARTS Table 1); the auxiliary head never runs in eval mode.
    assert count_macs(build_network("DARTS_V2", C=36, layers=20), (3, 32, 32)) == 528_359_040
    small = dict(C=8, layers=5)
    with_aux, without = build_network("DARTS_V2", **small), build_network("DARTS_V2", auxiliary=False, **small)
    assert count_macs(with_aux, (3, 32, 32)) == count_macs(without, (3, 32, 32))
