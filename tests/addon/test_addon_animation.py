"""``diffproxy animation`` (issue 27): a fit's motion to FBX, BVH and glTF through the add-on's
own Import Fit and exports, in a Blender child process, read back by Blender's own importers
(another child process): the armature, its bones (renamed for --rig), the frames and rate, and
every joint where the fit put it. Bad input is refused before Blender starts, in one line."""

import json

import numpy as np
import pytest
from addon_support import cube_fit, run_blender, staged_module
from typer.testing import CliRunner

from engine.cli.main import app

FPS = 50.0


def animation(*args):
    return CliRunner().invoke(app, ["animation", *map(str, args)])


@pytest.fixture(scope="module")
def anny_fit(anny64, tmp_path_factory):
    """An Anny fit of 5 frames at 50 fps, Y up, millimetres (the units and up axis the add-on
    turns into Blender's): a random pose per frame, one shape. -> (folder, bone names, the
    bones' heads in Blender's world (T, J, 3), the world)."""
    from helpers import random_pose, write_body_fit

    from engine.pipeline.world import WorldFrame

    p = random_pose(anny64, 5, 0.3, seed=4)
    p.shape[:], p.scale[:] = p.shape[:1].clone(), p.scale[:1].clone()
    world = WorldFrame(1000.0, "mm", "+Y", 0.0)
    folder = write_body_fit(tmp_path_factory.mktemp("anim") / "fit", anny64, p, world, fps=FPS)
    z = np.load(folder / "fit.npz")
    heads = world.points_to_engine(z["rig_pose"][..., :3, 3])  # (T, J, 3): Blender's world, metres
    return folder, list(z["rig_bone_names"]), heads, world


@pytest.mark.blender
def test_exports_read_back_by_blender(anny_fit, staged, tmp_path):
    folder, names, heads, world = anny_fit
    out = {"fbx": tmp_path / "mixamo.fbx", "bvh": tmp_path / "cm.bvh", "glb": tmp_path / "part.glb"}
    runs = {"fbx": animation(folder, "--out", out["fbx"], "--rig", "mixamo", "--json"),
            "bvh": animation(folder, "--out", out["bvh"], "--scale", 100, "--fps", FPS / 2, "--json"),
            "glb": animation(folder, "--out", out["glb"], "--frames", "1:4", "--rig", "ue5", "--json")}
    for kind, run in runs.items():
        assert run.exit_code == 0, (kind, run.output)
    summary = {kind: json.loads(run.stdout.strip().splitlines()[-1]) for kind, run in runs.items()}
    assert summary["bvh"]["frames"] == 3 and summary["bvh"]["fps"] == FPS / 2  # footage frames 0, 2, 4
    assert summary["glb"]["frames"] == 3 and summary["fbx"]["frames"] == 5
    assert "toe1-1.L" in summary["fbx"]["unmapped_bones"] and "root" not in summary["fbx"]["unmapped_bones"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in out.values())  # no partial file

    back = tmp_path / "back.npz"
    report = run_blender("animation_readback.py", back, out["fbx"], out["bvh"], f"{out['glb']}::{FPS}",
                         home=tmp_path, timeout=120)
    fbx, bvh, glb = (report[p.name] for p in out.values())
    for r in (fbx, bvh, glb):
        assert r["armatures"] == 1 and r["bones"] == 104
    # FBX and glTF keep the scene's times (footage frame f at f + 1, as Import Fit keys it); BVH has none
    assert (fbx["first"], bvh["first"], glb["first"]) == (1.0, 1.0, 2.0)
    assert fbx["meshes"] == 1 and fbx["frames"] == 5 and fbx["fps"] == FPS
    assert bvh["frames"] == 3 and bvh["fps"] == pytest.approx(FPS / 2, rel=1e-4)  # "Frame Time: 0.040000"
    assert glb["frames"] == 3
    rename = {"fbx": staged_module("core.rig_names").target_names(names, "mixamo"),
              "bvh": {n: n for n in names}, "glb": staged_module("core.rig_names").target_names(names, "ue5")}
    assert "mixamorig:Hips" in fbx["names"] and "pelvis" in glb["names"] and "root" in bvh["names"]
    scale = {"fbx": 1.0, "bvh": 100.0, "glb": 1.0}
    footage = {"fbx": [0, 1, 2, 3, 4], "bvh": [0, 2, 4], "glb": [1, 2, 3]}
    got = np.load(back)
    for i, kind in enumerate(("fbx", "bvh", "glb")):
        order = [names.index(n) for n in [{v: k for k, v in rename[kind].items()}[b] for b in got[f"{i}_names"]]]
        error = np.linalg.norm(got[f"{i}_heads"] / scale[kind] - heads[footage[kind]][:, order], axis=-1)
        assert error.max() < 1e-4, (kind, error.max())  # every joint, every frame: BVH stands Y up as read
    # Mixamo's rest: a T-pose (arms out along the body's left +X / right -X, legs straight down)
    rest, bones = got["0_rest"], list(got["0_names"])
    for bone, axis in (("LeftArm", [1, 0, 0]), ("RightForeArm", [-1, 0, 0]), ("LeftHand", [1, 0, 0]),
                       ("RightUpLeg", [0, 0, -1]), ("LeftLeg", [0, 0, -1])):
        head, tail = rest[bones.index("mixamorig:" + bone)]
        np.testing.assert_allclose((tail - head) / np.linalg.norm(tail - head), axis, atol=1e-4)
    # the mesh bound again in the T-pose: exact but where weights blend bones the T-pose turned
    skin = np.linalg.norm(got["0_vertices"] - world.points_to_engine(np.load(folder / "fit.npz")["vertices"]), axis=-1)
    assert np.median(skin) < 1e-5 and skin.max() < 0.03, (np.median(skin), skin.max())  # 1.1 cm here
    # the BVH as any reader sees it (forward kinematics here, not Blender's): Y up, root OFFSET 0
    bvh_names, bvh_joints = bvh_forward_kinematics(out["bvh"])
    np.testing.assert_allclose(bvh_joints / 100, heads[[0, 2, 4]][:, [names.index(n) for n in bvh_names]]
                               @ np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]]).T, atol=1e-4)
    glb_json = out["glb"].read_bytes()
    gltf = json.loads(glb_json[20:20 + int.from_bytes(glb_json[12:16], "little")])
    times = gltf["accessors"][gltf["animations"][0]["samplers"][0]["input"]]
    assert times["count"] == 3 and times["max"][0] - times["min"][0] == pytest.approx(2 / FPS, abs=1e-4)


