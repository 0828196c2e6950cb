"""The add-on's numpy-level logic (core/ and the vendored engine modules), run here without
Blender: world conversion, fit and footage reading, the reconstruct job."""

import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from addon_support import EXAMPLE, cube_fit, staged_module, write_fit

from engine.geometry.blender_camera import blender_to_opencv
from engine.io.calibration import read_calibration

CALIB = EXAMPLE / "calibration/Calib.toml"


@pytest.fixture(scope="module")
def core(staged):
    names = ("core.world", "core.fitfile", "core.footage", "core.job", "core.install", "vendor.errors",
             "vendor.calibration", "vendor.parts")
    return {n.split(".")[-1]: staged_module(n) for n in names}


def test_vendored_reader_matches_the_engine(core):
    ours, engine = core["calibration"].read_calibration(CALIB), read_calibration(CALIB)
    assert ours.names() == engine.names()
    for a, b in zip(ours.cameras, engine.cameras):
        np.testing.assert_array_equal(a.K, b.K)
        np.testing.assert_array_equal(a.R_cam_world, b.R_cam_world)
        assert (a.width, a.height) == (b.width, b.height)


def test_camera_for_footage_size_is_the_rescaled_calibration(core):
    cam = read_calibration(CALIB)["cam01"]
    world = core["world"].world_frame("+Z", 1.0)
    ours = core["calibration"].read_calibration(CALIB)["cam01"]
    settings = core["world"].camera_to_blender(world, ours, (1080, 1920))
    K, R, t, size = blender_to_opencv(settings)
    ref = cam.scaled(1080, 1920)
    assert size == (1080, 1920)
    np.testing.assert_allclose(K, ref.K, atol=1e-9)
    np.testing.assert_allclose(R, ref.R_cam_world, atol=1e-12)
    np.testing.assert_allclose(t, ref.t_cam_world, atol=1e-12)


def test_world_turns_y_up_into_z_up_metres(core):
    w = core["world"]
    p = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(w.points_to_blender(w.world_frame("+Y", 1000.0), p), [[0.001, -0.003, 0.002]])
    np.testing.assert_allclose(w.points_to_blender(w.world_frame("+Z", 1.0), p), p)
    with pytest.raises(core["errors"].InputError, match="up axis: expected one of"):
        w.world_frame("Y", 1.0)
    with pytest.raises(core["errors"].InputError, match="field 'world': units per metre"):
        w.world_from_record({"up_axis": "+Z", "world_units_per_metre": -1}, "fit.json")


def test_read_fit_converts_to_blender(core, tmp_path):
    folder, verts = cube_fit(tmp_path / "fit")
    fit = core["fitfile"].read_fit(folder / "fit.json")
    np.testing.assert_allclose(fit.vertices, np.stack([verts[..., 0], -verts[..., 2], verts[..., 1]], -1) / 100.0)
    assert fit.scene_frames.tolist() == [1, 3, 6] and fit.fps == 30.0
    assert fit.vertices[..., 2].min() == pytest.approx(0.0)  # the floor stays at z = 0
    assert [fit.part_names[i] for i in (1, 2, 3, 4)] == ["head", "neck", "hips", "spine"]


def test_read_fit_names_what_is_wrong(core, tmp_path):
    read, err = core["fitfile"].read_fit, core["errors"].InputError
    with pytest.raises(err, match="no fit.json"):
        read(tmp_path)
    folder, _ = cube_fit(tmp_path / "a")
    (folder / "fit.npz").unlink()
    with pytest.raises(err, match="fit.npz: missing"):
        read(folder)
    write_fit(tmp_path / "b", np.zeros((2, 8, 2)), [[0, 1, 2]], [1] * 8, [0, 1])
    with pytest.raises(err, match=r"'vertices': expected shape \(V, 3\) or \(T, V, 3\), got \(2, 8, 2\)"):
        read(tmp_path / "b")
    write_fit(tmp_path / "c", np.zeros((8, 3)), [[0, 1, 9]], [1] * 8, [0])
    with pytest.raises(err, match="'faces': expected"):
        read(tmp_path / "c")
    write_fit(tmp_path / "d", np.zeros((2, 8, 3)), [[0, 1, 2]], [1] * 8, [3, 1])
    with pytest.raises(err, match="'frames': expected 2 increasing"):
        read(tmp_path / "d")
    (tmp_path / "d/fit.json").write_text('{"kind": "other"}')
    with pytest.raises(err, match="field 'kind'"):
        read(tmp_path / "d")


