"""``diffproxy preview``: a contact sheet per scene. One column per view; rows: the RGB
render, the part segmentation (palette), the UV proxy (u red, v green) and the RGB with the
projected ground-truth skeleton (green visible, orange hidden) and the occluded share."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from engine.errors import InputError
from engine.io.files import atomic_path
from engine.io.scene import read_scene, scene_folders
from engine.proxy.parts import seg_to_rgb

# Bones between the 33 named keypoints (engine.body.base.KEYPOINT_NAMES).
SKELETON = [(0, 1), (0, 2), (1, 3), (2, 4), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10), (5, 11), (6, 12),
            (11, 12), (11, 13), (13, 15), (12, 14), (14, 16), (15, 17), (15, 19), (15, 21), (16, 18),
            (16, 20), (16, 22)] + [(9, k) for k in range(23, 28)] + [(10, k) for k in range(28, 33)]
VIS_COLOR = {1: (255, 140, 0), 2: (40, 230, 60)}
ROWS = ("rgb", "seg", "uv", "skeleton")


def uv_image(seg: np.ndarray, uv: np.ndarray) -> np.ndarray:
    img = np.zeros((*seg.shape, 3), np.uint8)
    fg = seg > 0
    img[fg, 0] = np.clip(uv[fg, 0] * 255, 0, 255)
    img[fg, 1] = np.clip(uv[fg, 1] * 255, 0, 255)
    img[fg, 2] = 96
    return img


def skeleton_image(rgb: np.ndarray, kp2d: np.ndarray, vis: np.ndarray) -> Image.Image:
    img = Image.fromarray(rgb).convert("RGB")
    draw = ImageDraw.Draw(img)
    r = max(1.5, rgb.shape[0] / 160)
    for a, b in SKELETON:
        if vis[a] and vis[b]:
            color = VIS_COLOR[2] if vis[a] == 2 and vis[b] == 2 else VIS_COLOR[1]
            draw.line([tuple(kp2d[a]), tuple(kp2d[b])], fill=color, width=max(1, int(r)))
    for (x, y), v in zip(kp2d, vis):
        if v:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=VIS_COLOR[int(v)])
    return img


def scene_sheet(folder: Path) -> Image.Image:
    scene = read_scene(folder)
    p, gt = scene.proxies, scene.gt
    tiles = []
    for v in range(scene.num_views):
        rgb = np.asarray(Image.open(scene.image_path(v)).convert("RGB"))
        skel = skeleton_image(rgb, gt["keypoints_2d"][v], gt["keypoints_visibility"][v])
        ImageDraw.Draw(skel).text((3, 2), f"v{v} occ {scene.record['views'][v]['occluded_fraction']:.0%}",
                                  fill=(255, 255, 255))
        tiles.append([Image.fromarray(rgb), Image.fromarray(seg_to_rgb(p["seg"][v])),
                      Image.fromarray(uv_image(p["seg"][v], p["uv"][v])), skel])
    w = max(t[0].width for t in tiles)
    h = max(t[0].height for t in tiles)
    header = 14
    sheet = Image.new("RGB", (w * len(tiles), header + h * len(ROWS)), (24, 24, 24))
    body = scene.record["body"]
    title = (f"{folder.name}  {body.get('model')} {body.get('family', '')}  "
             f"light {_light_name(scene.record['lighting'])}  "
             f"occluders {len(scene.record['occluders'])}")
    ImageDraw.Draw(sheet).text((4, 1), title, fill=(230, 230, 230))
    for c, column in enumerate(tiles):
        for r, tile in enumerate(column):
            sheet.paste(tile, (c * w, header + r * h))
    return sheet


def _light_name(spec: dict) -> str:
    if spec.get("source") == "hdri":
        return spec["hdri"]["id"]
    return str(spec.get("source", "?"))


def write_previews(source: Path, out: Path | None, max_scenes: int = 4) -> list[Path]:
    if max_scenes < 1:
        raise InputError(f"--max-scenes: must be >= 1, got {max_scenes}")
    folders = scene_folders(source)[:max_scenes]
    if not folders:
        raise InputError(f"{source}: no scene_* folders to preview")
    written = []
    for folder in folders:
        if out is None:
            path = folder / "preview.png" if len(folders) == 1 and folder == Path(source) else \
                Path(source) / "previews" / f"{folder.name}.png"
        elif out.suffix == ".png" and len(folders) == 1:
            path = out
        else:
            path = out / f"{folder.name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            scene_sheet(folder).save(tmp, format="PNG")
        written.append(path)
    return written
