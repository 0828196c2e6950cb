"""Error against the number of views, as a PNG: matplotlib when installed, else a plain PIL chart.
Both axes are logarithmic: one view is ~100x worse than eight, and the 4- vs 8-view gap
must stay visible."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from engine.io.files import atomic_path

SERIES = {"mpvpe_mm": ("MPVPE", (31, 119, 180)), "pa_mpvpe_mm": ("PA-MPVPE", (255, 127, 14)),
          "keypoint_mpjpe_mm": ("MPJPE", (44, 160, 44)), "keypoint_pa_mpjpe_mm": ("PA-MPJPE", (214, 39, 40))}


def plot_error_vs_views(summaries: list[dict], path: Path, title: str = "") -> Path:
    """One point per summary (its ``views`` and the 4 errors in mm), written to ``path``."""
    summaries = sorted(summaries, key=lambda s: s["views"])
    views = [s["views"] for s in summaries]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        _pil_chart(views, summaries, path, title)
        return path
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
    for key, (label, color) in SERIES.items():
        ax.plot(views, [s[key] for s in summaries], "o-", label=label, color=np.array(color) / 255)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set(xlabel="views", ylabel="error (mm)", title=title, xticks=views, xticklabels=[str(v) for v in views])
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def _pil_chart(views: list[int], summaries: list[dict], path: Path, title: str,
               size: tuple[int, int] = (600, 400), margin: tuple[int, int, int, int] = (60, 30, 20, 50)) -> None:
    w, h = size
    left, top, right, bottom = margin
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    values = [s[k] for s in summaries for k in SERIES if np.isfinite(s[k]) and s[k] > 0]
    lo = 10.0 ** np.floor(np.log10(min(values, default=1.0)))
    hi = 10.0 ** np.ceil(np.log10(max(values, default=10.0)))
    hi = hi * 10 if hi <= lo else hi
    x_lo, x_hi = np.log2(min(views)), np.log2(max(views))

    def at(x: float, y: float) -> tuple[float, float]:
        fx = 0.5 if x_hi == x_lo else (np.log2(x) - x_lo) / (x_hi - x_lo)
        fy = (np.log10(max(y, lo)) - np.log10(lo)) / (np.log10(hi) - np.log10(lo))
        return left + fx * (w - left - right), h - bottom - fy * (h - top - bottom)

    draw.rectangle([left, top, w - right, h - bottom], outline="black")
    decade = lo
    while decade < hi * 1.001:  # horizontal grid at 1, 2, 5 x 10^k, labels at each decade
        for m in (1, 2, 5):
            y = decade * m
            if y <= hi * 1.001:
                _, py = at(min(views), y)
                draw.line([left, py, w - right, py], fill=(200, 200, 200) if m == 1 else (235, 235, 235))
                draw.text((5, py - 6), f"{y:g}", fill="black")
        decade *= 10
    for v in views:
        px, _ = at(v, lo)
        draw.text((px - 4, h - bottom + 5), str(v), fill="black")
    draw.text((w // 2 - 20, h - 20), "views", fill="black")
    draw.text((5, 8), f"error (mm)  {title}", fill="black")
    for row, (key, (label, color)) in enumerate(SERIES.items()):
        points = [at(v, s[key]) for v, s in zip(views, summaries) if np.isfinite(s[key])]
        if len(points) > 1:
            draw.line(points, fill=color, width=2)
        for px, py in points:
            draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=color)
        draw.line([w - right - 110, top + 12 + 14 * row, w - right - 90, top + 12 + 14 * row], fill=color, width=2)
        draw.text((w - right - 85, top + 6 + 14 * row), label, fill="black")
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")