def test_single_frame_fit_without_world_is_engine_frame(core, tmp_path):
    write_fit(tmp_path, np.ones((8, 3)), [[0, 1, 2]], [1] * 8, [0], world=None)
    fit = core["fitfile"].read_fit(tmp_path)
    assert fit.vertices.shape == (1, 8, 3) and fit.world.up_axis == "+Z"
    np.testing.assert_array_equal(fit.vertices[0], np.ones((8, 3)))


def test_find_footage(core, tmp_path):
    find, err = core["footage"].find_footage, core["errors"].InputError
    found, missing = find(EXAMPLE / "videos", ["cam01", "cam04", "cam09"])
    assert {k: v.name for k, v in found.items()} == {"cam01": "cam01.mp4", "cam04": "cam04.mp4"}
    assert missing == ["cam09"]
    (tmp_path / "c1").mkdir()
    for i in (2, 1):
        (tmp_path / f"c1/frame_{i:04d}.png").write_bytes(b"")
    assert find(tmp_path, ["c1"])[0]["c1"].name == "frame_0001.png"
    (tmp_path / "c1.mp4").write_bytes(b"")
    with pytest.raises(err, match="camera c1 has both c1.mp4 and frames"):
        find(tmp_path, ["c1"])
    with pytest.raises(err, match="no footage for any camera"):
        find(tmp_path, ["x"])


def test_reconstruct_command_is_an_argument_list(core, tmp_path):
    job, err = core["job"], core["errors"].InputError
    with pytest.raises(err, match="engine interpreter /nope/python: no executable file"):
        job.reconstruct_command("/nope/python", tmp_path, CALIB, tmp_path / "out")
    with pytest.raises(err, match="engine interpreter: not set"):
        job.reconstruct_command("", tmp_path, CALIB, tmp_path / "out")
    cmd = job.reconstruct_command(sys.executable, tmp_path, CALIB, tmp_path / "out", " 0:10 ")
    assert cmd == [sys.executable, "-m", "engine.cli.main", "reconstruct", str(tmp_path), "--calibration", str(CALIB),
                   "--out", str(tmp_path / "out"), "--progress", "jsonl", "--frames", "0:10"]
    # the panel's settings and the preferences as the engine's options
    smplx = tmp_path / "SMPLX_NEUTRAL.npz"
    smplx.write_bytes(b"x")
    cmd = job.reconstruct_command(sys.executable, tmp_path, CALIB, tmp_path / "out", "", " cam01, cam03 ", "model",
                                  str(tmp_path), 2, 4, True, "smplx", str(smplx), "cpu")
    assert cmd[cmd.index("--cameras") + 1] == "cam01,cam03"
    assert cmd[cmd.index("--proxies"):cmd.index("--proxies") + 8] == ["--proxies", "model", "--checkpoint",
                                                                         str(tmp_path), "--samples", "2", "--steps", "4"]
    assert ["--body", "smplx", "--smplx-model", str(smplx)] == cmd[cmd.index("--body"):cmd.index("--body") + 4]
    assert "--refine-cameras" in cmd and cmd[-2:] == ["--device", "cpu"]
    shipped = job.reconstruct_command(sys.executable, tmp_path, CALIB, tmp_path / "out", proxies="model")
    assert "--checkpoint" not in shipped and shipped[shipped.index("--proxies") + 1] == "model"  # the engine's own
    with pytest.raises(err, match="checkpoint '/nope': no such folder"):
        job.reconstruct_command(sys.executable, tmp_path, CALIB, tmp_path / "out", proxies="model", checkpoint="/nope")
    with pytest.raises(err, match="SMPL-X model file"):
        job.reconstruct_command(sys.executable, tmp_path, CALIB, tmp_path / "out", body="smplx")


