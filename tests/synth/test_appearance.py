import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from engine.errors import InputError
from engine.proxy.part_table import build_part_table
from engine.proxy.parts import PART_ID
from synth.appearance import HAIR_LENGTHS, HAIR_STYLES, AppearanceConfig, body_arrays, sample_appearance

ROOT = Path(__file__).resolve().parents[2]


def test_sampler_is_deterministic_json_and_in_range():
    cfg = AppearanceConfig()
    seen_types, seen_hair = set(), set()
    for seed in range(200):
        spec = sample_appearance(np.random.default_rng(seed), cfg, "standing")
        assert spec == sample_appearance(np.random.default_rng(seed), cfg, "standing")
        assert json.loads(json.dumps(spec)) == spec  # plain JSON types only
        skin = spec["skin"]
        assert cfg.skin_tone[0] <= skin["tone"] <= cfg.skin_tone[1]
        assert all(0 <= c <= 1 for c in skin["base_color"])
        assert cfg.skin_roughness[0] <= skin["roughness"] <= cfg.skin_roughness[1]
        assert 1 <= len(spec["garments"]) <= 2
        for g in spec["garments"]:
            seen_types.add(g["type"])
            assert g["offset"] > 0 and g["thickness"] > 0
            assert g["material"]["pattern"] in cfg.patterns
        if spec["hair"] is None:
            seen_hair.add("bald")
        else:
            h = spec["hair"]
            assert h["length_class"] in HAIR_LENGTHS and h["style"] in HAIR_STYLES
            assert 0 < h["length"] < 0.6 and 0 < h["strands"] <= cfg.hair_strands
            seen_hair.add(h["length_class"])
    assert seen_types == {"top", "trousers", "shorts", "skirt", "dress"}
    assert seen_hair == {"bald", *HAIR_LENGTHS}
    assert sample_appearance(np.random.default_rng(0), cfg, "walking") != \
        sample_appearance(np.random.default_rng(1), cfg, "walking")


def test_no_loose_garments_when_sitting_or_lying():
    cfg = AppearanceConfig(bottoms={"skirt": 1.0, "dress": 1.0, "trousers": 0.1})
    for seed in range(50):
        for family in ("sitting", "lying", "crouching"):
            types = {g["type"] for g in sample_appearance(np.random.default_rng(seed), cfg, family)["garments"]}
            assert not types & {"skirt", "dress"}


def test_bad_weights_are_an_input_error():
    with pytest.raises(InputError, match="hair_styles"):
        cfg = AppearanceConfig(hair_styles={"curly": 0.0}, p_hair=1.0, hair_lengths={"long": 1.0})
        sample_appearance(np.random.default_rng(0), cfg, "standing")


def test_body_arrays_scalp_is_on_the_top_and_back_of_the_head(anny32):
    arrays = body_arrays(anny32, build_part_table(anny32))
    V = anny32.faces.max().item() + 1
    for name in ("scalp_weight", "arm_coord", "leg_coord", "torso_coord", "iris_weight"):
        assert arrays[name].shape == (V,) and arrays[name].dtype == np.float32
    assert arrays["rest_co"].shape == (V, 3)
    w, rest = arrays["scalp_weight"], arrays["rest_co"]
    vpart = build_part_table(anny32).vertex_part.numpy()
    assert ((w > 0) <= (vpart == PART_ID["head"])).all()  # scalp only on the head
    assert 150 < (w > 0.5).sum() < (vpart == PART_ID["head"]).sum() / 2
    kp = {n: anny32(anny32.neutral_params(1)).keypoints[0, anny32.keypoint_names.index(n)].numpy()
          for n in ("nose", "left_eye", "left_ear")}
    top = np.argmax(rest[:, 2])
    assert w[top] == 1  # the crown
    near_face = np.linalg.norm(rest - kp["nose"], axis=1) < 0.04
    near_eye = np.linalg.norm(rest - kp["left_eye"], axis=1) < 0.03
    near_ear = np.linalg.norm(rest - kp["left_ear"], axis=1) < 0.02
    assert w[near_face | near_eye | near_ear].max() == 0
    # the limb coordinates run from shoulder (0) to wrist (2) and from hip (0) to ankle (2)
    hand = vpart == PART_ID["leftHandPalmRadial"]
    foot = vpart == PART_ID["leftFoot"]
    assert arrays["arm_coord"][hand].min() > 1.8 and arrays["leg_coord"][foot].min() > 1.8
    assert arrays["iris_weight"][vpart == PART_ID["leftEye"]].max() == 1
    eyes = (vpart == PART_ID["leftEye"]) | (vpart == PART_ID["rightEye"])
    assert (arrays["iris_weight"][~eyes] == 0).all()


