"""The dense proxy: part ids + UV per pixel, and the way back to points on the body."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.body import BodyModel, load_body_model

from engine.proxy.lookup import LookupResult, UVLookup, surface_points, uv_of_surface_points
from engine.proxy.part_table import PartTable, build_part_table
from engine.proxy.parts import NUM_PARTS, PALETTE, PART_ID, PART_NAMES, rgb_to_seg, seg_to_rgb
from engine.proxy.uncertainty import AggregatedProxy, aggregate_samples


@dataclass
class BodyProxy:
    """What the proxies of one body model need: its part table and its UV lookup."""

    part_table: PartTable
    lookup: UVLookup

    @classmethod
    def for_body(cls, body, grid: int = 512) -> "BodyProxy":
        table = build_part_table(body)
        return cls(part_table=table, lookup=UVLookup.for_body(body, table.face_part, grid=grid))


class BodyCache:
    """Body models and their proxies, built once per model name (``get(name)`` -> (body, proxy))."""

    def __init__(self, smplx_model: str | None = None, dtype: torch.dtype = torch.float32):
        self.smplx_model, self.dtype, self.cache = smplx_model, dtype, {}

    def get(self, name: str) -> tuple[BodyModel, BodyProxy]:
        if name not in self.cache:
            body = load_body_model(name, smplx_model=self.smplx_model if name == "smplx" else None, dtype=self.dtype)
            self.cache[name] = (body, BodyProxy.for_body(body))
        return self.cache[name]


__all__ = ["AggregatedProxy", "BodyCache", "aggregate_samples", "NUM_PARTS", "PALETTE", "PART_ID", "PART_NAMES", "BodyProxy", "LookupResult", "PartTable",
           "UVLookup", "build_part_table", "rgb_to_seg", "seg_to_rgb", "surface_points", "uv_of_surface_points"]