def test_render_command_is_an_argument_list(core, tmp_path):
    job, err = core["job"], core["errors"].InputError
    with pytest.raises(err, match="engine interpreter /nope/python: no executable file"):
        job.render_command("/nope/python", tmp_path, 2)
    with pytest.raises(err, match="dataset folder: not set"):
        job.render_command(sys.executable, " ", 2)
    with pytest.raises(err, match="scenes: 0, expected 1 or more"):
        job.render_command(sys.executable, tmp_path, 0)
    base = [sys.executable, "-m", "engine.cli.main", "render", "--out", str(tmp_path), "--scenes", "4", "--seed", "7",
            "--progress", "jsonl", "--json"]
    assert job.render_command(sys.executable, tmp_path, 4, 7) == base  # 0: the engine's defaults
    assert job.render_command(sys.executable, tmp_path, 4, 7, num_views=3, resolution=64, samples=2) == base + [
        "--num-views", "3", "--resolution", "64", "--samples", "2"]


def test_calibrate_command_and_its_notes(core, tmp_path):
    job, err = core["job"], core["errors"].InputError
    with pytest.raises(err, match="engine interpreter /nope/python: no executable file"):
        job.calibrate_command("/nope/python", tmp_path, tmp_path / "out")
    with pytest.raises(err, match="footage folder '/nope': missing"):
        job.calibrate_command(sys.executable, "/nope", tmp_path / "out")
    with pytest.raises(err, match="calibration output folder: not set"):
        job.calibrate_command(sys.executable, tmp_path, " ")
    base = [sys.executable, "-m", "engine.cli.main", "calibrate", str(tmp_path), "--out", str(tmp_path / "out"),
            "--progress", "jsonl", "--json"]
    assert job.calibrate_command(sys.executable, tmp_path, tmp_path / "out") == base  # no board, no sync, no height
    assert job.calibrate_command(sys.executable, tmp_path, tmp_path / "out", " checkerboard:4x7:60 ", tmp_path / "b",
                                 True, 1.7) == base + ["--board", "checkerboard:4x7:60", "--board-images",
                                                       str(tmp_path / "b"), "--sync", "--height", "1.7"]
    assert job.calibrate_notes(None) == [] and job.calibrate_notes({"notes": [], "start_frame": {"a": 0}}) == []
    notes = job.calibrate_notes({"notes": ["camera c3: no board photos"], "not_placed": ["c3"], "sync": {},
                                 "start_frame": {"c1": 12, "c2": 0}})
    assert notes[:2] == ["camera c3: no board photos", "not placed (no camera made for them): c3"]
    assert notes[2].startswith("the cameras started at different frames (start_frame c1 12, c2 0, in report.json)")
    assert job.calibrate_notes({"start_frame": {"c1": 12, "c2": 0}}) == []  # without --sync: no start frames found


def test_progress_records_from_json_lines(core):
    read, progress_of = core["job"].read_record, core["job"].progress_of
    assert progress_of(read('{"stage": "reconstruct", "done": 40, "total": 100}')) == ("reconstruct", 40, 100)
    assert read('{"error": "--frames: bad"}') == {"error": "--frames: bad"}
    for text in ("reconstruct:  40%|####      | 40/100", "{not json", "[1, 2]", "loading"):
        assert read(text) is None, text
    for record in ({"stage": "render", "done": 3, "total": 0}, {"stage": "render", "done": 4, "total": 3},
                   {"stage": "render", "done": "1", "total": 3}, {"error": "x"}):
        assert progress_of(record) is None, record


def test_job_reads_progress_errors_and_the_summary(core):
    """Progress and the error from JSON lines on stderr, the summary from stdout; text (a
    warning, a bar redrawn with a carriage return) stays text, and a JSON line cut across
    writes is read whole."""
    code = ("import json, sys, time\n"
            "sys.stderr.write('a warning\\n')\n"
            "for i in range(4):\n"
            "    sys.stderr.write(json.dumps({'stage': 'render', 'done': i, 'total': 3}) + '\\n'); sys.stderr.flush()\n"
            "    time.sleep(0.01)\n"
            "sys.stderr.write('{\"error\": '); sys.stderr.flush(); time.sleep(0.05)\n"
            "sys.stderr.write('\"--frames: bad\"}\\n'); sys.stderr.write('\\rpip 1/2\\rpip 2/2\\n')\n"
            "print(json.dumps({'rendered': 3, 'skipped': 0, 'busy': 0, 'scenes': 3})); sys.exit(2)")
    job = core["job"].Job([sys.executable, "-c", code])
    assert job.wait() == 2
    assert (job.stage, job.progress) == ("render", (3, 3))
    assert job.error == "--frames: bad" and job.error_text() == "--frames: bad"
    assert job.result == {"rendered": 3, "skipped": 0, "busy": 0, "scenes": 3}
    assert [ln.strip() for ln in job.lines] == ["a warning", "pip 1/2", "pip 2/2"] and job.last_line == "pip 2/2"
    assert core["job"].render_report(job.result, "/d") == "rendered 3, already done 0 of 3 scenes in /d"
    assert core["job"].render_report(None, "/d") == "rendered into /d"
    quiet = core["job"].Job([sys.executable, "-c", "import sys; print('one'); print('two'); sys.exit(1)"])
    assert quiet.wait() == 1 and quiet.error is None and quiet.error_text() == "one | two"  # no error line: the last


