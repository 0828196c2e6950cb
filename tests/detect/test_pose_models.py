"""BlazePose heavy: the shipped file, how it reaches MediaPipe (the installed package, or a
resource folder of our own when that cannot be written), and the detector with it on frame 0
of the 4 real videos, against the bundled OpenPose and MediaPipe full."""

import fnmatch
import os
import tomllib
from pathlib import Path

import numpy as np
import pytest

from detect_support import CAMERAS
from engine.detect import pose_models
from engine.detect.pose_models import (HEAVY_FILE, HEAVY_SHA256, HEAVY_SIZE, SHIPPED_HEAVY, mediapipe_package,
                                       pose_model_resources, sha256_of)
from engine.errors import InputError
from test_mediapipe_detector import JOINTS, middle_person

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_heavy_model_is_the_npm_file_with_its_licence():
    assert SHIPPED_HEAVY.stat().st_size == HEAVY_SIZE == 27_709_200
    assert sha256_of(SHIPPED_HEAVY) == HEAVY_SHA256 == "59e42d71bcd44cbdbabc419f0ff76686595fd265419566bd4009ef703ea8e1fe"
    notice = (SHIPPED_HEAVY.parent / "NOTICE").read_text()
    for needed in ("@mediapipe/pose", "0.5.1675469404", "Apache", HEAVY_SHA256):
        assert needed in notice
    assert "Apache License" in (SHIPPED_HEAVY.parent / "LICENSE").read_text()
    # installed with the package (a wheel as well as an editable install)
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["engine.detect"]
    for name in (HEAVY_FILE, "NOTICE", "LICENSE"):
        assert any(fnmatch.fnmatch(f"models/{name}", pattern) for pattern in data), name


def _fake_package(tmp_path):
    """A mediapipe-like folder: modules/pose_landmark with the full model's name, a cut-off heavy file."""
    landmark = tmp_path / "mediapipe" / "modules" / "pose_landmark"
    landmark.mkdir(parents=True)
    (landmark / "pose_landmark_full.tflite").write_bytes(b"full")
    (tmp_path / "mediapipe" / "modules" / "hand_landmark").mkdir()
    (tmp_path / "mediapipe" / "python").mkdir()
    return tmp_path / "mediapipe", landmark


def test_heavy_placed_in_the_package_replacing_a_cut_off_download(tmp_path):
    package, landmark = _fake_package(tmp_path)
    (landmark / HEAVY_FILE).write_bytes(b"half a download")
    assert pose_model_resources("full", package=package) is None
    assert (landmark / HEAVY_FILE).read_bytes() == b"half a download"   # full touches nothing
    assert pose_model_resources("heavy", package=package, cache=tmp_path / "cache") is None
    assert sha256_of(landmark / HEAVY_FILE) == HEAVY_SHA256
    assert sorted(p.name for p in landmark.iterdir()) == ["pose_landmark_full.tflite", HEAVY_FILE]  # no temporary
    assert not (tmp_path / "cache").exists()


def test_resource_folder_when_the_package_cannot_be_written(tmp_path):
    package, landmark = _fake_package(tmp_path)
    (landmark / HEAVY_FILE).mkdir()   # the model's place cannot take a file
    (landmark / HEAVY_FILE / "x").write_bytes(b"")
    root = pose_model_resources("heavy", package=package, cache=tmp_path / "cache")
    assert root.parent == tmp_path / "cache" / "mediapipe-resources"
    tree = root / "mediapipe"
    assert sha256_of(tree / "modules" / "pose_landmark" / HEAVY_FILE) == HEAVY_SHA256
    assert (tree / "modules" / "pose_landmark" / "pose_landmark_full.tflite").read_bytes() == b"full"
    assert (tree / "python").resolve() == (package / "python").resolve()
    assert (tree / "modules" / "hand_landmark").resolve() == (package / "modules" / "hand_landmark").resolve()
    assert [p.name for p in root.parent.iterdir()] == [root.name]   # no staging folder left
    # a second call keeps the whole tree; a broken one (the package moved) is rebuilt
    stamp = (tree / "modules" / "pose_landmark" / HEAVY_FILE).stat().st_mtime_ns
    assert pose_model_resources("heavy", package=package, cache=tmp_path / "cache") == root
    assert (tree / "modules" / "pose_landmark" / HEAVY_FILE).stat().st_mtime_ns == stamp
    (tree / "modules" / "pose_landmark" / "pose_landmark_full.tflite").unlink()
    (tree / "modules" / "pose_landmark" / "pose_landmark_full.tflite").symlink_to(tmp_path / "gone")
    assert pose_model_resources("heavy", package=package, cache=tmp_path / "cache") == root
    assert (tree / "modules" / "pose_landmark" / "pose_landmark_full.tflite").read_bytes() == b"full"


