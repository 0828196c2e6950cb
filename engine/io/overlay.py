"""Pictures of a fit: the fitted body's parts drawn into each view, beside the input proxy.

A small z-buffered triangle rasteriser in numpy (pixel centres at integer coordinates, the
OpenCV convention of ``engine.geometry.camera``), so that drawing a fit needs neither a GPU
nor a ray-casting backend.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from engine.proxy.parts import PALETTE

NEAR_M = 1e-3
MAX_SAMPLES = 1 << 22  # (face, pixel) candidates per chunk: bounds the memory of one step


def rasterize_faces(vertices_world: np.ndarray, faces: np.ndarray, K: np.ndarray, R_cam_world: np.ndarray,
                    t_cam_world: np.ndarray, width: int, height: int) -> np.ndarray:
    """(H, W) int index of the nearest face covering each pixel centre, -1 where none.

    Faces with a vertex behind the near plane are skipped (not clipped)."""
    cam = vertices_world @ R_cam_world.T + t_cam_world
    z = cam[:, 2]
    xy = (cam @ K.T)[:, :2] / np.where(z > NEAR_M, z, 1.0)[:, None]
    faces = np.asarray(faces, dtype=np.int64)
    tri, tz = xy[faces], z[faces]  # (F, 3, 2), (F, 3)
    lo = np.ceil(tri.min(axis=1)).astype(np.int64)
    hi = np.floor(tri.max(axis=1)).astype(np.int64)
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, [width - 1, height - 1])
    keep = (tz > NEAR_M).all(axis=1) & (hi >= lo).all(axis=1)
    index = np.flatnonzero(keep)
    size = (hi - lo + 1)[index].max(axis=1) if len(index) else np.zeros(0, np.int64)
    best_z = np.full(width * height, np.inf)
    best_f = np.full(width * height, -1, dtype=np.int64)
    # faces grouped by the power of two that holds their bounding box, so each group enumerates
    # a fixed s x s window; chunks keep every step under MAX_SAMPLES candidates
    bucket = np.ceil(np.log2(np.maximum(size, 1))).astype(np.int64)
    for b in np.unique(bucket):
        s = 1 << int(b)
        group = index[bucket == b]
        oy, ox = np.divmod(np.arange(s * s), s)
        for start in range(0, len(group), max(1, MAX_SAMPLES // (s * s))):
            f = group[start:start + max(1, MAX_SAMPLES // (s * s))]
            px = lo[f, 0, None] + ox[None]
            py = lo[f, 1, None] + oy[None]
            inside, depth = _barycentric_depth(tri[f], tz[f], px, py)
            inside &= (px <= hi[f, 0, None]) & (py <= hi[f, 1, None])
            fi, si = np.nonzero(inside)
            pix = py[fi, si] * width + px[fi, si]
            d = depth[fi, si]
            order = np.lexsort((d, pix))  # by pixel, nearest first
            pix, d, face = pix[order], d[order], f[fi[order]]
            first = np.ones(len(pix), dtype=bool)
            first[1:] = pix[1:] != pix[:-1]
            pix, d, face = pix[first], d[first], face[first]
            closer = d < best_z[pix]
            best_z[pix[closer]] = d[closer]
            best_f[pix[closer]] = face[closer]
    return best_f.reshape(height, width)


def _barycentric_depth(tri: np.ndarray, tz: np.ndarray, px: np.ndarray, py: np.ndarray):
    """Pixel centres (F, S) against triangles (F, 3, 2): inside mask and perspective-correct depth."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    area = np.where(np.abs(area) < 1e-12, np.nan, area)[:, None]
    w0 = ((b[:, 0, None] - px) * (c[:, 1, None] - py) - (b[:, 1, None] - py) * (c[:, 0, None] - px)) / area
    w1 = ((c[:, 0, None] - px) * (a[:, 1, None] - py) - (c[:, 1, None] - py) * (a[:, 0, None] - px)) / area
    w2 = 1 - w0 - w1
    eps = -1e-9
    inside = (w0 >= eps) & (w1 >= eps) & (w2 >= eps)
    inv_z = w0 / tz[:, 0, None] + w1 / tz[:, 1, None] + w2 / tz[:, 2, None]
    return inside, 1.0 / np.where(inside, inv_z, 1.0)


def part_image(face_index: np.ndarray, face_part: np.ndarray) -> np.ndarray:
    """(H, W) face index (-1: none) -> (H, W) part ids (0: background)."""
    return np.where(face_index >= 0, np.asarray(face_part)[np.maximum(face_index, 0)], 0)


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