def test_job_reads_a_real_engine_run(core, tmp_path):
    """``diffproxy reconstruct --progress jsonl`` with bad input: its error record (~5 s)."""
    job = core["job"]
    bad = job.Job(job.reconstruct_command(sys.executable, EXAMPLE / "videos", CALIB, tmp_path / "bad", "x"))
    assert bad.wait() == 2 and bad.progress is None
    assert bad.error_text() == "--frames: expected START:STOP[:STEP] or N, got 'x'"


@pytest.mark.slow
def test_job_follows_a_real_reconstruction_to_its_last_frame(core, tmp_path, anny32):
    """Two frames from two cameras (~20 s): every JSON line the engine writes is read as a
    record (none is left as text) and the progress reaches done == total."""
    job = core["job"]
    run = job.Job(job.reconstruct_command(sys.executable, EXAMPLE / "videos", CALIB, tmp_path / "fit", "0:2",
                                          "cam01,cam02"))
    seen = set()
    while run.poll() is None:
        seen.add(run.progress)
        time.sleep(0.05)
    assert run.process.returncode == 0, run.error_text()
    assert (run.stage, run.progress) == ("reconstruct", (2, 2)) and seen - {None} <= {(0, 2), (1, 2), (2, 2)}
    assert run.error is None and not [ln for ln in run.lines if ln.lstrip().startswith("{")]
    assert (tmp_path / "fit" / "fit.json").is_file()


def test_job_cancel_ends_its_process_group(core):
    job = core["job"].Job(["/bin/sh", "-c", "sleep 60 & echo $!; wait"])
    deadline = time.time() + 10
    while not job.lines and time.time() < deadline:
        job.poll()
        time.sleep(0.02)
    grandchild = int(job.lines[0])
    job.cancel(grace_s=5)
    assert job.process.returncode is not None
    time.sleep(0.2)
    assert not _alive(grandchild)


def test_job_that_cannot_start_is_an_input_error(core, tmp_path):
    bad = tmp_path / "python"
    bad.write_text("not a program")
    bad.chmod(0o755)
    with pytest.raises(core["errors"].InputError, match="could not start"):
        core["job"].Job([str(bad)])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie waiting for init is gone too
        return f.read().split(")")[-1].split()[0] != "Z"


def test_default_interpreter_is_the_checkout_venv(core, staged):
    from addon_support import ROOT

    exe = ("Scripts", "python.exe") if sys.platform == "win32" else ("bin", "python")
    assert ROOT / ".venv" / exe[0] / exe[1] in core["job"].engine_python_candidates(staged)


def test_calibration_without_image_size_takes_the_footage_size(core):
    cal = core["calibration"]
    K = np.array([[500.0, 0, 319.5], [0, 500.0, 239.5], [0, 0, 1]])
    cam = cal.CameraCalibration("c", K, np.zeros(5), np.eye(3), np.zeros(3), 0, 0)  # EasyMocap: size unknown
    world = core["world"].world_frame()
    K2, _, _, size = blender_to_opencv(core["world"].camera_to_blender(world, cam, (640, 480)))
    assert size == (640, 480)
    np.testing.assert_allclose(K2, K, atol=1e-9)
    with pytest.raises(core["errors"].InputError, match="camera 'c': the calibration gives no image size"):
        core["world"].camera_to_blender(world, cam)


