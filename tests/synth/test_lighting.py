import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from engine.errors import InputError
from synth.lighting import LightingConfig, check_lighting_config, sample_lighting, sky_elevation_gain

ROOT = Path(__file__).resolve().parents[2]
HDRIS = [{"id": f"builtin/{n}", "path": f"/x/{n}.exr", "sha256": "0" * 64} for n in ("city", "night", "studio")]


def test_sampler_is_deterministic_and_json_able():
    cfg = LightingConfig()
    for seed in range(30):
        a = sample_lighting(np.random.default_rng(seed), cfg, HDRIS)
        b = sample_lighting(np.random.default_rng(seed), cfg, list(reversed(HDRIS)))  # order does not matter
        assert a == b
        assert json.loads(json.dumps(a)) == a  # only plain types


def test_sampler_covers_both_sources_and_every_hdri():
    cfg = LightingConfig()
    specs = [sample_lighting(np.random.default_rng(s), cfg, HDRIS) for s in range(400)]
    hdri = [s for s in specs if s["source"] == "hdri"]
    sky = [s for s in specs if s["source"] == "sky"]
    assert 0.65 < len(hdri) / len(specs) < 0.85
    assert {s["hdri"]["id"] for s in hdri} == {h["id"] for h in HDRIS}
    assert {s["sky"]["model"] for s in sky} == {"multiple_scattering", "single_scattering"}
    assert {s["ground"]["texture"] for s in specs} == {"none", "noise", "checker", "bricks", "voronoi"}
    assert 0.4 < np.mean([s["ground"]["enabled"] for s in hdri]) < 0.8
    assert np.mean([s["ground"]["enabled"] for s in sky]) > 0.8
    for s in sky:  # a low sun gets a stronger sky, within the exposure jitter
        el = np.degrees(s["sky"]["sun_elevation_rad"])
        expected = cfg.sky_base_strength * sky_elevation_gain(el) ** cfg.sky_low_sun_compensation
        assert s["strength"] == pytest.approx(expected * 2 ** s["exposure_ev"])


def test_sky_gain_is_one_for_a_high_sun_and_grows_as_it_sets():
    gains = [sky_elevation_gain(e) for e in (2, 5, 10, 20, 40, 80)]
    assert gains == sorted(gains, reverse=True)
    assert gains[-1] == pytest.approx(1.0) and gains[0] > 3


def test_sky_only_and_missing_hdris():
    cfg = LightingConfig(hdri_share=0.0)
    assert sample_lighting(np.random.default_rng(0), cfg, [])["source"] == "sky"
    with pytest.raises(InputError, match="hdris"):
        sample_lighting(np.random.default_rng(0), LightingConfig(hdri_share=1.0), [])


@pytest.mark.parametrize("field, value", [
    ("hdri_share", 1.5), ("exposure_ev", (1.0, -1.0)), ("sky_models", {"nishita": 1.0}),
    ("ground_textures", {"none": 0.0}), ("sky_base_strength", 0.0), ("sky_low_sun_compensation", 2.0),
])
def test_config_errors_name_the_field(field, value):
    with pytest.raises(InputError, match=field):
        check_lighting_config(dataclasses.replace(LightingConfig(), **{field: value}))