CHECK = textwrap.dedent("""
    import json, sys
    import numpy as np, torch
    from engine.body import load_body_model
    from engine.proxy.part_table import build_part_table
    from synth.appearance import AppearanceConfig, body_arrays, sample_appearance
    import bpy
    from mathutils import Vector
    from mathutils.bvhtree import BVHTree
    from synth.blender.appearance import apply_appearance, mesh_arrays
    from synth.blender.body import build_body

    body = load_body_model("anny")
    pt = build_part_table(body)
    arrays = body_arrays(body, pt)
    p = body.neutral_params(1)
    i = body.pose_joint_names.index
    p.body_pose[0, i("upperarm01.L"), 1], p.body_pose[0, i("upperarm01.R"), 1] = 0.6, -0.6  # arms clear of the torso
    out = body(p)
    v = out.vertices[0].numpy().astype(np.float64)
    dz = -v[:, 2].min()
    v[:, 2] += dz
    kp = {n: (out.keypoints[0, k].numpy() + [0, 0, dz]).tolist() for k, n in enumerate(body.keypoint_names)}
    info = {"joints": {}, "keypoints": kp, "height": float(v[:, 2].max()), "ground_z": 0.0, "up": [0, 0, 1],
            "forward": [0, -1, 0]}
    cfg = AppearanceConfig(p_hair=1.0, hair_lengths={"long": 1.0}, hair_styles={"clumped": 1.0},
                           bottoms={"skirt": 1.0}, hair_strands=400)
    spec = sample_appearance(np.random.default_rng(int(sys.argv[1])), cfg, "standing")

    def build():
        bpy.ops.wm.read_factory_settings(use_empty=True)
        obj = build_body(v, body.faces.numpy(), body.uv_coords.numpy(), body.uv_faces.numpy(),
                         pt.face_part.numpy(), pt.vertex_part.numpy())
        rec = apply_appearance(obj, spec, info, arrays)
        dg = bpy.context.evaluated_depsgraph_get()
        data = {}
        for name in rec["objects"]["garments"] + rec["objects"]["hair"]:
            ev = bpy.data.objects[name].evaluated_get(dg).data
            pts = ev.vertices if name.startswith("Garment") else ev.points
            co = np.empty(len(pts) * 3, np.float32)
            (pts.foreach_get("co", co) if name.startswith("Garment") else ev.position_data.foreach_get("vector", co))
            data[name] = co.reshape(-1, 3)
            if not name.startswith("Garment"):
                offsets = np.empty(len(ev.curves) + 1, np.int32)
                ev.curve_offset_data.foreach_get("value", offsets)
                data["roots"] = data[name][offsets[:-1]]
        return obj, rec, data

    obj, rec, data = build()
    _, rec2, data2 = build()
    same = rec == rec2 and all(np.array_equal(data[k], data2[k]) for k in data)
    body_np = mesh_arrays(bpy.data.objects["Body"])
    bvh = BVHTree.FromPolygons(body_np["co"].tolist(), body_np["tri"].tolist())
    scalp = np.asarray(arrays["scalp_weight"])
    root_scalp = []
    for r in data["roots"]:
        loc, nrm, face, dist = bvh.find_nearest(Vector(r))
        root_scalp.append(float(scalp[body_np["tri"][face]].max()) if dist < 0.01 else 0.0)
    min_offset = {}
    for name in rec["objects"]["garments"]:
        d = []
        for q in data[name]:
            loc, nrm, face, dist = bvh.find_nearest(Vector(q))
            d.append((np.asarray(q) - np.asarray(loc)) @ np.asarray(nrm))
        min_offset[name] = [float(np.mean(np.array(d) > 0.001)), float(np.median(d))]
    print(json.dumps({"record": rec, "deterministic": bool(same), "n_roots": len(data["roots"]),
                      "roots_on_scalp": float(np.mean(np.array(root_scalp) > 0)),
                      "hair_min_z": float(data["Hair"][:, 2].min()), "min_offset": min_offset}))
""")


@pytest.mark.blender
def test_blender_builds_garments_and_hair_on_the_scalp(tmp_path):
    pytest.importorskip("bpy")
    script = tmp_path / "appearance_check.py"
    script.write_text(CHECK)
    res = subprocess.run([sys.executable, str(script), "3"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(res.stdout.strip().splitlines()[-1])
    objects = report["record"]["objects"]
    assert objects["hair"] == ["Hair"]
    assert {n.split(".")[1] for n in objects["garments"]} == {"skirt", "top"}
    assert report["deterministic"]
    assert report["n_roots"] > 100
    assert report["roots_on_scalp"] == 1.0
    assert report["hair_min_z"] > 0.0  # long hair falls, but not through the floor
    # garment vertices lie outside the skin; a few may not in the armpits, where skinning
    # folds the body into itself
    for name, (outside, median) in report["min_offset"].items():
        assert outside > 0.97 and median > 0.004, (name, outside, median)
