"""Learn a landmark table from a rendered dataset: detect on every view (cached per scene),
gather the known bodies and cameras, solve (``learn.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.errors import InputError
from engine.io.files import atomic_write_npz, read_rgb
from engine.io.scene import read_scene, scene_folders
from engine.landmarks.learn import hand_targets, learn_detected, learn_from_joints, make_table
from engine.landmarks.table import LandmarkTable
from engine.step_progress import Progress, no_progress


def scene_detections(scene, detector, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe body landmarks of every view of ``scene``: xy (n, 33, 2), score (n, 33)
    (NaN / 0 where no person was found), cached in ``cache``/<scene>.npz."""
    path = Path(cache) / f"{scene.folder.name}.npz"
    if path.exists():
        with np.load(path) as z:
            return z["xy"], z["score"]
    xy = np.full((scene.num_views, 33, 2), np.nan)
    score = np.zeros((scene.num_views, 33))
    for v in range(scene.num_views):
        det = detector(read_rgb(scene.image_path(v)))
        if det is not None:
            xy[v], score[v] = det.body_xy, det.body_score
    atomic_write_npz(path, compressed=False, xy=xy, score=score)
    return xy, score


def learn_table(dataset: Path, body, detector, cache: Path, scenes: list[Path] | None = None,
                progress: Progress = no_progress) -> LandmarkTable:
    """The landmark table of ``body`` from the scenes of ``dataset`` rendered with it;
    ``progress("landmarks", scenes detected, scenes)`` as it goes."""
    from engine.detect.types import BODY_LANDMARKS, HAND_LANDMARKS

    folders = scenes if scenes is not None else scene_folders(dataset)
    if len(folders) < 3:
        raise InputError(f"{dataset}: {len(folders)} scene(s); learning a landmark table needs at least 3")
    vertices, projections, xy, score, joints = [], [], [], [], []
    progress("landmarks", 0, len(folders))
    for done, folder in enumerate(folders, 1):
        scene = read_scene(folder)
        if scene.gt is None or scene.record.get("body", {}).get("model") != body.name:
            raise InputError(f"{folder}: no ground truth of body model {body.name!r}")
        K, R, t, _ = scene.camera_arrays()
        projections.append(np.einsum("nij,njk->nik", K, np.concatenate([R, t[..., None]], axis=2)))
        d, c = scene_detections(scene, detector, cache)
        xy.append(d)
        score.append(c)
        vertices.append(scene.gt["vertices"])
        joints.append(scene.gt["joints"])
        progress("landmarks", done, len(folders))
    detected = learn_detected(vertices, projections, xy, score)
    hands = []
    for side in ("L", "R"):
        pairs = hand_targets(body.joint_names, side)
        tips = body.fingertip_vertices.cpu().numpy()[:5] if side == "L" else body.fingertip_vertices.cpu().numpy()[5:]
        targets = [np.stack([V[tips[("thumb", "index", "middle", "ring", "pinky").index(b[4:])]]
                             if b.startswith("tip:") else J[body.joint_names.index(b)] for _, b in pairs])
                   for V, J in zip(vertices, joints)]
        hands.append(learn_from_joints(vertices, targets))
    return make_table(body.name, BODY_LANDMARKS, HAND_LANDMARKS, detected, *hands)
