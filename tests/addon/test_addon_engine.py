"""The extension driving the real engine: ``diffproxy reconstruct`` on two frames of the bundled
capture, ``diffproxy calibrate`` on its first 20 frames, and ``diffproxy render`` of a tiny
synthetic dataset, each run as a subprocess by its operator (synchronously: Blender in background
mode) with the checkout's own interpreter."""

import time

import pytest
from addon_support import EXAMPLE, ROOT, run_blender

pytestmark = [pytest.mark.blender, pytest.mark.slow]
ENGINE_PYTHON = ROOT / ".venv/bin/python"  # the checkout's environment, where the engine is installed


@pytest.fixture
def engine_python():
    if not ENGINE_PYTHON.is_file():
        pytest.skip(f"no engine interpreter at {ENGINE_PYTHON}")
    return ENGINE_PYTHON


def test_reconstruct_runs_the_real_engine_and_the_rigged_body_lands(blender_home, engine_python, tmp_path):
    """Two frames (footage 0 and 1, scene frames 1 and 2) of the bundled capture, from the
    scene's cameras written to the job folder: a real reconstruction (~8 s of the engine on this CPU), then an armature and its skinned mesh
    keyed at both frames, and no process left behind."""
    home, _ = blender_home
    t0 = time.perf_counter()
    report = run_blender("real_reconstruct.py", EXAMPLE / "calibration/Calib.toml", EXAMPLE / "videos",
                         tmp_path / "fit", engine_python, "0:2", home=home, timeout=180)
    wall = time.perf_counter() - t0
    assert report["capture"] == [["FINISHED"], None]
    assert report["result"] == ["FINISHED"], report["error"]
    assert report["command"][:4] == [str(engine_python), "-m", "engine.cli.main", "reconstruct"]
    job = tmp_path / "fit/job"  # the scene's cameras and footage links, which the engine read
    assert report["command"][4:8] == [str(job / "footage"), "--calibration", str(job / "cameras.json"), "--out"]
    assert report["command"][-2:] == ["--frames", "0:2"]
    assert sorted(p.name for p in (job / "footage").iterdir()) == [f"cam0{i}.mp4" for i in range(1, 5)]
    assert {"fit.json", "fit.npz"} <= set(report["fit_files"])
    assert report["armatures"] == 1 and report["meshes"] == 1 and report["parent_is_armature"]
    assert report["modifiers"] == ["ARMATURE"] and report["bones"] > 50 and report["bone_groups"] > 50
    assert report["vertices"] > 1000
    assert report["keyed_frames"] == [1, 2]  # footage frames 0 and 1
    assert report["returncodes"] == [0] and report["left_running"] == []
    print(f"reconstruct through the operator: {report['seconds']:.1f} s, Blender process {wall:.1f} s")


def test_render_dataset_reports_errors_and_renders_a_tiny_dataset(blender_home, engine_python, tmp_path):
    """A wrong interpreter and an unset folder are reported (nothing started); then one scene,
    2 views of 32 px at 1 sample (~7 s of the engine) is rendered into the folder."""
    home, _ = blender_home
    out = tmp_path / "dataset"
    report = run_blender("render_dataset.py", out, engine_python, home=home, timeout=180)
    runs = report["runs"]
    assert runs["wrong_python"][0] is None
    assert "engine interpreter /nonexistent/bin/python: no executable file" in runs["wrong_python"][1]
    assert runs["no_folder"][0] is None and "dataset folder: not set" in runs["no_folder"][1]
    assert runs["works"][:2] == [["FINISHED"], None]
    assert report["commands"] == [[str(engine_python), "-m", "engine.cli.main", "render", "--out", str(out),
                                   "--scenes", "1", "--seed", "3", "--progress", "jsonl", "--json", "--num-views",
                                   "2", "--resolution", "32", "--samples", "1"]]
    assert report["returncodes"] == [0] and report["progress"] == [[1, 1]] and not report["running"]
    assert {k: report["results"][0][k] for k in ("rendered", "skipped", "scenes")} == {  # its --json summary
        "rendered": 1, "skipped": 0, "scenes": 1}
    assert (out / "dataset.json").is_file()
    (scene,) = sorted(p for p in out.iterdir() if p.name.startswith("scene_"))
    assert sorted(p.name for p in (scene / "images").iterdir()) == ["view_00.png", "view_01.png"]
    assert (scene / "gt.npz").is_file() and (scene / "proxies.npz").is_file()
    print(f"render through the operator: {runs['works'][2]} s")