def test_one_line_error_naming_both_places(tmp_path):
    package, landmark = _fake_package(tmp_path)
    (landmark / HEAVY_FILE).mkdir()
    (landmark / HEAVY_FILE / "x").write_bytes(b"")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(InputError) as e:
        pose_model_resources("heavy", package=package, cache=tmp_path / "file" / "cache")
    message = str(e.value)
    assert "\n" not in message and str(landmark) in message and str(tmp_path / "file" / "cache") in message
    with pytest.raises(InputError, match="model: expected full or heavy, got 'lite'"):
        pose_model_resources("lite", package=package)


def test_corrupt_shipped_file_is_refused(tmp_path, monkeypatch):
    package, _ = _fake_package(tmp_path)
    bad = tmp_path / HEAVY_FILE
    bad.write_bytes(b"\0" * HEAVY_SIZE)
    monkeypatch.setattr(pose_models, "SHIPPED_HEAVY", bad)
    with pytest.raises(InputError, match=f"{bad}: not the shipped model .*reinstall"):
        pose_model_resources("heavy", package=package)


# the detector -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def heavy():
    from engine.detect import MediaPipeDetector

    with MediaPipeDetector(model="heavy", hands=False) as det:
        yield det


def test_heavy_reaches_mediapipe(heavy):
    """Where the installed package can be written, the model sits in it, where MediaPipe looks;
    elsewhere in our own resource folder."""
    landmark = mediapipe_package() / "modules" / "pose_landmark"
    root = pose_model_resources("heavy")
    if os.access(landmark, os.W_OK):
        assert root is None and sha256_of(landmark / HEAVY_FILE) == HEAVY_SHA256
    else:
        assert sha256_of(root / "mediapipe" / "modules" / "pose_landmark" / HEAVY_FILE) == HEAVY_SHA256


def test_heavy_agrees_with_openpose_at_least_as_well_as_full(example, frames0, projections, detections0, heavy):
    errors = {"full": [], "heavy": []}
    for view, img in enumerate(frames0):
        det = heavy(img)
        assert det is not None and det.body_xy.shape == (33, 2) and np.isfinite(det.body_xy).all()
        assert det.mask.shape == img.shape[:2]
        ref = middle_person(example, CAMERAS[view], projections[view])
        height = ref.box[3] - ref.box[1]
        for model, d in (("full", detections0[view]), ("heavy", det)):
            errors[model].append(np.linalg.norm(d.body_xy[JOINTS] - ref.body_xy[JOINTS], axis=1) / height)
        print(f"{CAMERAS[view]}: mean error / height full {errors['full'][-1].mean():.4f}, "
              f"heavy {errors['heavy'][-1].mean():.4f}")
        assert errors["heavy"][-1].max() < 0.045 and np.median(errors["heavy"][-1]) < 0.03
    full, heavy_mean = np.mean(errors["full"]), np.mean(errors["heavy"])
    print(f"frame 0, 4 views: mean error / height full {full:.4f}, heavy {heavy_mean:.4f}")
    assert heavy_mean <= full   # measured 0.0171 against 0.0190
    assert heavy.signature["model_complexity"] == 2


