"""--sync on a synthetic capture whose cameras started at different instants, and the
calibration.toml writer read back by the project's reader."""

import numpy as np
import pytest

from engine.calibration.sync import synchronise
from engine.calibration.tracks import Tracks
from engine.errors import InputError
from engine.io.calibration import Calibration, CameraCalibration, read_calibration
from engine.io.calibration.toml_format import write_toml
from tests.calibration.support import project, ring_of_cameras, walking_person


def _cut_capture(late: dict[str, int], instants: int = 60):
    """Each camera films instants late[c] .. instants-1 (its frame 0 is instant late[c])."""
    cams = ring_of_cameras(len(late))
    rng = np.random.default_rng(1)
    person = walking_person(instants)
    wander = np.cumsum(rng.normal(0, 0.03, (instants, 33, 3)), axis=0)  # limbs moving, never periodically
    wander = np.stack([np.convolve(w, np.ones(5) / 5, mode="same") for w in wander.reshape(instants, -1).T], 1)
    person += wander.reshape(instants, 33, 3)
    xy, score, lenses = {}, {}, {}
    for (name, start), (K, R, t) in zip(late.items(), cams):
        xy[name] = project(person[start:], K, R, t) + rng.normal(0, 1.0, (instants - start, 33, 2))
        score[name] = np.full((instants - start, 33), 0.95)
        lenses[name] = CameraCalibration(name, K, np.zeros(4), np.eye(3), np.zeros(3), 1000, 1000)
    return Tracks(list(late), xy, score, {n: (1000, 1000) for n in late}, 30.0, []), lenses


def test_start_frames_of_cameras_cut_at_different_instants_are_exact():
    late = {"cam1": 0, "cam2": 7, "cam3": 15}
    tracks, lenses = _cut_capture(late)
    starts, report = synchronise(tracks, lenses, max_lag=18)
    last = max(late.values())
    assert starts == {c: last - s for c, s in late.items()}  # cam3 started last: its frame 0
    assert report["reference"] == "cam1"


def test_cameras_that_never_see_the_person_at_once_are_named():
    tracks, lenses = _cut_capture({"cam1": 0, "cam2": 0})
    tracks.score["cam1"][30:] = 0
    tracks.score["cam2"][:45] = 0
    with pytest.raises(InputError, match="--sync: cameras cam2 and cam1 never see the person at once"):
        synchronise(tracks, lenses, max_lag=10)


def test_calibration_toml_round_trip(tmp_path):
    R = np.array([[0.0, -1, 0], [0, 0, -1], [1, 0, 0]])
    cams = [CameraCalibration("cam 1", [[1500.5, 0, 539.5], [0, 1501.25, 959.5], [0, 0, 1]], [-0.05, 0.1, 1e-3, -2e-4],
                              R, [0.1, 1.2, 3.4], 1080, 1920),
            CameraCalibration("cam02", [[900, 0, 320], [0, 900, 240], [0, 0, 1]], np.zeros(5), np.eye(3),
                              [0, 0, 5.0], 640, 480)]
    path = tmp_path / "calibration.toml"
    write_toml(Calibration(cams, path, "toml"), path, {"made_by": 'diffproxy "calibrate"', "rms": 1.5})
    back = read_calibration(path)
    assert back.names() == ["cam 1", "cam02"]
    for a, b in zip(cams, back.cameras):
        assert np.allclose(a.K, b.K) and np.allclose(a.R_cam_world, b.R_cam_world, atol=1e-12)
        assert np.allclose(a.t_cam_world, b.t_cam_world) and (a.width, a.height) == (b.width, b.height)
        assert np.allclose(np.resize(a.dist, 4), b.dist[:4]) and not np.any(b.dist[4:])
    bad = CameraCalibration("x", np.eye(3), np.zeros(4), np.eye(3), [np.nan, 0, 0], 10, 10)
    with pytest.raises(ValueError, match="camera x: cannot write non-finite values"):
        write_toml(Calibration([bad], path, "toml"), tmp_path / "bad.toml")
    assert not (tmp_path / "bad.toml").exists()
