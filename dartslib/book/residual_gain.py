"""The residual-gain experiment of Chu et al. (2021), Sec. 3.1, Fig. 2: put one trainable coefficient beta on all
skip connections of a ResNet, ``X_{i+1} = f_{i+1}(X_i) + beta * X_i`` (Eq. 3), initialise it at 0, 0.5 and
1, and watch where training takes it. DARTS- finds it grows towards 1 whatever the start: a network learns
to keep its skips because they carry the gradient (Eq. 1-2), which is the skip connection's unfair
advantage inside a supernet.

The paper trains ResNet50 on CIFAR-10; :func:`residual_gain_experiment` trains a small CIFAR-style ResNet
(3 stages of basic blocks) on any :func:`dartslib.data.load_dataset` data (digits by default, a CPU
minute), and :func:`dartslib.viz.plots.plot_residual_gain` draws the result.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from dartslib.data import BatchIterator, load_dataset
from dartslib.device import batches_on, model_device

__all__ = ["BetaBlock", "BetaResNet", "train_beta_resnet", "residual_gain_experiment", "load_residual_gain"]


class BetaBlock(nn.Module):
    """A basic block ``relu(f(x) + beta * shortcut(x))``, ``f`` = conv-BN-ReLU-conv-BN; ``beta`` is shared
    (passed in). Strided blocks use a 1x1 conv + BN shortcut, which beta scales too."""

    def __init__(self, C_in: int, C_out: int, stride: int, beta: nn.Parameter) -> None:
        super().__init__()
        self.beta = beta
        self.body = nn.Sequential(
            nn.Conv2d(C_in, C_out, 3, stride, 1, bias=False), nn.BatchNorm2d(C_out), nn.ReLU(inplace=True),
            nn.Conv2d(C_out, C_out, 3, 1, 1, bias=False), nn.BatchNorm2d(C_out))
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or C_in != C_out:
            self.shortcut = nn.Sequential(nn.Conv2d(C_in, C_out, 1, stride, bias=False), nn.BatchNorm2d(C_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.beta * self.shortcut(x))


class BetaResNet(nn.Module):
    """A CIFAR-style ResNet (stem, 3 stages of ``blocks_per_stage`` blocks at C, 2C, 4C, pool, linear)
    whose skips all share one trainable coefficient ``beta``. ``(B, in_channels, H, W) -> (B, num_classes)``."""

    def __init__(self, beta_init: float = 1.0, C: int = 16, blocks_per_stage: int = 3, num_classes: int = 10,
                 in_channels: int = 3) -> None:
        super().__init__()
        self.beta = nn.Parameter(torch.tensor(float(beta_init)))
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, 1, 1, bias=False), nn.BatchNorm2d(C), nn.ReLU())
        blocks, C_prev = [], C
        for stage, C_stage in enumerate((C, 2 * C, 4 * C)):
            for i in range(blocks_per_stage):
                blocks.append(BetaBlock(C_prev, C_stage, 2 if stage > 0 and i == 0 else 1, self.beta))
                C_prev = C_stage
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(C_prev, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


@torch.no_grad()
def _accuracy(model: nn.Module, batches: Any) -> float:
    model.eval()
    correct = count = 0
    for x, y in batches_on(batches, model_device(model)):
        correct += (model(x).argmax(1) == y).sum().item()
        count += len(y)
    model.train()
    return 100.0 * correct / max(count, 1)


def train_beta_resnet(beta_init: float, epochs: int = 15, dataset: str = "digits", image_size: int | None = 16,
                      C: int = 16, blocks_per_stage: int = 3, batch_size: int = 64, lr: float = 0.05,
                      weight_decay: float = 5e-4, seed: int = 0, data_dir: str | None = None,
                      max_steps_per_epoch: int | None = None, device: str = "cpu") -> list[dict[str, float]]:
    """Train a :class:`BetaResNet` with SGD (momentum 0.9, cosine lr; no weight decay on beta) and return
    ``[{"epoch", "beta", "train_loss", "test_acc"}]`` per epoch."""
    torch.manual_seed(seed)
    train = load_dataset(dataset, "train", root=data_dir, image_size=image_size).to(device)
    test = load_dataset(dataset, "test", root=data_dir, image_size=image_size).to(device)
    model = BetaResNet(beta_init, C, blocks_per_stage, train.num_classes, train.shape[0]).to(device)
    others = [p for p in model.parameters() if p is not model.beta]
    optimizer = torch.optim.SGD([{"params": others, "weight_decay": weight_decay},
                                 {"params": [model.beta], "weight_decay": 0.0}], lr=lr, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(epochs, 1))
    batches = BatchIterator(train, batch_size, shuffle=True, seed=seed)
    test_batches = BatchIterator(test, 256, shuffle=False)
    history = []
    for epoch in range(epochs):
        loss_sum = count = 0.0
        for step, (x, y) in enumerate(batches.epoch(epoch)):
            if max_steps_per_epoch is not None and step >= max_steps_per_epoch:
                break
            optimizer.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(y)
            count += len(y)
        scheduler.step()
        history.append({"epoch": epoch + 1, "beta": float(model.beta.detach()), "train_loss": loss_sum / max(count, 1),
                        "test_acc": _accuracy(model, test_batches.epoch(0))})
    return history


def residual_gain_experiment(inits: Sequence[float] = (0.0, 0.5, 1.0), out_dir: str | Path | None = None,
                             **train_options: Any) -> dict[float, list[dict[str, float]]]:
    """Train one :class:`BetaResNet` per initial beta (same seed, same data order) and return
    ``{init: per-epoch history}``; with ``out_dir`` also write ``residual_gain.json`` there."""
    results = {float(b): train_beta_resnet(float(b), **train_options) for b in inits}
    if out_dir is not None:
        from dartslib.engine.checkpoint import write_json_atomic

        write_json_atomic(Path(out_dir) / "residual_gain.json",
                          {"options": train_options, "history": {str(k): v for k, v in results.items()}})
    return results


def load_residual_gain(path: str | Path) -> dict[float, list[dict[str, float]]]:
    """Read ``residual_gain.json`` (a file or the directory holding it) back into ``{init: history}``."""
    path = Path(path)
    if path.is_dir():
        path = path / "residual_gain.json"
    data = json.loads(path.read_text())
    return {float(k): v for k, v in data["history"].items()}