BLENDER_SCRIPT = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import bpy
    sys.path.insert(0, sys.argv[1])
    from synth.blender.lighting import apply_lighting
    from synth.blender.meshes import import_mesh
    from synth.assets import builtin_hdris

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 2
    scene.cycles.use_denoising = False
    scene.render.resolution_x = scene.render.resolution_y = 32
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.5, location=(0, 0, 0.5))
    cam = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
    scene.collection.objects.link(cam)
    scene.camera = cam
    cam.location = (0, -4, 1.0)
    cam.rotation_euler = (1.45, 0, 0)
    ground = {"enabled": True, "texture": "noise", "color": [0.3, 0.3, 0.3], "color2": [0.1, 0.2, 0.1],
              "roughness": 0.8, "texture_scale": 1.0, "size_m": 20.0}
    night = [a for a in builtin_hdris() if a.id == "builtin/night"][0].to_dict()
    hdri = {"source": "hdri", "hdri": night, "rotation_z_rad": 1.0, "exposure_ev": 0.0, "normalize": True,
            "target_luminance": 0.6, "ground": ground}
    sky = {"source": "sky", "sky": {"model": "multiple_scattering", "sun_elevation_rad": 0.5, "sun_azimuth_rad": 3.0,
           "sun_size_rad": 0.03, "altitude_m": 100.0, "air_density": 1.0, "aerosol_density": 1.0,
           "ozone_density": 1.0}, "strength": 0.035, "ground": dict(ground, enabled=False, texture="bricks")}
    out = {}
    for name, spec in (("hdri", hdri), ("sky", sky), ("hdri_again", hdri)):
        t = time.perf_counter()
        record = apply_lighting(spec)
        apply_s = time.perf_counter() - t
        scene.render.filepath = sys.argv[2] + f"/{name}.exr"
        scene.render.image_settings.file_format = "OPEN_EXR"
        bpy.ops.render.render(write_still=True)
        image = bpy.data.images.load(scene.render.filepath)
        px = np.array(image.pixels[:], dtype=np.float32)
        bpy.data.images.remove(image)
        out[name] = {"mean": float(px.reshape(-1, 4)[:, :3].mean()), "finite": bool(np.isfinite(px).all()),
                     "ground": record["ground_object"], "strength": record["world_strength"], "apply_s": apply_s,
                     "objects": sorted(o.name for o in bpy.data.objects)}
    out["hdri_images"] = sum(1 for im in bpy.data.images if im.filepath.endswith("night.exr"))

    # occluder meshes: export a parented pair, import it back normalised; a broken file is a ValueError
    bpy.ops.mesh.primitive_cube_add(size=2, location=(3, 0, 1))
    cube = bpy.context.object
    bpy.ops.object.select_all(action="DESELECT")
    cube.select_set(True)
    for ext, op in (("glb", lambda p: bpy.ops.export_scene.gltf(filepath=p, export_format="GLB", use_selection=True)),
                    ("obj", lambda p: bpy.ops.wm.obj_export(filepath=p, export_selected_objects=True)),
                    ("ply", lambda p: bpy.ops.wm.ply_export(filepath=p, export_selected_objects=True))):
        op(sys.argv[2] + "/cube." + ext)
    bpy.data.objects.remove(cube)
    meshes = {}
    for ext in ("glb", "obj", "ply"):
        obj = import_mesh(sys.argv[2] + "/cube." + ext)
        co = np.array([v.co[:] for v in obj.data.vertices])
        meshes[ext] = {"min": co.min(0).tolist(), "max": co.max(0).tolist(), "dims": list(obj["source_dimensions_m"])}
    bad = b"glTF" + (2).to_bytes(4, "little") + (20).to_bytes(4, "little") + bytes(8)
    open(sys.argv[2] + "/bad.glb", "wb").write(bad)
    try:
        import_mesh(sys.argv[2] + "/bad.glb")
        meshes["bad"] = "imported"
    except ValueError as e:
        meshes["bad"] = str(e)
    out["meshes"] = meshes
    print(json.dumps(out))
""")


@pytest.mark.blender
def test_blender_applies_hdri_and_sky_and_imports_meshes(tmp_path):
    pytest.importorskip("bpy")
    res = subprocess.run([sys.executable, "-c", BLENDER_SCRIPT, str(ROOT), str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    for name in ("hdri", "sky", "hdri_again"):
        assert out[name]["finite"] and out[name]["mean"] > 0.02, out[name]
    assert out["hdri"]["ground"] == "Ground" and "Ground" in out["hdri"]["objects"]
    assert out["sky"]["ground"] is None and "Ground" not in out["sky"]["objects"]
    assert out["hdri"]["strength"] > 2.0  # the dark night HDRI is normalised up
    assert out["hdri_images"] == 1  # loaded once, reused
    for ext in ("glb", "obj", "ply"):
        m = out["meshes"][ext]
        np.testing.assert_allclose(m["min"], [-0.5, -0.5, 0.0], atol=1e-5)
        np.testing.assert_allclose(m["max"], [0.5, 0.5, 1.0], atol=1e-5)
        np.testing.assert_allclose(m["dims"], [2.0, 2.0, 2.0], atol=1e-5)
    assert "bad.glb" in out["meshes"]["bad"]
