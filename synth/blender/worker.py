"""The Blender worker: builds and renders scenes that the engine side has sampled.

Runs in either Blender: ``python -m synth.blender.worker`` with the ``bpy`` module, or
``blender -b --factory-startup -P synth/blender/worker.py`` with a Blender binary (whose
Python has no torch: this side imports only bpy, numpy and synth.blender). One job per line
on stdin (a JSON file path); one reply per job on stdout, marked with ``REPLY``, so Blender's
own log lines can share the stream.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):  # run as a file by a Blender binary
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import bpy  # noqa: E402
import numpy as np  # noqa: E402

from synth.blender import body as bbody  # noqa: E402
from synth.blender import occluders as bocc  # noqa: E402
from synth.blender import scene as bscene  # noqa: E402

from synth.blender.worker_protocol import REPLY  # noqa: E402


def run_job(job: dict) -> dict:
    from synth.blender.appearance import apply_appearance
    from synth.blender.lighting import apply_lighting

    t0 = time.perf_counter()
    out = Path(job["out_dir"])
    bscene.reset_scene()
    with np.load(job["body_npz"], allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    body = bbody.build_body(arrays["vertices"], arrays["faces"], arrays["uv_coords"], arrays["uv_faces"],
                            arrays["face_part"], arrays["vertex_part"])
    appearance = apply_appearance(body, job["appearance"], job["body_info"], arrays)
    lighting = apply_lighting(job["lighting"])
    occluders = [bocc.build_occluder(i, spec) for i, spec in enumerate(job["occluders"])]
    ground = [bpy.data.objects[lighting["ground_object"]]] if lighting.get("ground_object") else []
    for obj in ground:
        obj["diffproxy_role"] = "ground"
    triangles = bscene.world_triangles(occluders + ground)
    np.save(out / "occluder_triangles.npy", triangles)
    r = job["render"]
    bscene.configure_cycles(r["samples"], r["denoise"], r["threads"], r["max_bounces"], 64, 64,
                            r.get("film_exposure", 0.0), r["seed"], r.get("film_transparent", False))
    cameras = [bscene.add_camera(i, c["blender"]) for i, c in enumerate(job["cameras"])]
    t_build = time.perf_counter() - t0
    view_seconds = []
    for i, (cam, spec) in enumerate(zip(cameras, job["cameras"])):
        t = time.perf_counter()
        bscene.render_view(cam, spec["blender"], str(out / "images" / f"view_{i:02d}.png"))
        view_seconds.append(time.perf_counter() - t)
    return {"ok": True, "appearance": appearance, "lighting": lighting,
            "blender_version": bpy.app.version_string,
            "timings": {"build_s": t_build, "render_s": sum(view_seconds), "view_s": view_seconds}}


def serve() -> None:
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            result = run_job(json.loads(Path(line).read_text()))
        except Exception:  # report to the engine side, keep serving
            result = {"ok": False, "error": traceback.format_exc()}
        sys.stdout.write(REPLY + json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()