def test_cancel_ends_the_real_engine_and_leaves_no_result(blender_home, engine_python, tmp_path):
    """Reconstruct's UI job (timer events, then Esc, fed as the window manager would) on 30
    frames of the bundled capture with the real engine: once the engine prints its first
    progress line, Esc ends its whole process tree, nothing is imported and the fit folder
    holds the job's inputs but no result, whole or half-written."""
    home, _ = blender_home
    fit = tmp_path / "fit"
    report = run_blender("real_cancel.py", EXAMPLE / "calibration/Calib.toml", EXAMPLE / "videos", fit, engine_python,
                         home=home, timeout=300)
    assert report["results"] == [["PASS_THROUGH"], ["CANCELLED"]], report
    assert report["progress"] is not None and report["progress"][1] == 30, report["first_line"]
    assert report["alive_before"], "the engine was not running when Esc came"
    assert report["alive_after"] == [] and report["group_after"] == []  # the whole tree ended
    assert report["returncode"] is not None and report["returncode"] != 0
    assert not report["running"] and [["WARNING"], "reconstruction cancelled"] in report["reports"]
    assert report["objects_added"] == []  # nothing imported
    files = report["fit_folder"]
    assert {"job/cameras.json", "job/job.json", "job/footage/cam01.mp4"} <= set(files)
    assert not [f for f in files if f.startswith(("fit.", "report.json", ".tmp-reconstruct", "preview"))], files
    print(f"cancelled {report['cancel_s']:.2f} s after Esc, {report['started_s']:.1f} s after the start "
          f"(rc {report['returncode']}, tree {report['tree']}); fit folder: {files}")


def _first_frames(videos, folder, count: int):
    """The bundled videos cut to their first ``count`` frames (calibrate has no --frames)."""
    import cv2

    folder.mkdir()
    for video in sorted(videos.glob("*.mp4")):
        cap = cv2.VideoCapture(str(video))
        writer = None
        for _ in range(count):
            ok, frame = cap.read()
            assert ok, video
            if writer is None:
                writer = cv2.VideoWriter(str(folder / video.name), cv2.VideoWriter_fourcc(*"mp4v"),
                                         cap.get(cv2.CAP_PROP_FPS), (frame.shape[1], frame.shape[0]))
            writer.write(frame)
        writer.release()
        cap.release()
    return folder


def test_calibrate_from_footage_imports_the_cameras_it_found(blender_home, engine_python, tmp_path):
    """Calibrate from Footage on the bundled capture's first 20 frames (no board; ~12 s of the
    engine): an unset footage folder and a board without photos are reported in one line; the
    UI job cancelled at its first progress record ends the engine and imports nothing; the whole
    run imports one camera per entry of the calibration.toml it wrote, at the footage's size,
    whose Blender projection is the calibration's."""
    home, _ = blender_home
    footage = _first_frames(EXAMPLE / "videos", tmp_path / "footage", 20)
    out = footage / "calibration"  # the panel's default folder: the engine skips it when reading the footage
    t0 = time.perf_counter()
    report = run_blender("real_calibrate.py", footage, out, engine_python, home=home, timeout=240)
    wall = time.perf_counter() - t0
    runs = report["runs"]
    assert runs["no_footage"][0] is None and "footage folder: not set" in runs["no_footage"][1]
    assert runs["board_without_photos"][0] is None
    assert "diffproxy calibrate failed (exit 2): --board needs --board-images too" in runs["board_without_photos"][1]
    cancel = report["cancel"]
    assert cancel["results"] == [["PASS_THROUGH"], ["CANCELLED"]], cancel
    assert cancel["status"].startswith("landmarks: ") and cancel["status"].endswith("/80 frames")
    assert cancel["alive_before"] and cancel["alive_after"] == [] and not cancel["running"]
    assert [["WARNING"], "calibration cancelled"] in cancel["reports"]
    assert cancel["objects_added"] == 0 and "calibration.toml" not in cancel["files"]

    assert runs["works"] == [["FINISHED"], None]
    assert report["commands"][-1] == [str(engine_python), "-m", "engine.cli.main", "calibrate", str(footage), "--out",
                                      str(out), "--progress", "jsonl", "--json"]
    assert report["returncodes"][-1] == 0 and report["left_running"] == []
    assert {"calibration.toml", "report.json", "cameras_top.png"} <= set(report["out"])
    assert report["calibration"] == str(out / "calibration.toml") and report["world"] == ["+Z", 1.0]
    names = ["cam01", "cam02", "cam03", "cam04"]
    assert report["imported"] == names and sorted(report["cameras"]) == names
    for name, cam in report["cameras"].items():
        assert cam["size"] == cam["calibrated"] == [1080 if name in ("cam01", "cam02") else 1088, 1920]
        assert cam["clip"] == str(footage / f"{name}.mp4")
        assert cam["max_px"] < 0.01, (name, cam["max_px"])
    assert report["frame_end"] == 20
    print(f"calibrate through the operator: {report['seconds']:.1f} s, Blender process {wall:.1f} s")
