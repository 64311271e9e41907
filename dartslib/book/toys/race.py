"""The pure-softmax toy (Hou et al., 2021, Theorems 4.2, 4.3): :func:`softmax_race`, the printed bound
(:func:`theorem_4_3_bound`), a bound that holds (:func:`corrected_race_bound`) and Theorem 4.2's
counterexample."""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch

__all__ = ["softmax_race", "theorem_4_3_bound", "corrected_race_bound", "theorem_4_2_counterexample"]


# ------------------------------------------------------------------------------------------ pure softmax
def softmax_race(scores: Sequence[float] | torch.Tensor, eta: float = 0.1, eps: float = 0.1,
                 alphas0: Sequence[float] | torch.Tensor | None = None,
                 max_steps: int = 1_000_000) -> dict[str, Any]:
    """Gradient descent on ``L(alpha) = sum_i softmax(alpha)_i s_i`` (Hou et al., 2021, Theorems 4.2 and
    4.3 with ``g`` linear, so ``dL/dx_bar . x_i = s_i`` is fixed): ``alpha_i -= eta p_i (s_i - sum_k p_k s_k)``.

    Runs until the best op ``i* = argmin s`` has ``p_i* > 1 - eps`` (float64).

    Returns ``{"steps": t or None, "best": i*, "delta": min_{i != i*} s_i - s_i*, "min_gap_increase": the
    smallest one-step change of any gap alpha_i* - alpha_i (Theorem 4.2 says >= 0), "p_best": (t + 1,)
    trajectory of p_i*}``.
    """
    s = torch.as_tensor(scores, dtype=torch.float64)
    n = len(s)
    best = int(s.argmin())
    alpha = torch.zeros(n, dtype=torch.float64) if alphas0 is None else torch.as_tensor(alphas0, dtype=torch.float64).clone()
    if alpha[best] < alpha.max():
        raise ValueError("Theorems 4.2/4.3 start from alpha_best >= alpha_i for every i")
    others = [i for i in range(n) if i != best]
    delta = (s[others] - s[best]).min().item()
    p_best, min_increase, steps = [], math.inf, None
    for t in range(max_steps + 1):
        p = torch.softmax(alpha, 0)
        p_best.append(p[best].item())
        if p[best] > 1 - eps:
            steps = t
            break
        grad = p * (s - (p * s).sum())
        new = alpha - eta * grad
        gaps_before = alpha[best] - alpha[others]
        gaps_after = new[best] - new[others]
        min_increase = min(min_increase, (gaps_after - gaps_before).min().item())
        alpha = new
    return {"steps": steps, "best": best, "delta": delta, "min_gap_increase": min_increase,
            "p_best": torch.tensor(p_best)}


def theorem_4_3_bound(n: int, eps: float, eta: float, delta: float) -> float:
    """Hou et al. (2021), Eq. 15 as printed: ``t <= n ln((1 - eps) n) / (eta delta)``.

    The printed bound does not hold in general (its last step bounds ``sum_i exp(alpha_i - alpha_i*)`` by
    ``n exp(-gap)``, dropping the ``i = i*`` term, and the gap's growth ``p_i* delta`` per step in Eq. 17
    should be ``p_i* (1 - p_i*) delta``); it grows only like ``ln n`` as ``eps -> 0``, while the real time
    grows like ``1/eps``. See :func:`corrected_race_bound`.
    """
    return n * math.log((1 - eps) * n) / (eta * delta)


def corrected_race_bound(n: int, eps: float, eta: float, delta: float) -> float:
    """A bound that holds for :func:`softmax_race` from equal alphas (gradient flow; the tests check the
    discrete steps): ``t <= (ln((n - 1)(1 - eps) / eps) + n - 1) / (eta delta eps)``.

    Derivation: every gap ``G_i = alpha_i* - alpha_i`` grows at least ``eta delta p*(1 - p*)`` per step (for
    ``s_i >= s_bar`` directly; for ``s_i < s_bar`` because ``p_i <= p*``), ``1 - p* >= eps`` until done and
    ``p* >= 1 / (1 + (n-1) e^-G)``; ``p* > 1 - eps`` once ``G >= ln((n-1)(1-eps)/eps)``; integrate.
    """
    return (math.log((n - 1) * (1 - eps) / eps) + n - 1) / (eta * delta * eps)


def theorem_4_2_counterexample() -> dict[str, float]:
    """Three ops where Theorem 4.2's premises hold for ``(j, i)`` but its conclusion fails.

    ``s = (s_j, s_i, s_k) = (0, 1, -2.75)``, ``p = (0.5, 0.1, 0.4)``: ``s_j < s_i`` and ``alpha_j >= alpha_i``,
    yet ``dL/dalpha_j = p_j (s_j - s_bar) = 0.5 > dL/dalpha_i = 0.2``, so gradient descent *closes* the gap
    between the richer, better ``j`` and ``i``. The appendix proof (C.1) only covers ``j = i*``, the best op
    (there ``s_i* <= s_bar``), which is what :func:`softmax_race` checks.
    """
    s = torch.tensor([0.0, 1.0, -2.75], dtype=torch.float64)
    p = torch.tensor([0.5, 0.1, 0.4], dtype=torch.float64)
    grad = p * (s - (p * s).sum())
    return {"s_j": s[0].item(), "s_i": s[1].item(), "alpha_j": math.log(0.5), "alpha_i": math.log(0.1),
            "grad_j": grad[0].item(), "grad_i": grad[1].item()}