def test_heavy_through_a_resource_folder_of_our_own(tmp_path, monkeypatch, frames0, heavy):
    """The fallback end to end: graphs built inside ``mediapipe_resources`` read the models of
    our resource folder, not the installed package's."""
    from engine.detect import MediaPipeDetector, mediapipe_detector

    root = tmp_path / "resources"
    pose_models._resource_tree(mediapipe_package(), root, SHIPPED_HEAVY)
    monkeypatch.setattr(mediapipe_detector, "pose_model_resources", lambda model: root)
    expected = heavy(frames0[0]).body_xy
    with MediaPipeDetector(model="heavy", hands=False, mask=False) as det:
        assert np.array_equal(det(frames0[0]).body_xy, expected)
    # proof that it reads our folder: the full model under the heavy model's name gives full's landmarks
    landmark = root / "mediapipe" / "modules" / "pose_landmark"
    (landmark / HEAVY_FILE).unlink()
    (landmark / HEAVY_FILE).symlink_to(landmark / "pose_landmark_full.tflite")
    with MediaPipeDetector(model="heavy", hands=False, mask=False) as det:
        swapped = det(frames0[0]).body_xy
    with MediaPipeDetector(model="full", hands=False, mask=False) as det:
        full = det(frames0[0]).body_xy
    assert np.array_equal(swapped, full) and not np.allclose(full, expected)


def test_cache_signature_keeps_the_models_apart(tmp_path, detector, heavy, detections0):
    from engine.pipeline.detection_cache import DetectionCache

    assert detector.signature["model_complexity"] == 1 and "pose_model" not in detector.signature  # as before
    assert heavy.signature["pose_model"] == "heavy" and heavy.signature["pose_landmark_sha256"] == HEAVY_SHA256
    identity = lambda frame, cameras: {"frame": frame}  # noqa: E731
    full_cache = DetectionCache(tmp_path, identity, detector.signature)
    heavy_cache = DetectionCache(tmp_path, identity, heavy.signature)
    assert full_cache.key(0, list(CAMERAS)) != heavy_cache.key(0, list(CAMERAS))
    full_cache.save(0, list(CAMERAS), detections0)
    assert full_cache.load(0, list(CAMERAS)) is not None
    assert heavy_cache.load(0, list(CAMERAS)) is None   # full's detections are not heavy's


def test_bad_model_name():
    from engine.detect import MediaPipeDetector

    with pytest.raises(InputError, match="model: expected full or heavy, got 'lite'"):
        MediaPipeDetector(model="lite")


# the option: reconstruct, demo and evaluate --pose-model -------------------------------------

@pytest.mark.parametrize("command", ["reconstruct", "demo", "evaluate"])
def test_cli_refuses_an_unknown_pose_model(command, example, tmp_path):
    from typer.testing import CliRunner

    from engine.cli.main import app

    args = {"reconstruct": [str(example / "videos"), "--calibration", str(example / "calibration" / "Calib.toml")],
            "demo": ["--no-heldout", "--frames", "0:1"],
            "evaluate": [str(tmp_path / "nothing"), "--proxies", "none"]}[command]
    res = CliRunner().invoke(app, [command, *args, "--out", str(tmp_path / "out"), "--pose-model", "lite"]
                             if command != "evaluate" else [command, *args, "--pose-model", "lite"])
    assert res.exit_code != 0 and "--pose-model: expected full or heavy, got 'lite'" in res.output, res.output
    assert not (tmp_path / "out").exists()


def test_job_builds_its_detector_with_the_pose_model(example, monkeypatch):
    import engine
    from engine.pipeline.reconstructor import Reconstructor

    asked = {}

    class Built(Exception):
        pass

    def from_pretrained(*args, **kwargs):
        asked.update(kwargs)
        raise Built

    monkeypatch.setattr(Reconstructor, "from_pretrained", from_pretrained)
    for model in ("full", None):
        options = engine.ReconstructOptions(pose_model=model) if model else engine.ReconstructOptions()
        job = engine.prepare(example / "videos", example / "calibration" / "Calib.toml", frames="0", options=options)
        with pytest.raises(Built):
            job.run()
        assert asked["pose_model"] == (model or "heavy")  # heavy by default