def bvh_forward_kinematics(path):
    """A BVH file's joint names and positions (frames, joints, 3), by the format's rules: a
    joint's offset from its parent, channels read in the order listed, rotations applied in that
    order (``Xrotation Yrotation Zrotation``: Rx @ Ry @ Rz), degrees."""
    words = path.read_text().split()
    names, parents, offsets, channels, stack, i = [], [], [], [], [], 0
    while words[i] != "MOTION":
        if words[i] in ("ROOT", "JOINT"):
            names.append(words[i + 1])
            parents.append(stack[-1] if stack else -1)
            i += 2
        elif words[i] == "End":  # End Site { OFFSET x y z }: a bone's tail, no joint
            i += 8
        elif words[i] == "{":
            stack.append(len(names) - 1)
            i += 1
        elif words[i] == "}":
            stack.pop()
            i += 1
        elif words[i] == "OFFSET":
            offsets.append([float(w) for w in words[i + 1:i + 4]])
            i += 4
        elif words[i] == "CHANNELS":
            channels.append(words[i + 2:i + 2 + int(words[i + 1])])
            i += 2 + int(words[i + 1])
        else:  # HIERARCHY
            i += 1
    frames = int(words[i + 2])
    values = np.array(words[i + 6:], dtype=np.float64).reshape(frames, -1)
    axes = {"X": 0, "Y": 1, "Z": 2}
    joints = np.zeros((frames, len(names), 3))
    for t in range(frames):
        column, world = 0, []
        for j in range(len(names)):
            M = np.eye(4)
            M[:3, 3] = offsets[j]
            for channel in channels[j]:
                v = values[t, column]
                column += 1
                if channel.endswith("position"):
                    M[axes[channel[0]], 3] += v
                else:
                    c, s_ = np.cos(np.radians(v)), np.sin(np.radians(v))
                    a, b = {"X": (1, 2), "Y": (2, 0), "Z": (0, 1)}[channel[0]]  # the turn takes a to b
                    R = np.eye(4)
                    R[a, a], R[a, b], R[b, a], R[b, b] = c, -s_, s_, c
                    M = M @ R
            world.append(M if parents[j] < 0 else world[parents[j]] @ M)
            joints[t, j] = world[j][:3, 3]
    return names, joints