def test_rig_keys_rebuild_the_bone_poses(staged):
    """Quaternions from rotation matrices (half-turns included) and the pose bones' bases that
    Blender's chain (pose_c = pose_p @ inv(rest_p) @ rest_c @ basis_c) turns back into the poses."""
    import roma
    import torch

    rig = staged_module("core.rig")
    R = roma.random_rotmat(200, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).numpy()
    R[:3] = [np.diag([1.0, -1, -1]), np.diag([-1.0, 1, -1]), np.diag([-1.0, -1, 1])]  # half-turns
    q = rig.quaternions(R[:, None])[:, 0]  # frames of one bone: signs follow the previous frame
    back = roma.unitquat_to_rotmat(torch.as_tensor(q[:, [1, 2, 3, 0]])).numpy()  # roma: w last
    np.testing.assert_allclose(back, R, atol=1e-12)
    assert ((q[1:] * q[:-1]).sum(-1) >= 0).all()

    def rigid(n):
        M = np.tile(np.eye(4), (n, 1, 1))
        M[:, :3, :3] = roma.random_rotmat(n, dtype=torch.float64, generator=torch.Generator().manual_seed(n)).numpy()
        M[:, :3, 3] = np.random.default_rng(n).normal(size=(n, 3))
        return M

    parents = np.array([-1, 0, 1, 1, 0])
    rest, pose = rigid(5), rigid(10).reshape(2, 5, 4, 4)
    basis = rig.pose_basis(rest, parents, pose)
    for t in range(2):
        chain = []
        for j, p in enumerate(parents):
            start = rest[j] if p < 0 else chain[p] @ np.linalg.inv(rest[p]) @ rest[j]
            chain.append(start @ basis[t, j])
        np.testing.assert_allclose(np.stack(chain), pose[t], atol=1e-12)


def test_install_steps_are_argument_lists(core, staged, tmp_path):
    from addon_support import ROOT

    inst, err = core["install"], core["errors"].InputError
    assert inst.engine_source(staged) == ROOT  # vendor/source.txt: the checkout the add-on was built from
    venv = tmp_path / "my env"
    py = str(venv / "bin/python")
    assert inst.install_steps("/usr/bin/python3.11", venv, ROOT) == [
        ("create the virtual environment", ["/usr/bin/python3.11", "-m", "venv", str(venv)]),
        ("install torch==2.13.0", [py, "-m", "pip", "install", "torch==2.13.0"]),
        (f"install diffproxy from {ROOT}", [py, "-m", "pip", "install", str(ROOT)])]
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor/source.txt").write_text("/nonexistent/checkout\n")
    with pytest.raises(err, match="engine source /nonexistent/checkout: no pyproject.toml"):
        inst.engine_source(tmp_path)
    for name, lines, match in (("novenv", "missing venv", "has no venv module .Blender's bundled Python"),
                               ("old", "3.10", "is Python 3.10: the engine needs Python 3.11")):
        stub = tmp_path / name
        stub.write_text(f"#!/bin/sh\necho {lines}\n")
        stub.chmod(0o755)
        with pytest.raises(err, match=match):
            inst.check_base_python(stub)
    assert inst.check_base_python(sys.executable) == Path(sys.executable)  # this venv: 3.11 with venv, ensurepip


def test_step_job_stops_at_the_failing_step(core, tmp_path):
    steps = [("say hello", [sys.executable, "-c", "print('hello')"]),
             ("install diffproxy from /nonexistent", [sys.executable, "-m", "pip", "install", "--no-index",
                                                      "--no-deps", "/nonexistent/diffproxy"]),
             ("never", [sys.executable, "-c", f"open({str(tmp_path / 'never')!r}, 'w')"])]
    job = core["install"].StepJob(steps)
    assert job.wait() == 1 and job.index == 1 and not (tmp_path / "never").exists()
    text = job.error_text()
    assert text.startswith("step 2/3 (install diffproxy from /nonexistent) failed (exit 1): ")
    assert "does not exist" in text and "--no-index" in text
    assert job.status().startswith("step 2/3 install diffproxy from /nonexistent: ") and job.fraction() == 1 / 3

    slow = core["install"].StepJob([("wait", ["/bin/sh", "-c", "echo waiting; sleep 60"]),
                                    ("never", [sys.executable, "-c", f"open({str(tmp_path / 'never')!r}, 'w')"])])
    deadline = time.time() + 10
    while not slow.last_line and time.time() < deadline:
        slow.poll()
        time.sleep(0.02)
    assert slow.status() == "step 1/2 wait: waiting"
    slow.cancel(grace_s=5)
    assert slow.poll() == -15 and slow.index == 0 and not (tmp_path / "never").exists()


