"""``cameras_top.png``: the calibrated cameras and the person's path seen from above (a 1 m grid,
X right, Y up the page), and each camera's reprojection error beside it. PIL only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIZE = 640           # the map's side, pixels
PANEL = 260          # the table's width
COLOURS = ((230, 80, 60), (60, 140, 230), (60, 170, 90), (200, 150, 30), (150, 80, 200), (40, 170, 170),
           (220, 90, 170), (120, 120, 120))


def draw_top_view(path: Path, calibration, person_path: np.ndarray, report: dict) -> None:
    from PIL import Image, ImageDraw

    from engine.atomic import atomic_path

    centres = np.stack([c.center_world for c in calibration.cameras])
    xy = np.concatenate([centres[:, :2], person_path[:, :2], np.zeros((1, 2))])
    lo, hi = xy.min(0) - 0.6, xy.max(0) + 0.6
    span = float(max(hi - lo))
    mid = (lo + hi) / 2
    to_px = lambda p: ((p[0] - mid[0]) / span * (SIZE - 40) + SIZE / 2,  # noqa: E731
                       SIZE / 2 - (p[1] - mid[1]) / span * (SIZE - 40))
    image = Image.new("RGB", (SIZE + PANEL, SIZE), "white")
    draw = ImageDraw.Draw(image)
    for g in range(int(np.floor(mid.min() - span)), int(np.ceil(mid.max() + span)) + 1):  # 1 m grid
        for a, b in (((g, -100), (g, 100)), ((-100, g), (100, g))):
            draw.line([to_px(a), to_px(b)], fill=(225, 225, 225))
    draw.line([to_px((0, 0)), to_px((0.5, 0))], fill=(200, 0, 0), width=2)
    draw.line([to_px((0, 0)), to_px((0, 0.5))], fill=(0, 150, 0), width=2)
    if len(person_path) > 1:
        draw.line([to_px(p) for p in person_path[:, :2]], fill=(40, 40, 40), width=2)
    start = to_px((0, 0))
    draw.ellipse([start[0] - 4, start[1] - 4, start[0] + 4, start[1] + 4], outline=(0, 0, 0))
    for i, cam in enumerate(calibration.cameras):
        colour = COLOURS[i % len(COLOURS)]
        c = cam.center_world
        half = np.arctan2(cam.width / 2, cam.K[0, 0])  # the horizontal half-angle of the view
        rays = [cam.R_cam_world.T @ np.array([np.tan(s * half), 0.0, 1.0]) for s in (-1, 1)]
        tips = [c[:2] + 0.5 * span * r[:2] / max(np.linalg.norm(r[:2]), 1e-6) / 4 for r in rays]
        draw.polygon([to_px(c), to_px(tips[0]), to_px(tips[1])], outline=colour)
        px = to_px(c)
        draw.ellipse([px[0] - 5, px[1] - 5, px[0] + 5, px[1] + 5], fill=colour)
        draw.text((px[0] + 7, px[1] - 7), f"{cam.name} ({c[2]:.2f} m up)", fill=colour)
    draw.text((8, 8), "from above, 1 m grid; X red, Y green; the person's hips, path from o", fill=(0, 0, 0))
    x0 = SIZE + 10
    draw.text((x0, 10), "reprojection (px)", fill=(0, 0, 0))
    draw.text((x0, 26), "camera    RMS  median  focal", fill=(0, 0, 0))
    for i, (name, r) in enumerate(report["cameras"].items()):
        colour = COLOURS[i % len(COLOURS)]
        draw.text((x0, 44 + 16 * i), f"{name:<8} {r['reprojection_rms_px']:5.1f} {r['reprojection_median_px']:6.1f}  "
                                      f"{r['focal_px']:.0f}", fill=colour)
        bar = min(r["reprojection_rms_px"], 30.0) / 30.0 * (PANEL - 30)
        y = 44 + 16 * len(report["cameras"]) + 20 + 14 * i
        draw.rectangle([x0, y, x0 + bar, y + 10], fill=colour)
    for j, name in enumerate(report.get("not_placed", [])):
        draw.text((x0, SIZE - 40 - 16 * j), f"{name}: not placed", fill=(200, 0, 0))
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
