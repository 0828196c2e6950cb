"""Foot contacts: in which frames a heel or a toe rests on the floor, from the fitted landmarks
(engine frame: metres, Z up, the world's up axis).

The floor is the plane Z = ``floor`` where ``floor`` is a low percentile, over the frames, of
each frame's lowest foot point (heels and toes), so that a few frames fitted too low do not
sink it. A point is in contact when it is near the floor and nearly still, with hysteresis: it
enters contact when both its height over the floor and its speed are below the ``enter_``
thresholds, and leaves it only when one of them rises above the ``leave_`` ones, so that noise
around a threshold does not make the contact flicker. The speed is the displacement over a
window of ``speed_window_s`` seconds (a central difference over several frames), else the fit's
frame-to-frame jitter would read as motion.

One frame (or no known frame rate) has no speed: no contact is claimed (all False); its floor is
still its lowest foot point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.io.schema import CONTACT_POINTS

# the landmark of each contact point: MediaPipe's names (engine.landmarks' table), else the body
# model's keypoints' (a scene's ground truth: big_toe)
FOOT_LANDMARKS = dict(zip(CONTACT_POINTS, (("left_heel",), ("left_foot_index", "left_big_toe"), ("right_heel",),
                                           ("right_foot_index", "right_big_toe"))))


@dataclass(frozen=True)
class ContactThresholds:
    enter_height_m: float = 0.05  # above the floor; a heel's landmark sits a few cm above the sole
    leave_height_m: float = 0.08
    enter_speed_m_s: float = 0.4  # swing speeds are 1-3 m/s; a planted foot's fit jitters at 0.1-0.4
    leave_speed_m_s: float = 0.8
    speed_window_s: float = 0.1
    floor_percentile: float = 5.0


@dataclass
class FootContacts:
    contact: dict[str, np.ndarray]  # CONTACT_POINTS -> (T,) bool
    floor: float  # the floor's Z in the engine frame, metres (NaN: no foot point known)

    def frames_in_contact(self) -> dict[str, int]:
        return {k: int(v.sum()) for k, v in self.contact.items()}


def foot_contacts(landmarks: np.ndarray, names, fps: float,
                  thresholds: ContactThresholds = ContactThresholds()) -> FootContacts:
    """landmarks (T, L, 3) engine frame, named ``names``; ``fps`` frames per second. -> the
    contacts of the heels and toes and the floor (see the module)."""
    index = {n: i for i, n in enumerate(names)}
    missing = [" or ".join(a) for a in FOOT_LANDMARKS.values() if not any(n in index for n in a)]
    if missing:
        raise ValueError(f"foot contacts: the landmark table has no {', '.join(missing)}")
    found = [index[next(n for n in a if n in index)] for a in FOOT_LANDMARKS.values()]
    points = np.asarray(landmarks, np.float64)[:, found]
    contact, floor = detect_contacts(points, fps, thresholds)
    return FootContacts(dict(zip(FOOT_LANDMARKS, contact.T)), floor)


def detect_contacts(points: np.ndarray, fps: float,
                    thresholds: ContactThresholds = ContactThresholds()) -> tuple[np.ndarray, float]:
    """points (T, P, 3) engine frame (Z up, metres; NaN where unknown). -> (contact (T, P) bool,
    the floor's Z)."""
    points = np.asarray(points, np.float64)
    if points.ndim != 3 or points.shape[-1] != 3:
        raise ValueError(f"foot contacts: expected points of shape (T, P, 3), got {points.shape}")
    T, P, _ = points.shape
    floor = floor_height(points[..., 2], thresholds.floor_percentile)
    contact = np.zeros((T, P), bool)
    if T < 2 or not (np.isfinite(fps) and fps > 0) or not np.isfinite(floor):
        return contact, floor
    for p in range(P):
        speed = window_speed(points[:, p], fps, thresholds.speed_window_s)
        contact[:, p] = hysteresis(points[:, p, 2] - floor, speed, thresholds)
    return contact, floor


def floor_height(heights: np.ndarray, percentile: float = 5.0) -> float:
    """heights (T, P): the floor's height, a low ``percentile`` over the frames of each frame's
    lowest point; NaN when no point is known."""
    with np.errstate(invalid="ignore"):
        lowest = np.min(np.where(np.isfinite(heights), heights, np.inf), axis=1)
    lowest = lowest[np.isfinite(lowest)]
    return float(np.percentile(lowest, percentile)) if lowest.size else float("nan")


def window_speed(x: np.ndarray, fps: float, window_s: float) -> np.ndarray:
    """x (T, 3) -> (T,) speed: the displacement between the frames ``window_s / 2`` seconds
    before and after (at least one frame each way; cut at the ends) over the time between."""
    T = len(x)
    half = max(1, int(round(window_s * fps / 2)))
    t = np.arange(T)
    before, after = np.maximum(t - half, 0), np.minimum(t + half, T - 1)
    return np.linalg.norm(x[after] - x[before], axis=-1) * fps / (after - before)


def hysteresis(height: np.ndarray, speed: np.ndarray, th: ContactThresholds) -> np.ndarray:
    """(T,) heights over the floor and speeds -> (T,) bool: in contact from a frame where both
    are below the enter thresholds until one where either is above the leave ones (or unknown)."""
    out = np.zeros(len(height), bool)
    on = False
    for t, (h, s) in enumerate(zip(height, speed)):
        if not (np.isfinite(h) and np.isfinite(s)):
            on = False
        elif on:
            on = h <= th.leave_height_m and s <= th.leave_speed_m_s
        else:
            on = h <= th.enter_height_m and s <= th.enter_speed_m_s
        out[t] = on
    return out
