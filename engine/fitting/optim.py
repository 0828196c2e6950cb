"""The fit's first-order optimiser: L-BFGS in rounds with a relative stopping rule, shared by
both schedules of ``fit.py`` (the Levenberg-Marquardt stages are ``lm.py``/``refine.py``)."""

from __future__ import annotations

from typing import Callable

import torch


def lbfgs(params, closure_loss: Callable[[], torch.Tensor], max_iters: int, rel_tol: float,
          round_iters: int = 15) -> list[float]:
    """L-BFGS (strong Wolfe) in rounds of ``round_iters``; stops when a round improves the
    loss by less than ``rel_tol`` (relative) or after ``max_iters`` iterations. Returns the
    loss before the first round and after each."""
    optimizer = torch.optim.LBFGS(params, lr=1.0, max_iter=round_iters, history_size=20,
                                  line_search_fn="strong_wolfe", tolerance_grad=1e-9, tolerance_change=1e-12)

    def closure():
        optimizer.zero_grad()
        loss = closure_loss()
        loss.backward()
        return loss

    history = []
    with torch.no_grad():
        prev = float(closure_loss())
    history.append(prev)
    done = 0
    while done < max_iters:
        optimizer.step(closure)
        done += round_iters
        with torch.no_grad():
            cur = float(closure_loss())
        history.append(cur)
        if prev - cur <= rel_tol * max(abs(prev), 1e-12):
            break
        prev = cur
    return history
