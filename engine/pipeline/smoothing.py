"""Temporal filtering of a fitted sequence's parameters.

Rotations are filtered as rotations: each joint's unit quaternions are put in one hemisphere
(q and -q are one rotation: each frame's sign is chosen closest to the previous frame's),
averaged with Gaussian weights over neighbouring frames and renormalised; the normalised
weighted sum is the chordal L2 mean of rotations (Markley et al. 2007's approximation for
nearby rotations; exact to second order in their spread). Translation, scale and shape are
Gaussian-filtered directly. sigma is in frames; the window is +-3 sigma, cut at the ends.
"""

from __future__ import annotations

import numpy as np
import roma
import torch


def gaussian_weights(frames, sigma: float) -> np.ndarray:
    """(T, T) row-normalised weights of each frame's neighbours; ``frames`` are the frame
    numbers (a range with a step is filtered by the frames' real distance)."""
    t = np.asarray(frames, dtype=np.float64)
    w = np.exp(-0.5 * ((t[:, None] - t[None]) / sigma) ** 2)
    w[np.abs(t[:, None] - t[None]) > 3 * sigma] = 0
    return w / w.sum(1, keepdims=True)


def smooth_rotvecs(rotvec: torch.Tensor, frames, sigma: float) -> torch.Tensor:
    """(T, ..., 3) axis-angle of the frame numbers ``frames`` -> (T, ..., 3), filtered over T."""
    if sigma <= 0 or rotvec.shape[0] < 2:
        return rotvec
    q = roma.rotvec_to_unitquat(rotvec.double())  # (T, ..., 4)
    for t in range(1, q.shape[0]):  # one hemisphere, frame to frame
        flip = (q[t] * q[t - 1]).sum(-1, keepdim=True) < 0
        q[t] = torch.where(flip, -q[t], q[t])
    W = torch.as_tensor(gaussian_weights(frames, sigma))
    mean = torch.einsum("st,t...->s...", W, q)
    mean = mean / mean.norm(dim=-1, keepdim=True)
    return roma.unitquat_to_rotvec(mean).to(rotvec.dtype)


def smooth_linear(x: torch.Tensor, frames, sigma: float) -> torch.Tensor:
    if sigma <= 0 or x.shape[0] < 2:
        return x
    W = torch.as_tensor(gaussian_weights(frames, sigma), dtype=x.dtype)
    return torch.einsum("st,t...->s...", W, x)


def interpolate_rotvecs(rotvec: torch.Tensor, known, wanted) -> torch.Tensor:
    """(K, ..., 3) axis-angle at the frame numbers ``known`` (increasing) -> (W, ..., 3) at
    ``wanted``: slerp between the nearest known frames on either side, the nearest one beyond
    the ends."""
    return _interpolate(rotvec, known, wanted,
                        lambda a, b, t: roma.rotvec_slerp(a.double(), b.double(), torch.tensor([t]))[0].to(a.dtype))


def interpolate_linear(x: torch.Tensor, known, wanted) -> torch.Tensor:
    return _interpolate(x, known, wanted, lambda a, b, t: (1 - t) * a + t * b)


def _interpolate(x: torch.Tensor, known, wanted, mix) -> torch.Tensor:
    known = list(known)
    out = []
    for f in wanted:
        if f in known:
            out.append(x[known.index(f)])
            continue
        after = next((i for i, k in enumerate(known) if k > f), None)
        before = after - 1 if after is not None else len(known) - 1
        if after is None or before < 0:
            out.append(x[after if before < 0 else before])
            continue
        t = (f - known[before]) / (known[after] - known[before])
        out.append(mix(x[before], x[after], t))
    return torch.stack(out)
