"""Levenberg-Marquardt. The caller linearises (residuals and their Jacobian at x: the
fitting's robust loss as reweighted least squares, with its analytic Jacobian) and says
the true cost of a candidate, which decides whether a step is taken. L-BFGS crawls where LM converges in a few steps: the shape and the fine pose are
ill-conditioned, and LM's Gauss-Newton model sees their coupling."""

from __future__ import annotations

from typing import Callable

import torch

Linearize = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def levenberg_marquardt(cost: Callable[[torch.Tensor], float], linearize: Linearize, x0: torch.Tensor,
                        iters: int = 8, damping: float = 1e-3, rel_tol: float = 1e-6,
                        ) -> tuple[torch.Tensor, list[float]]:
    """Minimise ``cost`` from ``x0``; ``linearize(x)`` -> (r, J) whose Gauss-Newton model
    ``|r + J dx|^2`` matches the cost's gradient at x. Returns x and the cost history."""
    x = x0.detach().clone()
    current = cost(x)
    history = [current]
    lam = damping
    for _ in range(iters):
        r, J = (t.detach() for t in linearize(x))
        JtJ = J.T @ J
        g = J.T @ r
        diag = JtJ.diagonal().clamp(min=1e-9)
        while True:
            step = torch.linalg.solve(JtJ + lam * torch.diag(diag), -g)
            x_new = x + step
            new = cost(x_new)
            if new < current:
                lam = max(lam / 3, 1e-9)
                break
            lam *= 4
            if lam > 1e8:
                return x, history
        improvement = current - new
        x, current = x_new, new
        history.append(current)
        if improvement <= rel_tol * max(history[-2], 1e-12):
            break
    return x, history


