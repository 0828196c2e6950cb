"""Error against the number of views, as a PNG: matplotlib when installed, else a plain PIL chart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SERIES = {"mpvpe_mm": ("MPVPE", (31, 119, 180)), "pa_mpvpe_mm": ("PA-MPVPE", (255, 127, 14)),
          "mpjpe_mm": ("MPJPE", (44, 160, 44)), "pa_mpjpe_mm": ("PA-MPJPE", (214, 39, 40))}


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
    ax.set(xlabel="views", ylabel="error (mm)", title=title, xticks=views)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _pil_chart(views: list[int], summaries: list[dict], path: Path, title: str,
               size: tuple[int, int] = (600, 400), margin: tuple[int, int, int, int] = (60, 30, 20, 50)) -> None:
    w, h = size
    left, top, right, bottom = margin
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    values = [s[k] for s in summaries for k in SERIES if np.isfinite(s[k])]
    y_max = _nice(max(values, default=1.0))
    x_lo, x_hi = min(views), max(views)

    def at(x: float, y: float) -> tuple[float, float]:
        fx = 0.5 if x_hi == x_lo else (x - x_lo) / (x_hi - x_lo)
        return left + fx * (w - left - right), h - bottom - y / y_max * (h - top - bottom)

    draw.rectangle([left, top, w - right, h - bottom], outline="black")
    for i in range(6):  # horizontal grid and y labels
        y = y_max * i / 5
        _, py = at(x_lo, y)
        draw.line([left, py, w - right, py], fill=(225, 225, 225))
        draw.text((5, py - 6), f"{y:.3g}", fill="black")
    for v in views:
        px, _ = at(v, 0)
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
    img.save(path)


def _nice(x: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above x."""
    if not np.isfinite(x) or x <= 0:
        return 1.0
    p = 10 ** np.floor(np.log10(x))
    return float(next(m * p for m in (1, 2, 5, 10) if m * p >= x))
