"""The job after detection, on a synthetic capture: a camera that shares too little with the
others is reported and left out, the rest are written, and calibration.toml reads back through
the project's reader in metres with Z up."""

import json

import numpy as np

from engine.calibration.job import _write, solve
from engine.calibration.tracks import Tracks
from engine.io.calibration import read_calibration
from tests.calibration.support import project, ring_of_cameras, walking_person


def test_an_unplaceable_camera_is_reported_and_the_rest_written(tmp_path):
    cams = ring_of_cameras(4, f=1000.0, size=(1000, 1000))
    person = walking_person(40) * 1.0
    rng = np.random.default_rng(3)
    names = ["c1", "c2", "c3", "c4"]
    xy = {n: project(person, *c) + rng.normal(0, 1.0, (40, 33, 2)) for n, c in zip(names, cams)}
    score = {n: np.full((40, 33), 0.95) for n in names}
    score["c4"][:] = 0.0
    score["c4"][0, :4] = 0.95  # four landmarks in one frame: nothing to place it by
    tracks = Tracks(names, xy, score, {n: (1000, 1000) for n in names}, 30.0, [])
    result = solve(tracks, {}, {n: 0 for n in names}, height=None)
    report = result["report"]
    assert report["not_placed"] == ["c4"]
    assert any("camera c4 could not be placed" in n for n in result["notes"])
    assert list(report["cameras"]) == ["c1", "c2", "c3"]
    result.update(seconds={"total": 1.0}, frames={n: 40 for n in names}, fps=30.0,
                  start_frame={n: 0 for n in names}, board=None)
    _write(tmp_path, result)
    calibration = read_calibration(tmp_path / "calibration.toml")
    assert calibration.names() == ["c1", "c2", "c3"]
    heights = [c.center_world[2] for c in calibration.cameras]
    assert all(0.9 < h < 2.2 for h in heights), heights  # the cameras stand 1.2-1.8 m above the floor
    assert json.loads((tmp_path / "report.json").read_text())["not_placed"] == ["c4"]
    assert (tmp_path / "cameras_top.png").stat().st_size > 1000


def test_landmarks_spanning_little_of_the_images_are_warned_about():
    cams = ring_of_cameras(3, radius=12.0, f=1000.0, size=(1000, 1000))
    person = walking_person(30) * [0.3, 0.3, 1.0]  # a small circle, far away
    names = ["c1", "c2", "c3"]
    xy = {n: project(person, *c) for n, c in zip(names, cams)}
    tracks = Tracks(names, xy, {n: np.full((30, 33), 0.95) for n in names}, {n: (1000, 1000) for n in names}, 30.0, [])
    result = solve(tracks, {}, {n: 0 for n in names}, height=None)
    spans = [r["landmark_span"] for r in result["report"]["cameras"].values()]
    assert all(max(s) < 0.25 for s in spans), spans
    assert sum("its pose is poorly constrained" in n for n in result["notes"]) == 3