def test_bad_input_is_one_line_before_blender(tmp_path):
    folder, _ = cube_fit(tmp_path / "fit")
    cases = {
        "unknown suffix": ([folder, "--out", tmp_path / "a.obj"], "unknown suffix '.obj'"),
        "no suffix": ([folder, "--out", tmp_path / "a"], "unknown suffix '(none)'"),
        "scale for fbx": ([folder, "--out", tmp_path / "a.fbx", "--scale", 100], "--scale: only for .bvh"),
        "rig": ([folder, "--out", tmp_path / "a.bvh", "--rig", "rigify"], "--rig: expected one of anny, mixamo"),
        "fps": ([folder, "--out", tmp_path / "a.bvh", "--fps", 0], "--fps: expected a frame rate above 0"),
        "step": ([folder, "--out", tmp_path / "a.bvh", "--frames", "0:4:2"], "--frames: no STEP"),
        "folder": ([folder, "--out", tmp_path / "none" / "a.bvh"], "does not exist"),
        "no fit": ([tmp_path, "--out", tmp_path / "a.bvh"], "no fit.json"),
    }
    for name, (args, message) in cases.items():
        run = animation(*args)
        assert run.exit_code == 2, (name, run.output)
        assert message in run.output and len(run.output.strip().splitlines()) == 1, (name, run.output)
    (folder / "fit.npz").unlink()
    run = animation(folder, "--out", tmp_path / "a.fbx")
    assert run.exit_code == 2 and f"{folder / 'fit.npz'}: missing" in run.output, run.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit"]


@pytest.mark.blender
def test_what_the_add_on_refuses_is_one_line(tmp_path):
    """Import Fit's own checks reach the command line as one line (exit 2): a damaged fit.npz,
    and a rig asked of a fit without one (shape keys only); nothing is written."""
    folder, _ = cube_fit(tmp_path / "fit")
    run = animation(folder, "--out", tmp_path / "a.bvh")
    assert run.exit_code == 2 and "BVH needs the fit's rig" in run.output, run.output
    (folder / "fit.npz").write_bytes((folder / "fit.npz").read_bytes()[:100])
    run = animation(folder, "--out", tmp_path / "a.fbx")
    assert run.exit_code == 2 and "fit.npz" in run.output and len(run.output.strip().splitlines()) == 1, run.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit"]


def test_rig_names_cover_the_table(staged):
    """Every Anny bone the README's table names maps to one target bone, names stay unique, and
    the bones with no counterpart keep Anny's names."""
    rig_names = staged_module("core.rig_names")
    anny = ["root", "spine04", "spine02", "spine01", "neck01", "head", "neck02", "toe1-1.L"]
    for side in (".L", ".R"):
        anny += [f"{b}{side}" for b in ("clavicle", "upperarm01", "lowerarm01", "wrist", "upperleg01", "lowerleg01",
                                        "foot", "eye")]
        anny += [f"finger{f}-{k}{side}" for f in range(1, 6) for k in (1, 2, 3)]
    mixamo, ue5 = rig_names.target_names(anny, "mixamo"), rig_names.target_names(anny, "ue5")
    assert mixamo["root"] == "mixamorig:Hips" and mixamo["finger1-3.R"] == "mixamorig:RightHandThumb3"
    assert mixamo["spine01"] == "mixamorig:Spine2" and mixamo["eye.L"] == "mixamorig:LeftEye"
    assert ue5["root"] == "pelvis" and ue5["finger5-2.L"] == "pinky_02_l" and ue5["lowerleg01.R"] == "calf_r"
    assert ue5["eye.L"] == "eye.L" and mixamo["neck02"] == "neck02" and mixamo["toe1-1.L"] == "toe1-1.L"
    assert len(set(mixamo.values())) == len(anny) == len(set(ue5.values()))
    with pytest.raises(ValueError, match="share the name"):
        rig_names.target_names(["root", "pelvis"], "ue5")
