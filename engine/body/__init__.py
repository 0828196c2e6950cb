"""Body models behind one protocol (``BodyModel``): Anny by default, SMPL-X from the user's file."""

from __future__ import annotations

import torch

from engine.body.base import KEYPOINT_NAMES, BodyModel, BodyOutput, BodyParams, rotation_matrices
from engine.errors import InputError

BODY_MODELS = ("anny", "smplx")


def load_body_model(name: str = "anny", *, smplx_model=None, dtype: torch.dtype = torch.float32,
                    device: torch.device | str = "cpu") -> BodyModel:
    """Build a body model by name. ``smplx_model``: path of the user's SMPL-X .npz file."""
    if name == "anny":
        from engine.body.anny_body import AnnyBody

        return AnnyBody(dtype=dtype, device=device)
    if name == "smplx":
        from engine.body.smplx_body import SMPLXBody

        return SMPLXBody(smplx_model, dtype=dtype, device=device)
    raise InputError(f"body model: unknown name '{name}', expected one of {BODY_MODELS}")


__all__ = ["BODY_MODELS", "KEYPOINT_NAMES", "BodyModel", "BodyOutput", "BodyParams", "load_body_model",
           "rotation_matrices"]
