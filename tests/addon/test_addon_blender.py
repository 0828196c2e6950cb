"""The extension inside Blender (the bpy module, one subprocess per test): installed as a user
would, cameras that project like the calibration, the fitted body frame by frame, exports,
registration that leaves nothing behind, and Reconstruct's errors reported, not raised."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from addon_support import EXAMPLE, ROOT, SCRIPTS, cube_fit, run_blender, write_png

from engine.io.calibration import Calibration, CameraCalibration, write_calibration_json

pytestmark = pytest.mark.blender
OPERATORS = ["calibrate", "composite_footage", "export_bvh", "export_fbx", "export_gltf", "import_capture",
             "import_fit", "install_engine", "reconstruct", "render_dataset", "set_camera"]


def test_extension_installs_and_registers(blender_home):
    _, report = blender_home
    assert report["result"] == ["FINISHED"] and report["enabled"]
    assert report["operators"] == OPERATORS and report["panel"]


def test_import_capture_cameras_project_like_the_calibration(blender_home, tmp_path):
    home, _ = blender_home
    fit, _ = cube_fit(tmp_path / "fit", world={"up_axis": "+Y", "world_units_per_metre": 1000.0})
    report = run_blender("capture.py", EXAMPLE / "calibration/Calib.toml", EXAMPLE / "videos", fit / "fit.json",
                         home=home)
    for label in ("z_up_m", "y_up_mm", "from_fit"):
        run = report[label]
        assert run["result"] == ["FINISHED"], run["error"]
        assert sorted(run["cameras"]) == ["cam01", "cam02", "cam03", "cam04"]
        for name, cam in run["cameras"].items():
            width = 1080 if name in ("cam01", "cam02") else 1088  # the footage's size, not the calibration's
            assert cam["size"] == [width, 1920] and cam["clip_size"] == [width, 1920]
            assert cam["background"] == ["MOVIE_CLIP"]
            assert cam["max_px"] < 0.01, (label, name, cam["max_px"])  # asked: 0.5 px
    assert (report["frame_start"], report["frame_end"], report["fps"]) == (1, 100, 60.0)
    assert report["clips"] == 4  # later imports reuse the clips


def test_import_capture_again_replaces_its_cameras_and_clears_the_default_cube(blender_home, tmp_path):
    """Importing the capture again (another world, from a fit) replaces the cameras of the
    earlier import, with a note, so that Reconstruct never sees 8 cameras; "Clean scene" (on by
    default) removes Blender's untouched startup cube, never a cube of the user's."""
    home, _ = blender_home
    fit, _ = cube_fit(tmp_path / "fit", world={"up_axis": "+Y", "world_units_per_metre": 1000.0})
    report = run_blender("capture.py", EXAMPLE / "calibration/Calib.toml", EXAMPLE / "videos", fit / "fit.json",
                         home=home)
    names = ["cam01", "cam02", "cam03", "cam04"]
    three = report["after_three"]
    assert three["cube_at_start"] and not three["cube"]
    assert three["cameras"] == names and three["collections"] == ["DiffProxy Calib"]
    fourth = report["fourth"]
    assert fourth["cameras"] == names and fourth["kept"] and fourth["moved_cube"] == "Cube"
    assert fourth["notes"][-1] == f"replaced the cameras of an earlier import: {', '.join(names)}"
    assert not any("default cube" in note for note in fourth["notes"])


def test_import_capture_with_image_sequences(blender_home, tmp_path):
    """A camera JSON calibration with no footage size issue, frames as numbered PNGs."""
    home, _ = blender_home
    K = np.array([[60.0, 0, 31.5], [0, 60.0, 23.5], [0, 0, 1]])
    cams = [CameraCalibration(n, K, np.zeros(5), np.eye(3), [0, 0, 3.0], 64, 48) for n in ("c1", "c2")]
    write_calibration_json(Calibration(cams, tmp_path / "cameras.json", "json"), tmp_path / "cameras.json")
    (tmp_path / "footage/c1").mkdir(parents=True)
    for i in range(3):
        write_png(tmp_path / f"footage/c1/frame_{i:04d}.png", np.full((48, 64, 3), 80 * i, np.uint8))
    report = run_blender("sequence.py", tmp_path / "cameras.json", tmp_path / "footage", home=home)
    assert report["result"] == ["FINISHED"], report["error"]
    assert report["cameras"]["c1"] == {"size": [64, 48], "source": "SEQUENCE", "footage": "frame_0000.png"}
    assert report["cameras"]["c2"] == {"size": [64, 48], "source": None, "footage": ""}  # no footage: calibrated size
    assert (report["frame_start"], report["frame_end"]) == (1, 3)


def test_import_fit_follows_the_fit_frame_by_frame(blender_home, tmp_path):
    home, _ = blender_home
    folder, verts = cube_fit(tmp_path / "fit", frames=(0, 2, 5))
    out = tmp_path / "out"
    out.mkdir()
    report = run_blender("fit.py", folder, out, home=home)
    assert report["result"] == ["FINISHED"], report["error"]
    expected = np.stack([verts[..., 0], -verts[..., 2], verts[..., 1]], -1) / 100.0  # +Y up cm -> +Z up m
    got = np.load(out / "evaluated.npz")
    scene_frames = got["frames"].tolist()
    assert scene_frames == [1, 2, 3, 4, 5, 6]  # footage frame f shows at scene frame f + 1
    for f, v in zip((0, 2, 5), expected):
        np.testing.assert_allclose(got["vertices"][scene_frames.index(f + 1)], v, atol=1e-5)
    np.testing.assert_allclose(got["vertices"][1], (expected[0] + expected[1]) / 2, atol=1e-5)  # in between: linear
    assert report["faces"] == 12 and report["fps"] == 30.0
    assert report["groups"] == {"part_head": 2, "part_neck": 2, "part_hips": 2, "part_spine": 2}
    assert len(report["actions"]) == 1
    for name in ("body.glb", "body.fbx"):
        assert report["exports"][name] == [["FINISHED"], None]
        assert (out / name).stat().st_size > 1000
    glb = (out / "body.glb").read_bytes()
    assert glb[:4] == b"glTF"
    gltf = json.loads(glb[20:20 + int.from_bytes(glb[12:16], "little")])
    assert len(gltf["meshes"][0]["primitives"][0]["targets"]) == 3  # a morph target per frame
    assert [c["target"]["path"] for c in gltf["animations"][0]["channels"]] == ["weights"]
    assert b"AnimationCurve" in (out / "body.fbx").read_bytes()  # the shape keys' animation, baked
    assert report["missing_fit"][0] is None and "no fit.json" in report["missing_fit"][1]


def test_import_fit_builds_the_rig(blender_home, tmp_path, anny64):
    """A fit with a rig (Anny's, written by write_reconstruction, Y-up millimetres) becomes an
    armature with the model's bones and the mesh skinned to it: the evaluated mesh is the fit's
    at every fitted frame, and an FBX round trip keeps the joints."""
    from helpers import random_pose, write_body_fit

    from engine.pipeline.world import WorldFrame

    home, _ = blender_home
    p = random_pose(anny64, 3, 0.3, seed=2)
    p.shape[:], p.scale[:] = p.shape[:1].clone(), p.scale[:1].clone()
    world = WorldFrame(1000.0, "mm", "+Y", 0.0)
    folder = write_body_fit(tmp_path / "fit", anny64, p, world, frames=[0, 1, 3], fps=25.0)
    out = tmp_path / "out"
    out.mkdir()
    report = run_blender("rig.py", folder, out, home=home, timeout=300)
    assert report["result"] == ["FINISHED"], report["error"]
    z, got = np.load(folder / "fit.npz"), np.load(out / "evaluated.npz")
    names = list(z["rig_bone_names"])
    order = [names.index(n) for n in got["bone_names"]]
    at = [got["frames"].tolist().index(f + 1) for f in (0, 1, 3)]  # footage frame f at scene frame f + 1
    expected = world.points_to_engine(z["vertices"])  # Blender: Z up, metres
    error = np.linalg.norm(got["vertices"][at] - expected, axis=-1).max(axis=-1)
    assert error.max() < 1e-5, error
    heads = world.points_to_engine(z["rig_pose"][:, order][..., :3, 3])
    np.testing.assert_allclose(got["heads"][at], heads, atol=1e-5)
    rest = z["rig_rest"][order]
    np.testing.assert_allclose(got["rest"][:, :3, :3], world.R_engine_user @ rest[:, :3, :3], atol=2e-4)  # float32 roll
    np.testing.assert_allclose(got["rest"][:, :3, 3], world.points_to_engine(rest[:, :3, 3]), atol=1e-5)
    fbx = np.linalg.norm(got["heads_fbx"] - got["heads"], axis=-1).max()
    assert fbx < 1e-3, fbx  # FBX out and back in: the same joints at every frame
    assert np.linalg.norm(got["vertices_fbx"] - got["vertices"], axis=-1).max() < 1e-3
    assert report["bones"] == 104 and report["fps"] == 25.0 and report["frame_range"] == [1, 4]
    assert set(names) < set(report["groups"]) and "part_head" in report["groups"]
    assert report["uv_layers"] == ["UVMap"] and report["modifiers"] == [["ARMATURE", report["parent"]]]
    assert report["rotation_modes"] == ["QUATERNION"]
    assert report["curves"] == ["location", "rotation_quaternion"] and report["curve_count"] == 104 * 4 + 3
    assert report["fbx_bones"]
    for name in ("body.glb", "body.fbx"):
        assert report["exports"][name] == [["FINISHED"], None]
    glb = (out / "body.glb").read_bytes()
    gltf = json.loads(glb[20:20 + int.from_bytes(glb[12:16], "little")])
    assert len(gltf["skins"][0]["joints"]) == 104
    # glTF's default: the 4 largest weights of a vertex; "all influences" adds sets of 4 (Anny: up to 9)
    most = int((np.load(folder / "fit.npz")["skin_weight"] > 0).sum(axis=1).max())
    assert most > 4 and {"JOINTS_0", "WEIGHTS_0"} <= set(gltf["meshes"][0]["primitives"][0]["attributes"])
    assert "JOINTS_1" not in gltf["meshes"][0]["primitives"][0]["attributes"]
    assert report["exports"]["all.glb"] == [["FINISHED"], None]
    glb = (out / "all.glb").read_bytes()
    attributes = json.loads(glb[20:20 + int.from_bytes(glb[12:16], "little")])["meshes"][0]["primitives"][0]["attributes"]
    assert {f"JOINTS_{i}" for i in range((most + 3) // 4)} <= set(attributes)
    assert {c["target"]["path"] for c in gltf["animations"][0]["channels"]} >= {"rotation", "translation"}


def test_registration_is_undone_and_reconstruct_reports_errors(blender_home, tmp_path):
    home, _ = blender_home
    fit_source, _ = cube_fit(tmp_path / "fit_source")
    fake = tmp_path / "fake python"  # a space: the command is an argument list, no shell
    fake.write_text(f'#!/bin/sh\nFAKE_FIT_SOURCE="{fit_source}" exec "{sys.executable}" '
                    f'"{SCRIPTS / "fake_engine.py"}" "$@"\n')
    fake.chmod(0o755)
    report = run_blender("ops.py", fake, EXAMPLE / "videos", EXAMPLE / "calibration/Calib.toml",
                         tmp_path / "out", home=home)
    assert report["enabled"]["operators"] == OPERATORS
    assert report["enabled"]["pointers"] == ["Scene", "Camera", "WindowManager"]
    assert report["after"] == report["before"] and not report["before"]["types"]
    assert report["again"] == report["enabled"]
    runs = report["runs"]
    assert runs["missing"][0] is None
    assert "engine interpreter /nonexistent/bin/python: no executable" in runs["missing"][1]
    assert runs["not_executable"][0] is None and "no executable file" in runs["not_executable"][1]
    assert runs["fails"][0] is None and "exit 2" in runs["fails"][1] and "no camera named cam09" in runs["fails"][1]
    assert runs["works"] == [["FINISHED"], None, 1]  # the fit imported as one new object
    assert (tmp_path / "out/fit.json").is_file() and not report["running"]
    import torch

    if not torch.cuda.is_available():  # the device setting: cuda without a GPU refused before anything is written
        assert runs["cuda"][0] is None and not (tmp_path / "out_cuda").exists()
        assert _one_line(runs["cuda"][1]) == (f"device cuda: the engine interpreter {sys.executable} sees no CUDA GPU "
                                             f"(torch.cuda.is_available() is False): choose Auto or CPU in the add-on "
                                             f"preferences")

    done = report["modal_done"]  # the UI path, its events fed by hand
    assert done["results"] == [["PASS_THROUGH"], ["FINISHED"]]
    assert done["statuses"] and all(s.endswith("/3 frames") for s in done["statuses"])
    assert not done["running"] and done["new_objects"] == 0  # the same fit again: its earlier body replaced
    assert [["INFO"], f"replaced the body imported earlier from {tmp_path / 'out/fit.json'} (anny out)"] in done[
        "reports"]
    assert report["import_again"] == [["FINISHED"], None] and report["bodies"] == ["anny out"]  # one body, not three
    assert ["timer removed", "timer"] in done["reports"]
    cancel = report["modal_cancel"]
    assert cancel["results"] == [["PASS_THROUGH"], ["CANCELLED"]]
    assert cancel["statuses"] == ["1/3 frames"] and not cancel["running"]  # the engine's last progress line
    assert cancel["returncode"] == -15  # SIGTERM to its process group
    assert [["WARNING"], "reconstruction cancelled"] in cancel["reports"]

    labels = report["labels"]  # what the panel tells: frames counted from 0, the slow option, the cube
    assert labels["frames"][0] == "Footage frames"
    assert "counted from 0 (footage frame 0 shows at scene frame 1" in labels["frames"][1]
    assert "about 48 s per frame on a CPU" in labels["proxies_model"]
    assert labels["clean_scene"][0] is True and "default cube" in labels["clean_scene"][1]
    drawn = report["panel"]  # drawn before and after a body was imported
    assert [name for _, name, exists in drawn if not exists] == []
    assert {name for kind, name, _ in drawn if kind == "operator" and name.count(".") == 1} == {
        f"diffproxy.{op}" for op in OPERATORS if op != "install_engine"}  # install: in the preferences


def test_install_engine_sets_the_interpreter_or_names_the_failed_step(blender_home, tmp_path):
    """Install Engine with its pip steps swapped for stand-ins (no network): a real ``python3.11
    -m venv``, a failing pip step reported by name with pip's last lines, the preference set
    only on success."""
    import shutil

    base = shutil.which("python3.11")
    if base is None:
        pytest.skip("no python3.11 on PATH")
    home, _ = blender_home
    report = run_blender("install_engine.py", base, tmp_path, home=home)
    runs = report["runs"]
    assert ["operator", "diffproxy.install_engine", True] in runs["draw_missing"]
    assert all(e[2] for e in runs["draw_missing"] if e[0] in ("prop", "operator"))
    result, error, python = runs["fails"]
    assert result is None and python == "/keep/this/python"  # unchanged
    assert "engine install failed at step 2/3 (install diffproxy from /nonexistent/diffproxy) failed (exit 1)" in error
    assert "does not exist" in error  # pip's own last lines
    assert not report["never"] and (tmp_path / "failing/pyvenv.cfg").is_file()
    assert report["seen"]["failing"] == [base, str(tmp_path / "failing"), str(ROOT)]
    result, error, python = runs["bad_python"]
    assert result is None and python == "/keep/this/python"
    assert "engine install: Python /nonexistent/python3.11: could not run it" in error

    result, error, python = runs["works"]
    folder = Path(report["default_folder"])
    assert (result, error) == (["FINISHED"], None), error
    assert folder.name == "diffproxy-engine" and folder.is_relative_to(home)
    assert python == str(folder / "bin/python") and (folder / "pyvenv.cfg").is_file()
    steps = report["seen"]["working"]  # what would have run
    assert [argv for _, argv in steps] == [[base, "-m", "venv", str(folder)],
                                            [python, "-m", "pip", "install", "torch==2.13.0"],
                                            [python, "-m", "pip", "install", str(ROOT)]]
    assert not any(e[0] == "operator" for e in runs["draw_found"])  # an interpreter now: no install box
    assert not report["running"]


def test_reconstruct_job_is_the_scene_cameras(blender_home, tmp_path):
    """Reconstruct's job folder holds the scene's cameras as they are now: written back through
    the one Blender <-> OpenCV conversion into the capture's own world, read by the engine's
    calibration reader, they project like the original Calib.toml (lens distortion carried
    while a camera's intrinsics are the imported ones) or, once edited in Blender, like
    Blender's own cameras; the footage is linked under the camera names."""
    from engine.io.calibration import read_calibration

    home, _ = blender_home
    report = run_blender("job.py", EXAMPLE / "calibration/Calib.toml", EXAMPLE / "videos", tmp_path, home=home)
    assert "no cameras with footage to reconstruct from" in report["no_cameras"]["error"]
    original = read_calibration(EXAMPLE / "calibration/Calib.toml")
    rng = np.random.default_rng(0)
    points = rng.uniform([-1, -1, 0], [1, 1, 1.8], (50, 3))  # metres, Z up: around the platform
    for label in ("z_up_m", "y_up_mm"):  # "+Y up, mm" maps back to the file's own numbers as well
        job = report[label]
        assert job["frames"] == "0:100" and job["notes"] == []  # the scene's range, footage frames
        assert job["footage"] == ["cam01.mp4", "cam02.mp4", "cam03.mp4", "cam04.mp4"]
        assert all(Path(t) == (EXAMPLE / "videos" / n).resolve() for n, t in job["links"].items())
        written = read_calibration(job["calibration"])
        assert written.names() == original.names()
        for cam in original.cameras:
            got = written[cam.name]
            expected = cam.scaled(got.width, got.height)  # the footage's size (cam01, cam02: 1080 wide)
            np.testing.assert_allclose(got.dist[:4], cam.dist[:4], atol=1e-9)
            error = np.abs(got.project(points) - expected.project(points)).max()
            assert error < 0.5, (label, cam.name, error)  # asked: 0.5 px; found ~1e-4 px
            assert error < 0.01, (label, cam.name, error)

    edited = report["edited"]
    assert edited["frames"] == "3:7"
    assert edited["footage"] == ["cam01.mp4", "cam02.mp4", "cam05.mp4"]
    assert edited["links"]["cam05.mp4"] == str((EXAMPLE / "videos/cam03.mp4").resolve())
    assert edited["notes"] == ["cam02: focal length, sensor, shift or size changed since import: its lens "
                               "distortion no longer applies and is left out"]
    written = read_calibration(edited["calibration"])
    assert written.names() == ["cam01", "cam02", "cam05"]
    points_user = np.array(edited["points_user"])
    for name in written.names():
        got = written[name].project(points_user, distort=False)
        error = np.abs(got - np.array(edited["blender_pixels"][name])).max()
        assert error < 0.01, (name, error)  # where Blender's camera, as edited, sees the points
    assert np.any(written["cam01"].dist) and not np.any(written["cam02"].dist) and not np.any(written["cam05"].dist)
    moved = written["cam01"].center_world - original["cam01"].center_world
    np.testing.assert_allclose(moved, [100.0, 20.0, 50.0], atol=1e-3)  # Blender (0.1, -0.05, 0.02) m in +Y-up mm
    assert (written["cam05"].width, written["cam05"].height) == (1088, 1920)
    assert "no camera object named 'nothere'" in report["unknown_camera"]["error"]
    assert "frame range 200-300: no footage frame in it" in report["outside_footage"]["error"]


def _one_line(error: str) -> str:
    """An operator's ERROR as a script gets it: ``Error: <report>\\n``; the report, one line."""
    text = error.removeprefix("Error: ").rstrip("\n")
    assert "\n" not in text and "Traceback" not in text, error
    return text


def test_damaged_fit_and_failed_export_are_one_line_errors(blender_home, tmp_path):
    """Import Fit of a damaged fit and an export that cannot be written: one line naming the
    file (and the field), no traceback. A fit with fps 0 (image folders) imports at the scene's
    rate with a note."""
    import json

    from addon_support import rig_cube_fit

    home, _ = blender_home
    damaged = tmp_path / "damaged"
    data = (rig_cube_fit(damaged / "truncated") / "fit.npz").read_bytes()
    (damaged / "truncated/fit.npz").write_bytes(data[:len(data) // 2])
    for name, change in (("fast", {"fps": "fast"}), ("escape", {"files": {"npz": "../../good/fit.npz"}})):
        record = json.loads((rig_cube_fit(damaged / name) / "fit.json").read_text())
        (damaged / name / "fit.json").write_text(json.dumps({**record, **change}))
    for name, key in (("nan_rest", "rig_rest"), ("nan_pose", "rig_pose")):
        arrays = dict(np.load(rig_cube_fit(damaged / name) / "fit.npz"))
        arrays[key][..., 0, 3] = np.nan
        np.savez(damaged / name / "fit.npz", **arrays)
    (rig_cube_fit(damaged / "nested") / "fit.json").write_text("{\"a\": " * 50_000 + "1" + "}" * 50_000)
    no_rate = rig_cube_fit(tmp_path / "no_rate")
    record = json.loads((no_rate / "fit.json").read_text())
    (no_rate / "fit.json").write_text(json.dumps({**record, "fps": 0.0}))
    np.savez(no_rate / "fit.npz", **{**np.load(no_rate / "fit.npz"), "fps": np.asarray(0.0)})
    good = rig_cube_fit(tmp_path / "good")
    out = tmp_path / "out"
    out.mkdir()
    report = run_blender("fit_errors.py", damaged, no_rate, good, out, home=home)

    expected = {"truncated": "truncated/fit.npz: not a readable fit.npz (BadZipFile",
                "fast": "fast/fit.json: field 'fps': expected int or float, got fast",
                "escape": "escape/fit.json: field 'files.npz': expected a file inside the fit's folder",
                "nan_rest": "nan_rest/fit.npz: 'rig_rest': 2 non-finite value(s)",
                "nan_pose": "nan_pose/fit.npz: 'rig_pose': 4 non-finite value(s)",
                "nested": "nested/fit.json: not a fit record: nested too deeply"}
    for name, message in expected.items():
        result, error = report["imports"][name]
        assert result is None and _one_line(error).startswith(f"{damaged}/{message}"), (name, error)

    no_rate_run = report["no_rate"]
    assert no_rate_run["op"] == [["FINISHED"], None] and no_rate_run["fps"] == 24.0  # the scene's rate kept
    assert [["WARNING"], f"{no_rate / 'fit.json'}: no frame rate recorded (0 or absent, as from image folders): "
                         f"the body is keyed at the scene's rate (24 fps)"] in no_rate_run["reports"]

    exports = report["exports"]
    for kind in ("glb", "fbx"):
        assert _one_line(exports[f"missing_folder.{kind}"][1]) == (
            f"{out}/missing/body.{kind}: its folder {out}/missing does not exist")
        assert _one_line(exports[f"folder.{kind}"][1]) == f"{out}/a_folder.{kind}: a folder, not a file to export to"
        assert _one_line(exports[f"proc.{kind}"][1]).startswith(f"/proc/diffproxy_export_test.{kind}: ")
    assert exports["works.glb"] == [["FINISHED"], None] and not (out / "missing").exists()


def test_disabling_the_extension_ends_a_running_job(blender_home, tmp_path):
    """A Reconstruct running from the UI when the extension is disabled: its engine process
    group is ended by unregister, not left running until Blender exits."""
    home, _ = blender_home
    fit_source, _ = cube_fit(tmp_path / "fit_source")
    fake = tmp_path / "fake_python"
    fake.write_text(f'#!/bin/sh\nFAKE_FIT_SOURCE="{fit_source}" exec "{sys.executable}" '
                    f'"{SCRIPTS / "fake_engine.py"}" "$@"\n')
    fake.chmod(0o755)
    report = run_blender("disable_running.py", fake, EXAMPLE / "videos", EXAMPLE / "calibration/Calib.toml",
                         tmp_path / "out", home=home)
    assert report["progress"] == [1, 3] and report["alive_before"]  # the stand-in engine, mid-run
    assert report["alive_after"] == [] and report["returncode"] == -15  # SIGTERM to its process group
    assert report["disable_s"] < 3.0
