"""The README's picture: a fit imported by the extension, rendered through the capture's own
cameras over its footage. Not part of the extension (``build.py`` leaves ``scripts/`` out).

    .venv/bin/python addon/scripts/render_overlay.py FIT_DIR [--frame 0] [--out FOLDER]

Runs the bpy module in this process: stages the extension (``build.stage``) into a temporary
folder and registers it, imports the capture (``--capture``: the bundled one by default; the
fit.json's world) and the fit, then for each camera renders the body alone (Cycles on the CPU,
a transparent film) and lays it over that camera's footage frame. Blender's cameras are
pinholes and the footage is distorted, so the frame is first undistorted with the calibration
(OpenCV, the calibration's K, rescaled to the footage's size as the engine does): what the
picture shows is the undistorted footage. Writes ``blender_cam01.jpg`` (one camera) and
``blender_cameras.jpg`` (all of them side by side) into the fit's folder, or ``--out`` (the
README's pictures: ``--out docs/images``, on purpose). Its temporary folder (the staged
extension, the renders) is removed when it ends, failed or not.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from staging import stage_addon  # this folder: the script's own

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples/pose2sim_balancing"


def body_material(bpy):
    mat = bpy.data.materials.new("overlay body")
    mat.use_nodes = True
    bsdf = mat.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (0.95, 0.45, 0.12, 1.0)
    bsdf.inputs["Roughness"].default_value = 0.55
    return mat


def setup_render(bpy, scene, scale: int, samples: int) -> None:
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = False
    scene.render.film_transparent = True
    scene.render.resolution_percentage = scale
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    scene.view_settings.view_transform = "Standard"
    world = scene.world or bpy.data.worlds.new("overlay world")
    scene.world = world
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.6, 0.6, 0.6, 1.0)
    world.node_tree.nodes["Background"].inputs["Strength"].default_value = 1.0
    sun = bpy.data.objects.new("overlay sun", bpy.data.lights.new("overlay sun", "SUN"))
    sun.data.energy = 3.0
    sun.rotation_euler = (0.6, 0.2, 0.8)
    scene.collection.objects.link(sun)


def undistorted_frame(video: Path, frame: int, camera) -> np.ndarray:
    cap = cv2.VideoCapture(str(video))
    cap.set(cv2.CAP_PROP_POS_FRAMES, frame)
    ok, image = cap.read()
    cap.release()
    if not ok:
        raise SystemExit(f"{video}: no frame {frame}")
    h, w = image.shape[:2]
    cam = camera.scaled(w, h) if (w, h) != (camera.width, camera.height) else camera
    K = np.asarray(cam.K, np.float64)
    return cv2.undistort(image, K, np.asarray(cam.dist, np.float64), None, K)


def over(background: np.ndarray, rgba: np.ndarray, opacity: float) -> np.ndarray:
    rgba = cv2.resize(rgba, background.shape[1::-1], interpolation=cv2.INTER_AREA)
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0 * opacity
    body = rgba[..., 2::-1].astype(np.float32)  # RGB -> BGR
    return (background * (1 - alpha) + body * alpha).round().astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fit", type=Path, help="reconstruction folder (fit.json + fit.npz)")
    parser.add_argument("--capture", type=Path, default=EXAMPLE, help="folder with calibration/ and videos/")
    parser.add_argument("--frame", type=int, default=0, help="footage frame (scene frame = frame + 1)")
    parser.add_argument("--out", type=Path, default=None, help="where the pictures go (default: the fit's folder)")
    parser.add_argument("--scale", type=int, default=50, help="render size, percent of the footage's")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--opacity", type=float, default=0.75, help="of the body over the footage")
    parser.add_argument("--quality", type=int, default=82, help="JPEG quality")
    parser.add_argument("--tiles", action="store_true", help="also write each camera's picture (overlay_<camera>.png), "
                                                             "to check the body against the footage view by view")
    args = parser.parse_args()
    args.out = args.out or args.fit
    tmp = Path(tempfile.mkdtemp(prefix="diffproxy_overlay_"))
    try:
        render(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def render(args, tmp: Path) -> None:
    import bpy  # noqa: PLC0415  (the bpy module: this process is Blender)

    addon = stage_addon(tmp / "stage")
    calib_path = next((args.capture / "calibration").glob("*.toml"), args.capture / "calibration")
    videos = args.capture / "videos"
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    bpy.ops.diffproxy.import_capture(filepath=str(calib_path), footage_dir=str(videos),
                                     fit_path=str(args.fit / "fit.json"))
    bpy.ops.diffproxy.import_fit(filepath=str(args.fit))
    body = bpy.context.active_object
    body.data.materials.append(body_material(bpy))
    setup_render(bpy, scene, args.scale, args.samples)
    scene.frame_set(args.frame + 1)  # footage frame f shows at scene frame f + 1

    calibration = sys.modules[addon.__name__ + ".vendor.calibration"].read_calibration(str(calib_path))
    cameras = sorted((o for o in scene.objects if o.type == "CAMERA" and o.data.diffproxy.imported),
                     key=lambda o: o.name)
    tiles = {}
    for obj in cameras:
        name = obj.data.name.split(".")[0]
        bpy.ops.diffproxy.set_camera(name=obj.name)
        scene.render.resolution_percentage = args.scale
        scene.render.filepath = str(tmp / f"{name}.png")
        t0 = time.perf_counter()
        bpy.ops.render.render(write_still=True)
        rgba = cv2.imread(str(tmp / f"{name}.png"), cv2.IMREAD_UNCHANGED)[..., [2, 1, 0, 3]]
        cam = next(c for c in calibration.cameras if c.name == name)
        frame = undistorted_frame(Path(bpy.path.abspath(obj.data.diffproxy.footage)), args.frame, cam)
        small = cv2.resize(frame, rgba.shape[1::-1], interpolation=cv2.INTER_AREA)
        tiles[name] = over(small, rgba, args.opacity)
        print(f"{name}: rendered in {time.perf_counter() - t0:.1f} s", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    jpeg = [cv2.IMWRITE_JPEG_QUALITY, args.quality]
    first = tiles[sorted(tiles)[0]]
    cv2.imwrite(str(args.out / "blender_cam01.jpg"), first, jpeg)
    height = min(t.shape[0] for t in tiles.values()) // 2
    row = np.concatenate([cv2.resize(t, (round(t.shape[1] * height / t.shape[0]), height),
                                     interpolation=cv2.INTER_AREA) for _, t in sorted(tiles.items())], axis=1)
    cv2.imwrite(str(args.out / "blender_cameras.jpg"), row, jpeg)
    if args.tiles:
        for name, tile in sorted(tiles.items()):
            cv2.imwrite(str(args.out / f"overlay_{name}.png"), tile)
    for name in ("blender_cam01.jpg", "blender_cameras.jpg"):
        print(f"wrote {args.out / name} ({(args.out / name).stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
