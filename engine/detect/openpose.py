"""OpenPose JSON detections (BODY_25, BODY_25B, COCO) as :class:`Detection` objects.

OpenPose writes one JSON file per frame; ``people[i].pose_keypoints_2d`` is a flat list
x, y, confidence per keypoint (pixel centres at integers, as OpenCV; a missing keypoint is
0, 0, 0). The order is found from the keypoint count: 18 is COCO, 25 is BODY_25 or BODY_25B
(the same count, different orders), so 25 takes an explicit ``order``, else the folder's or its
parent's name ("25b" in it: BODY_25B), else BODY_25.

OpenPose points go onto the MediaPipe slots (``engine.detect.types.BODY_LANDMARKS``) that
name the same place; every other slot gets NaN and score 0:

=================  ===========  ==========  ==========
MediaPipe slot     BODY_25B     BODY_25     COCO
=================  ===========  ==========  ==========
nose               0 Nose       0 Nose      0 Nose
left_eye           1 LEye       16 LEye     15 LEye
right_eye          2 REye       15 REye     14 REye
left_ear           3 LEar       18 LEar     17 LEar
right_ear          4 REar       17 REar     16 REar
left_shoulder      5 LShoulder  5           5
right_shoulder     6 RShoulder  2           2
left_elbow         7 LElbow     6           6
right_elbow        8 RElbow     3           3
left_wrist         9 LWrist     7           7
right_wrist        10 RWrist    4           4
left_hip           11 LHip      12          11
right_hip          12 RHip      9           8
left_knee          13 LKnee     13          12
right_knee         14 RKnee     10          9
left_ankle         15 LAnkle    14          13
right_ankle        16 RAnkle    11          10
left_heel          21 LHeel     21          --
right_heel         24 RHeel     24          --
left_foot_index    19 LBigToe   19          --
right_foot_index   22 RBigToe   22          --
=================  ===========  ==========  ==========

The same name is not the same point for every detector: each was trained on its own
annotations, so "hip", "shoulder" or "ankle" differ by a few centimetres between OpenPose and
MediaPipe (hips most: MediaPipe's sit higher and wider). Compare them with a tolerance, not as
one skeleton. Neck, MidHip, UpperNeck, HeadTop and small toes have no MediaPipe slot.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from engine.detect.types import BODY_INDEX, BODY_LANDMARKS, Detection, empty_hands, landmark_box
from engine.errors import InputError

_SLOTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
          "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
          "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
          "left_foot_index", "right_foot_index")
_INDICES = {   # OpenPose index per slot of _SLOTS, in that order (None: the order has no such point)
    "BODY_25B": (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 21, 24, 19, 22),
    "BODY_25": (0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11, 21, 24, 19, 22),
    "COCO": (0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10, None, None, None, None),
}
OPENPOSE_TO_MEDIAPIPE: dict[str, dict[str, int]] = {
    order: {slot: i for slot, i in zip(_SLOTS, idx) if i is not None} for order, idx in _INDICES.items()}
NUM_KEYPOINTS = {"BODY_25B": 25, "BODY_25": 25, "COCO": 18}


def openpose_order(num_keypoints: int, folder: str | Path = "", order: str | None = None) -> str:
    """The keypoint order: ``order`` if given (checked against the count), else from the count
    and, for 25 keypoints, the folder's or its parent's name ("25b"/"25B" in it: BODY_25B, else
    BODY_25)."""
    if order is not None:
        if order not in NUM_KEYPOINTS:
            raise InputError(f"order: expected one of {sorted(NUM_KEYPOINTS)}, got {order!r}")
        if NUM_KEYPOINTS[order] != num_keypoints:
            raise InputError(f"{folder or 'keypoints'}: {num_keypoints} keypoints per person, "
                             f"but order {order} has {NUM_KEYPOINTS[order]}")
        return order
    if num_keypoints == 18:
        return "COCO"
    if num_keypoints == 25:
        names = (Path(folder).name, Path(folder).parent.name)   # e.g. pose2d_body25b/cam01_json
        return "BODY_25B" if any("25b" in n.lower() for n in names) else "BODY_25"
    raise InputError(f"{folder or 'keypoints'}: {num_keypoints} keypoints per person; expected 18 "
                     "(COCO) or 25 (BODY_25, BODY_25B)")


def read_openpose_json(path: str | Path) -> list[np.ndarray]:
    """All people of one OpenPose JSON file, each a (K, 3) array x, y, confidence."""
    from engine.io.calibration.safe_json import load_json

    path = Path(path)
    try:
        data = load_json(path, missing=f"{path}: no such OpenPose JSON file")
        people = [np.asarray(p["pose_keypoints_2d"], np.float64) for p in data["people"]]
    except InputError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"{path}: not an OpenPose JSON file with people[i].pose_keypoints_2d "
                         f"({type(e).__name__}: {e})") from None
    for i, p in enumerate(people):
        if p.ndim != 1 or p.size % 3 or p.size == 0:
            raise InputError(f"{path}: people[{i}].pose_keypoints_2d has {p.size} numbers, "
                             "expected x, y, confidence per keypoint")
    return [p.reshape(-1, 3) for p in people]


def frame_number(path: str | Path) -> int:
    """The frame number in an OpenPose file name: its last run of digits
    (``cam01.0042.json`` -> 42, ``video_000000000042_keypoints.json`` -> 42)."""
    digits = re.findall(r"\d+", Path(path).name.removesuffix(".json"))
    if not digits:
        raise InputError(f"{path}: no frame number in the file name")
    return int(digits[-1])


def list_openpose_files(root: str | Path) -> dict[str, dict[int, Path]]:
    """For a layout ``root/<camera>_json/*.json`` (or ``root/<camera>/*.json``): camera name ->
    frame number -> file. Camera names drop a trailing ``_json``."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such OpenPose folder")
    out = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        files = {frame_number(f): f for f in sorted(sub.glob("*.json"))}
        if files:
            out[sub.name.removesuffix("_json")] = dict(sorted(files.items()))
    if not out:
        raise InputError(f"{root}: no camera folders with OpenPose JSON files")
    return out


def read_openpose_folder(folder: str | Path, order: str | None = None) -> dict[int, list[np.ndarray]]:
    """One camera's folder of per-frame JSON files: frame number -> people, each (K, 3).
    Every person's keypoint count is checked against ``order``, or against the order the first
    person implies (:func:`openpose_order`; call it with K and the folder to know which)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such OpenPose folder")
    out = {}
    for f in sorted(folder.glob("*.json")):
        out[frame_number(f)] = people = read_openpose_json(f)
        for i, p in enumerate(people):
            try:
                order = openpose_order(len(p), folder, order)   # the first person fixes it
            except InputError as e:
                raise InputError(f"{f}: people[{i}]: {e}") from None
    if not out:
        raise InputError(f"{folder}: no OpenPose JSON files (*.json)")
    return dict(sorted(out.items()))


def openpose_people(root: str | Path, camera: str, frame: int) -> list[np.ndarray]:
    """All people (K, 3) of one camera and frame in a ``root/<camera>_json/`` layout."""
    files = list_openpose_files(root)
    if camera not in files:
        raise InputError(f"camera: {camera!r} not in {root} (cameras: {sorted(files)})")
    if frame not in files[camera]:
        raise InputError(f"frame: {frame} not in {root}/{camera} "
                         f"(frames {min(files[camera])}..{max(files[camera])})")
    return read_openpose_json(files[camera][frame])


def openpose_to_detection(keypoints: np.ndarray, order: str) -> Detection:
    """(K, 3) OpenPose keypoints in ``order`` -> Detection on the MediaPipe slots (see the table);
    confidence 0 (a missing point) gives NaN and score 0; no hands, no mask."""
    kp = np.asarray(keypoints, np.float64)
    if kp.ndim != 2 or kp.shape[1] != 3:
        raise InputError(f"keypoints: expected (K, 3) x, y, confidence, got shape {kp.shape}")
    openpose_order(len(kp), "keypoints", order)
    xy = np.full((len(BODY_LANDMARKS), 2), np.nan)
    score = np.zeros(len(BODY_LANDMARKS))
    for slot, i in OPENPOSE_TO_MEDIAPIPE[order].items():
        if kp[i, 2] > 0 and np.isfinite(kp[i]).all():
            xy[BODY_INDEX[slot]] = kp[i, :2]
            score[BODY_INDEX[slot]] = min(kp[i, 2], 1.0)
    hands_xy, hands_score = empty_hands()
    return Detection(xy, score, hands_xy, hands_score, None, landmark_box(xy, score, min_score=0.0))