def test_job_folder_refuses_what_the_engine_could_not_read(staged, tmp_path):
    """Names that cannot name a footage file, names equal but for case, missing footage and a
    frame range outside the footage are input errors naming the camera or the range; nothing
    is written for them."""
    jf, errors = staged_module("core.job_folder"), staged_module("vendor.errors")
    blender_camera, world = staged_module("vendor.blender_camera"), staged_module("core.world").world_frame()
    video = tmp_path / "take.mp4"
    video.write_bytes(b"not decoded here")
    settings = blender_camera.BlenderCamera(lens=50.0)
    cases = {"a/b": "cannot name a footage file", "con:": "cannot name a footage file"}
    for name, message in cases.items():
        with pytest.raises(errors.InputError, match=message):
            jf.write_job(tmp_path / "job", [jf.SceneCamera(name, settings, video)], world, "0:1")
    with pytest.raises(errors.InputError, match="repeat"):
        jf.write_job(tmp_path / "job", [jf.SceneCamera("Cam", settings, video), jf.SceneCamera("cam", settings, video)],
                     world, "0:1")
    with pytest.raises(errors.InputError, match="camera c1: its footage .* is missing"):
        jf.write_job(tmp_path / "job", [jf.SceneCamera("c1", settings, tmp_path / "gone.mp4")], world, "0:1")
    assert not (tmp_path / "job").exists()
    files = jf.write_job(tmp_path / "job", [jf.SceneCamera("c1", settings, video)], world, "0:1")
    assert sorted(p.name for p in files.footage.iterdir()) == ["c1.mp4"] and files.calibration.is_file()
    assert jf.frames_option("", 1, 100, 1, 100) == "0:100" and jf.frames_option("", 5, 500, 1, 100) == "4:100"
    assert jf.frames_option(" 3:7 ", 1, 100, 1, 100) == "3:7"
    with pytest.raises(errors.InputError, match="frame range 200-300: no footage frame"):
        jf.frames_option("", 200, 300, 1, 100)


def _tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() and not p.is_symlink() else None)
            for p in sorted(folder.rglob("*"))}


def test_job_folder_of_the_user_is_never_deleted(staged, tmp_path):
    """Reconstruct writes ``<fit>/job``: a ``job/`` the add-on did not write (the user's videos and
    notes, a job.json of another kind, or the add-on's job with a user file added) is refused,
    naming the folder, with every file left; the add-on's own job folder is replaced, and the
    footage its links point to stays."""
    jf, errors = staged_module("core.job_folder"), staged_module("vendor.errors")
    settings = staged_module("vendor.blender_camera").BlenderCamera(lens=50.0)
    world = staged_module("core.world").world_frame()
    shoot = tmp_path / "shoot"
    (shoot / "job").mkdir(parents=True)
    (shoot / "job/cam1.mp4").write_bytes(b"the only copy of the take")
    (shoot / "job/IMPORTANT_notes.txt").write_text("do not lose")
    video = tmp_path / "take.mp4"
    video.write_bytes(b"video")
    cams = [jf.SceneCamera("c1", settings, video)]
    before = _tree(shoot)
    refused = re.escape(f"{shoot / 'job'}: left as it is (no job.json with kind 'diffproxy.blender_job'): ")
    with pytest.raises(errors.InputError, match=refused + "Reconstruct replaces only a job folder it wrote itself"):
        jf.write_job(shoot / "job", cams, world, "0:1")
    assert _tree(shoot) == before  # the videos and the notes, byte for byte
    (shoot / "job/job.json").write_text('{"kind": "something else"}')
    before = _tree(shoot)
    with pytest.raises(errors.InputError, match=refused):
        jf.write_job(shoot / "job", cams, world, "0:1")
    assert _tree(shoot) == before

    ours = tmp_path / "fit/job"
    jf.write_job(ours, cams, world, "0:1")
    (ours / "footage/c1.mp4").unlink()
    (ours / "footage/c1.mp4").write_bytes(b"a user's file under the link's name")
    (ours / "notes.txt").write_text("mine")
    before = _tree(ours)
    with pytest.raises(errors.InputError, match="left as it is .it also holds notes.txt, footage/c1.mp4.: "):
        jf.write_job(ours, cams, world, "0:2")
    assert _tree(ours) == before
    (ours / "notes.txt").unlink()
    (ours / "footage/c1.mp4").unlink()
    (ours / "footage/c1.mp4").symlink_to(video)
    files = jf.write_job(ours, cams, world, "0:2")  # the add-on's own: replaced
    assert '"frames": "0:2"' in (ours / "job.json").read_text() and files.footage.joinpath("c1.mp4").is_symlink()
    assert video.read_bytes() == b"video"


