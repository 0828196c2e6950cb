"""Pictures of a fit: the fitted body's parts (cast by ``engine.proxy.raycast``, the same
renderer that makes the synthetic proxies) drawn into each view, beside the input proxy."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from engine.proxy.parts import PALETTE

def overlay_sheet(input_seg: np.ndarray, fitted_seg: np.ndarray, images: list[np.ndarray] | None,
                  labels: list[str] | None = None, alpha: float = 0.6) -> Image.Image:
    """One row per view: the input proxy seg (palette) | the fitted parts blended over the
    RGB image (over a grey copy of the input seg when there is no image)."""
    n, h, w = input_seg.shape
    sheet = Image.new("RGB", (2 * w, n * h))
    draw = ImageDraw.Draw(sheet)
    for v in range(n):
        seg_rgb = PALETTE[input_seg[v]]
        if images is not None:
            base = np.asarray(Image.fromarray(_rgb8(images[v])).resize((w, h)), dtype=np.float32)
        else:
            base = np.repeat(seg_rgb.astype(np.float32).mean(axis=-1, keepdims=True), 3, axis=-1) * 0.5
        fit = fitted_seg[v] > 0
        blended = base.copy()
        blended[fit] = (1 - alpha) * base[fit] + alpha * PALETTE[fitted_seg[v]][fit]
        sheet.paste(Image.fromarray(seg_rgb), (0, v * h))
        sheet.paste(Image.fromarray(blended.clip(0, 255).astype(np.uint8)), (w, v * h))
        text = f"view {v}" + (f"  {labels[v]}" if labels else "")
        draw.text((3, v * h + 2), text, fill=(255, 255, 255))
    return sheet


def _rgb8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    image = image[..., :3]
    if image.dtype != np.uint8:
        image = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    return image
