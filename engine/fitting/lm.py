"""Levenberg-Marquardt on a stacked residual vector, with the Jacobian by forward-mode
autodiff (``torch.func.jacfwd``: one batched body forward per iteration instead of one
backward per residual). L-BFGS gets the body near its pixels cheaply; a few LM steps then
converge where L-BFGS crawls (the shape and the fine pose are ill-conditioned)."""

from __future__ import annotations

from typing import Callable

import torch
from torch.func import jacfwd


def levenberg_marquardt(residuals: Callable[[torch.Tensor], torch.Tensor], x0: torch.Tensor, iters: int = 8,
                        damping: float = 1e-3, rel_tol: float = 1e-6) -> tuple[torch.Tensor, list[float]]:
    """Minimise ``|residuals(x)|^2`` from ``x0``; returns x and the cost history."""
    x = x0.detach().clone()
    r = residuals(x).detach()
    cost = float(r.square().sum())
    history = [cost]
    lam = damping
    for _ in range(iters):
        J = jacfwd(residuals)(x).detach()
        JtJ = J.T @ J
        g = J.T @ r
        diag = JtJ.diagonal().clamp(min=1e-9)
        while True:
            A = JtJ + lam * torch.diag(diag)
            step = torch.linalg.solve(A, -g)
            x_new = x + step
            r_new = residuals(x_new).detach()
            new_cost = float(r_new.square().sum())
            if new_cost < cost:
                lam = max(lam / 3, 1e-9)
                break
            lam *= 4
            if lam > 1e8:
                return x, history
        improvement = cost - new_cost
        x, r, cost = x_new, r_new, new_cost
        history.append(cost)
        if improvement <= rel_tol * max(history[-2], 1e-12):
            break
    return x, history