def _edit_json(folder: Path, **changes) -> None:
    import json

    record = json.loads((folder / "fit.json").read_text())
    record.update(changes)
    (folder / "fit.json").write_text(json.dumps(record))


def _edit_npz(folder: Path, **changes) -> None:
    arrays = dict(np.load(folder / "fit.npz"))
    arrays.update(changes)
    np.savez(folder / "fit.npz", **arrays)


def test_damaged_fit_is_one_input_error_naming_file_and_field(core, tmp_path):
    """Each damage a user or a crash can leave is an InputError naming the file and the field:
    a truncated fit.npz, fps "fast", NaN rest bones or bone poses, a fit.json nested too deeply,
    a ``files.npz`` leading out of the fit folder."""
    from addon_support import rig_cube_fit

    read, err = core["fitfile"].read_fit, core["errors"].InputError
    fit = rig_cube_fit(tmp_path / "rig")
    assert read(fit).rig is not None  # undamaged, it reads
    cases = {}

    def case(name):
        return rig_cube_fit(tmp_path / name)

    data = (case("truncated") / "fit.npz").read_bytes()
    (tmp_path / "truncated/fit.npz").write_bytes(data[:len(data) // 2])
    cases["truncated"] = f"{tmp_path / 'truncated/fit.npz'}: not a readable fit.npz"
    _edit_json(case("fast"), fps="fast")
    cases["fast"] = f"{tmp_path / 'fast/fit.json'}: field 'fps': expected int or float, got fast"
    _edit_npz(case("fps_text"), fps=np.array("fast"))
    cases["fps_text"] = f"{tmp_path / 'fps_text/fit.npz'}: 'fps': expected numbers, got <U4"
    rest = np.tile(np.eye(4), (2, 1, 1))
    rest[1, 0, 3] = np.nan
    _edit_npz(case("nan_rest"), rig_rest=rest)
    cases["nan_rest"] = f"{tmp_path / 'nan_rest/fit.npz'}: 'rig_rest': 1 non-finite value(s)"
    pose = np.load(fit / "fit.npz")["rig_pose"].copy()
    pose[1, 1, :3, :3] = np.nan
    _edit_npz(case("nan_pose"), rig_pose=pose)
    cases["nan_pose"] = f"{tmp_path / 'nan_pose/fit.npz'}: 'rig_pose': 9 non-finite value(s)"
    _edit_npz(case("zero_pose"), rig_pose=np.zeros_like(pose))
    cases["zero_pose"] = f"{tmp_path / 'zero_pose/fit.npz'}: 'rig_pose': bone matrices that cannot be inverted"
    (case("nested") / "fit.json").write_text("[" * 100_000 + "]" * 100_000)
    cases["nested"] = f"{tmp_path / 'nested/fit.json'}: not a fit record: nested too deeply"
    _edit_json(case("body"), body=["anny"])
    cases["body"] = f"{tmp_path / 'body/fit.json'}: field 'body': expected dict, got ['anny']"
    _edit_json(case("npz_name"), files={"npz": 7})
    cases["npz_name"] = f"{tmp_path / 'npz_name/fit.json'}: field 'files.npz': expected str, got 7"
    for name, npz in (("outside", "../rig/fit.npz"), ("absolute", str(fit / "fit.npz"))):
        _edit_json(case(name), files={"npz": npz})
        cases[name] = f"{tmp_path / name / 'fit.json'}: field 'files.npz': expected a file inside the fit's folder"
    for name, message in cases.items():
        with pytest.raises(err) as caught:
            read(tmp_path / name)
        assert str(caught.value).startswith(message), (name, str(caught.value))
        assert "\n" not in str(caught.value)


def test_fit_without_frame_rate_takes_the_scene_rate(core, tmp_path):
    """fps 0.0 (a fit from image folders) or none at all: an unknown rate, with a note."""
    folder, _ = cube_fit(tmp_path / "zero")
    _edit_json(folder, fps=0.0)
    _edit_npz(folder, fps=np.asarray(0.0))
    fit = core["fitfile"].read_fit(folder)
    assert fit.fps is None and len(fit.notes) == 1 and "keyed at the scene's rate" in fit.notes[0]
    arrays = dict(np.load(folder / "fit.npz"))
    del arrays["fps"]
    np.savez(folder / "fit.npz", **arrays)
    _edit_json(folder, fps=None)
    assert core["fitfile"].read_fit(folder).fps is None
    _edit_json(folder, fps=-1)
    with pytest.raises(core["errors"].InputError, match="field 'fps': expected a positive number .0: unknown., got -1"):
        core["fitfile"].read_fit(folder)


def test_device_setting_is_checked_before_a_run(core, tmp_path):
    """The device setting: a name the engine does not know, and cuda where the engine
    interpreter's torch sees no GPU, are refused in one line before any run."""
    import torch

    job, err = core["job"], core["errors"].InputError
    with pytest.raises(err, match=r"^device 'bogus': expected one of auto, cpu, cuda \(add-on preferences\)$"):
        job.reconstruct_command(sys.executable, tmp_path, CALIB, tmp_path / "out", device="bogus")
    with pytest.raises(err, match="^device 'bogus'"):
        job.check_device(sys.executable, "bogus")
    assert job.check_device(sys.executable, "cpu") == "cpu"
    if torch.cuda.is_available():
        assert job.check_device(sys.executable, "cuda") == "cuda"
    else:
        with pytest.raises(err, match=f"^device cuda: the engine interpreter {re.escape(sys.executable)} sees no CUDA "
                                      f"GPU"):
            job.check_device(sys.executable, "cuda")
    with pytest.raises(err, match="^device cuda: could not ask the engine interpreter /bin/false for a GPU .exit 1"):
        job.check_device("/bin/false", "cuda")


def test_the_add_on_reads_fits_with_the_engines_schema(core, staged, tmp_path):
    """vendor/schema.py is engine.io.schema: the same kinds and versions. Both layouts read
    (a reconstruction, a scene fit), and so do the files written before either had its own
    kind (kind 'diffproxy.fit', schema 1, landmarks called keypoints); a kind or a version the
    add-on does not know is one error naming the file."""
    from engine.io import schema

    vendored = staged_module("vendor.schema")
    assert [(v.kind, v.version, v.arrays) for v in vendored.LAYOUTS] == [
        (e.kind, e.version, e.arrays) for e in schema.LAYOUTS]
    read, err = core["fitfile"].read_fit, core["errors"].InputError
    folder, _ = cube_fit(tmp_path / "old")
    _edit_json(folder, kind="diffproxy.fit", schema_version=1, body={"model": "anny", "keypoint_names": ["nose"]})
    _edit_npz(folder, keypoints=np.zeros((1, 1, 3)))
    assert read(folder).vertices.shape == (3, 8, 3)
    write_fit(tmp_path / "old_scene_fit", np.ones((8, 3)), [[0, 1, 2]], [1] * 8, [0])
    _edit_json(tmp_path / "old_scene_fit", kind="diffproxy.fit", schema_version=1)
    assert read(tmp_path / "old_scene_fit").world.up_axis == "+Z"
    _edit_json(folder, schema_version=3)
    with pytest.raises(err, match=f"^{re.escape(str(folder / 'fit.json'))}: field 'schema_version': this reader "
                                  f"knows 2 and 1 of kind 'diffproxy.fit', got 3"):
        read(folder)
    _edit_json(folder, kind="diffproxy.cameras", schema_version=1)
    with pytest.raises(err, match=f"^{re.escape(str(folder / 'fit.json'))}: field 'kind': expected 'diffproxy.fit' "
                                  f"or 'diffproxy.scene_fit', got 'diffproxy.cameras'"):
        core["fitfile"].read_fit_world(folder)
