"""Compare a calibration with a reference one (e.g. what `diffproxy calibrate` found against the
capture's Calib.toml): focal lengths, then the camera centres (cm) and orientations (degrees)
after the similarity (scale, rotation, translation) that best maps the found centres onto the
reference's (Umeyama), and that similarity's scale (the metric scale error).

    .venv/bin/python scripts/compare_calibrations.py FOUND.toml REFERENCE.toml [--json] [--picture PNG]

``--picture``: both sets of cameras from above in the reference's frame (the found ones moved
by that similarity), the reference's hollow, the found filled, each with its viewing direction.
"""

import json
import sys

import numpy as np

from engine.io.calibration import read_calibration


def umeyama(X: np.ndarray, Y: np.ndarray):
    """s, R, t minimising |s R X + t - Y|^2 (roma's least-squares similarity)."""
    import roma
    import torch

    R, t, s = roma.rigid_points_registration(torch.as_tensor(X), torch.as_tensor(Y), compute_scaling=True)
    return float(s), R.numpy(), t.numpy()


def compare(found, reference) -> dict:
    names = [c for c in reference.names() if c in found.names()]
    cams = [found[c] for c in names]
    refs = [reference[c].scaled(found[c].width, found[c].height) for c in names]
    C = np.stack([c.center_world for c in cams])
    C_ref = np.stack([c.center_world for c in refs])
    s, R, t = umeyama(C, C_ref)
    out = {"cameras": {}, "scale_found_over_true": float(1 / s)}
    for name, c, r, centre, centre_ref in zip(names, cams, refs, C, C_ref):
        d = (c.R_cam_world @ R.T) @ r.R_cam_world.T
        angle = np.degrees(np.arccos(np.clip((np.trace(d) - 1) / 2, -1, 1)))
        out["cameras"][name] = {
            "focal_found": float(c.K[0, 0]), "focal_reference": float(r.K[0, 0]),
            "focal_error_pct": float(100 * (c.K[0, 0] / r.K[0, 0] - 1)),
            "centre_error_cm": float(100 * np.linalg.norm(s * R @ centre + t - centre_ref)),
            "orientation_error_deg": float(angle)}
    up = R @ np.array([0.0, 0.0, 1.0])
    out["up_error_deg"] = float(np.degrees(np.arccos(np.clip(up[2], -1, 1))))
    out["similarity"] = (s, R, t)
    return out


def picture(path, found, reference, similarity) -> None:
    from PIL import Image, ImageDraw

    s, A, b = similarity
    size, margin = 600, 60
    names = [c for c in reference.names() if c in found.names()]
    ref = {n: (reference[n].center_world, reference[n].R_cam_world[2]) for n in names}
    got = {n: (s * A @ found[n].center_world + b, A @ found[n].R_cam_world[2]) for n in names}
    xy = np.array([c[:2] for c, _ in list(ref.values()) + list(got.values())] + [[0.0, 0.0]])
    lo, span = xy.min(0) - 0.5, float(max(np.ptp(xy, 0))) + 1.0
    px = lambda p: (margin / 2 + (p[0] - lo[0]) / span * (size - margin),  # noqa: E731
                    size - margin / 2 - (p[1] - lo[1]) / span * (size - margin))
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    for n in names:
        for (c, z), filled in ((ref[n], False), (got[n], True)):
            p, q = px(c), px(c[:2] + 0.6 * z[:2] / max(np.linalg.norm(z[:2]), 1e-9))
            draw.line([p, q], fill=(0, 0, 0) if filled else (160, 160, 160), width=2)
            box = [p[0] - 6, p[1] - 6, p[0] + 6, p[1] + 6]
            draw.ellipse(box, fill=(220, 60, 40) if filled else None, outline=(0, 0, 0))
        draw.text((px(ref[n][0])[0] + 9, px(ref[n][0])[1] - 6), n, fill=(0, 0, 0))
    o = px((0.0, 0.0))
    draw.text((o[0] - 3, o[1] - 6), "+", fill=(0, 0, 0))
    draw.text((8, 8), "from above, reference frame: hollow = reference, filled = found (aligned)", fill=(0, 0, 0))
    image.save(path)


if __name__ == "__main__":
    found, reference = read_calibration(sys.argv[1]), read_calibration(sys.argv[2])
    result = compare(found, reference)
    if "--picture" in sys.argv:
        picture(sys.argv[sys.argv.index("--picture") + 1], found, reference, result["similarity"])
    del result["similarity"]
    if "--json" in sys.argv:
        print(json.dumps(result))
    else:
        print("camera  focal found  reference  error %  centre cm  orientation deg")
        for name, r in result["cameras"].items():
            print(f"{name:<7} {r['focal_found']:11.1f} {r['focal_reference']:10.1f} {r['focal_error_pct']:8.2f} "
                  f"{r['centre_error_cm']:10.1f} {r['orientation_error_deg']:16.2f}")
        print(f"metric scale: found / true = {result['scale_found_over_true']:.4f} "
              f"({100 * (result['scale_found_over_true'] - 1):+.1f}%); up axis off by {result['up_error_deg']:.2f} deg")
