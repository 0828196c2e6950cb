"""The landmark table of a body model: for each detector landmark (MediaPipe's 33 body
points, then 21 per hand, person's left hand first), ``k`` vertex ids and non-negative
weights summing to 1, so that the landmark of a posed body is ``weights @ vertices[ids]``:
differentiable, and skinned with the mesh. A landmark that lies inside the body (a hip, a
knuckle) is a combination of surface vertices around it.

Stored as ``engine/landmarks/data/<body>.npz`` (numpy only): ``names`` (L,), ``vertex_ids``
(L, k) int32, ``weights`` (L, k) float64, ``residual_px`` (L,) the median reprojection error
of the fit that made the entry (NaN: not measured), ``observations`` (L,) how many
detections it was fitted on, ``source`` (L,) how it was made ("detections" or "joints").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.io.files import atomic_write_npz

DATA = Path(__file__).parent / "data"


@dataclass
class LandmarkTable:
    body: str
    names: tuple[str, ...]
    vertex_ids: np.ndarray
    weights: np.ndarray
    residual_px: np.ndarray
    observations: np.ndarray
    source: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.names)

    def index(self, names) -> list[int]:
        return [self.names.index(n) for n in names]

    def positions(self, vertices):
        """vertices (..., V, 3), numpy or torch -> landmarks (..., L, 3)."""
        if isinstance(vertices, np.ndarray):
            return np.einsum("lk,...lkd->...ld", self.weights, vertices[..., self.vertex_ids, :])
        import torch

        ids = torch.as_tensor(self.vertex_ids, device=vertices.device, dtype=torch.long)
        w = torch.as_tensor(self.weights, device=vertices.device, dtype=vertices.dtype)
        return torch.einsum("lk,...lkd->...ld", w, vertices[..., ids, :])

    def save(self, path: Path) -> None:
        atomic_write_npz(path, compressed=False, body=self.body, names=np.array(self.names),
                         vertex_ids=self.vertex_ids.astype(np.int32), weights=self.weights,
                         residual_px=self.residual_px, observations=self.observations, source=np.array(self.source))


def load_landmark_table(body: str, path: Path | None = None, num_vertices: int | None = None) -> LandmarkTable:
    """The table of body model ``body`` (the shipped one, or ``path``); checks it against
    the model's vertex count when given."""
    path = Path(path) if path is not None else DATA / f"{body}.npz"
    if not path.exists():
        raise InputError(f"{path}: no landmark table for body model {body!r}; make one with "
                         f"`diffproxy landmarks DATASET --body {body} --out {path}`")
    try:
        with np.load(path, allow_pickle=False) as z:
            table = LandmarkTable(str(z["body"]), tuple(str(n) for n in z["names"]), z["vertex_ids"].astype(np.int64),
                                  z["weights"].astype(np.float64), z["residual_px"].astype(np.float64),
                                  z["observations"].astype(np.int64), tuple(str(s) for s in z["source"]))
    except (OSError, KeyError, ValueError) as e:
        raise InputError(f"{path}: unreadable landmark table ({e})") from None
    if table.body != body:
        raise InputError(f"{path}: field 'body' is {table.body!r}, expected {body!r}")
    if table.vertex_ids.shape != table.weights.shape or len(table.names) != len(table.weights):
        raise InputError(f"{path}: fields 'vertex_ids' {table.vertex_ids.shape}, 'weights' {table.weights.shape} "
                         f"and 'names' ({len(table.names)}) disagree")
    if num_vertices is not None and table.vertex_ids.max() >= num_vertices:
        raise InputError(f"{path}: vertex ids up to {table.vertex_ids.max()}, the {body} model has {num_vertices}")
    return table
