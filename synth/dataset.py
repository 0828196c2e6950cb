"""Render a dataset: which scenes (shard, resume), where (local processes or Ray), and the
dataset record (``dataset.json``: the config every scene derives from).

A rerun skips finished scenes and clears the temporaries of killed ones; shards (``I/N``)
take the indices ``i % N == I``, so job arrays can split a dataset without talking. Renders
into one folder cooperate: each claims a scene while it writes it (``claim_scene``), and
skips the scenes another render has claimed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from engine.errors import InputError
from engine.io.files import atomic_write_bytes, check_writable_folder
from engine.io.scene import (DATASET_JSON, claim_scene, dataset_record, is_complete, remove_stale_temporaries,
                             remove_temporaries, scene_config_hashes, scene_folders, scene_name)
from engine.step_progress import Progress, no_progress
from synth.blender_process import resolve_blender
from synth.config import SynthConfig

log = logging.getLogger(__name__)
BACKENDS = ("local", "ray")


@dataclass
class Shard:
    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> "Shard":
        try:
            i, n = (int(x) for x in text.split("/"))
        except ValueError:
            raise InputError(f"--shard: expected I/N (e.g. 0/4), got '{text}'") from None
        if not 0 <= i < n:
            raise InputError(f"--shard: expected 0 <= I < N, got '{text}'")
        return cls(i, n)

    def indices(self, scenes: int) -> list[int]:
        return [i for i in range(scenes) if i % self.count == self.index]


def config_hash(cfg: SynthConfig) -> str:
    """Hash of what determines the scenes. The SMPL-X file counts by its content, not its
    path, so a dataset can be resumed with the model file moved elsewhere."""
    d = cfg.to_dict()
    if d["body"]["model"] == "smplx":
        d["body"]["smplx_model"] = _file_sha256(d["body"]["smplx_model"] or None)
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def _file_sha256(path: str | None) -> str:
    from engine.body.smplx_body import resolve_smplx_path

    h = hashlib.sha256()
    with open(resolve_smplx_path(path), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_dataset_record(root: Path, cfg: SynthConfig) -> str:
    """Create ``dataset.json`` or check that the existing one holds the same config. Without
    one, the scenes already in the folder must carry this config's hash."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / DATASET_JSON
    digest = config_hash(cfg)
    found = dataset_record(root) if path.exists() else None
    if found is not None:
        old = found[1]
        if old.get("config_hash") != digest:
            field = _first_difference(old.get("config", {}), json.loads(json.dumps(cfg.to_dict())))
            raise InputError(f"{path}: this folder holds scenes rendered with another config "
                             f"(first difference: '{field}'); use another --out or the same config")
        return digest
    others = {name: h for name, h in scene_config_hashes(scene_folders(root)).items() if h != digest}
    if others:
        name, other = next(iter(others.items()))
        raise InputError(f"{root / name / 'scene.json'}: rendered with config {other}, this render's config is "
                         f"{digest}, and {path} is missing: {len(others)} scene(s) of another config; use another "
                         f"--out or the config they were rendered with")
    from engine.io.scene import SCHEMA_VERSION

    record = {"schema_version": SCHEMA_VERSION, "generator": "diffproxy.synth", "config_hash": digest,
              "config": cfg.to_dict()}
    atomic_write_bytes(path, json.dumps(record, indent=1).encode())
    return digest


def _first_difference(a, b, prefix: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{prefix}{k}.")
    return prefix.rstrip(".") or "<root>"


class SceneRenderer:
    """Per-process state of a render worker: the body model, the assets and a Blender worker."""

    def __init__(self, cfg: SynthConfig, root: Path, blender: str | None, threads: int):
        from synth.assets import AssetStore
        from synth.blender_process import BlenderWorker
        from synth.subject import Subject

        self.cfg, self.root, self.threads = cfg, Path(root), threads
        self.digest = config_hash(cfg)
        self.subject = Subject(cfg.body.model, cfg.body.smplx_model)
        store = AssetStore()
        self.hdris = [a.to_dict() for a in store.resolve("hdri")]
        self.mesh_assets = [a.to_dict() for a in store.resolve("occluder_mesh") if a.origin != "builtin"]
        self.worker = BlenderWorker(self.root / "logs" / f"blender-{os.getpid()}.log", blender)

    def render(self, index: int) -> dict:
        """Render scene ``index`` unless it is complete, or another render is writing it."""
        with claim_scene(self.root, scene_name(index)) as mine:
            if not mine:  # another render writes it now
                return {"index": index, "skipped": True, "busy": True}
            if is_complete(self.root / scene_name(index)):
                return {"index": index, "skipped": True}
            remove_temporaries(self.root, scene_name(index))  # of a render killed since this one started
            return self._render(index)

    def _render(self, index: int) -> dict:
        from synth.render_scene import render_scene
        from synth.scene_spec import sample_scene

        t0 = time.perf_counter()
        spec = sample_scene(self.cfg, index, self.subject, self.hdris, self.mesh_assets)
        sample_s = time.perf_counter() - t0
        r = self.cfg.render
        render = {"samples": r.samples, "denoise": r.denoise, "max_bounces": r.max_bounces,
                  "film_exposure": r.film_exposure, "threads": self.threads, "seed": index}
        folder = render_scene(spec, self.subject.mesh_arrays, self.worker, self.root, render, self.cfg.seed,
                              self.digest, sample_s)
        timings = json.loads((folder / "scene.json").read_text())["timings"]
        return {"index": index, "skipped": False, **timings}

    def close(self) -> None:
        self.worker.close()


_PROCESS_RENDERER: SceneRenderer | None = None


def _process_init(cfg, root, blender, threads) -> None:
    global _PROCESS_RENDERER
    _PROCESS_RENDERER = SceneRenderer(cfg, root, blender, threads)


def _process_render(index: int) -> dict:
    return _PROCESS_RENDERER.render(index)


def render_dataset(root: Path, scenes: int, cfg: SynthConfig, shard: Shard = Shard(), backend: str = "local",
                   workers: int = 1, blender: str | None = None, ray_address: str | None = None,
                   progress: Progress = no_progress) -> dict:
    """Render the shard's missing scenes; returns a summary (rendered, skipped, timings).
    Every argument and config value is checked before anything is written. ``progress("render",
    scenes done, the shard's scenes)``: first with those done before, then after each scene."""
    if scenes < 1:
        raise InputError(f"--scenes: must be >= 1, got {scenes}")
    if workers < 1:
        raise InputError(f"--workers: must be >= 1, got {workers}")
    check_backend(backend)
    cfg.check()
    # absolute: the Blender worker and Ray's actors run in other folders
    root = Path(root).absolute()
    check_writable_folder(root, "--out")
    blender = resolve_blender(blender)
    if cfg.body.model == "smplx" and cfg.body.smplx_model:  # recorded in dataset.json for validate and fit
        cfg = replace(cfg, body=replace(cfg.body, smplx_model=str(Path(cfg.body.smplx_model).absolute())))
    config_hash(cfg)  # an SMPL-X file that cannot be read fails here, before dataset.json exists
    digest = write_dataset_record(root, cfg)
    mine = shard.indices(scenes)
    todo = [i for i in mine if not is_complete(root / scene_name(i))]
    removed = remove_stale_temporaries(root, {scene_name(i) for i in todo})
    if removed:
        log.info("removed %d temporary folders of interrupted scenes", removed)
    log.info("dataset %s (config %s): %d scenes in shard %d/%d, %d done, %d to render", root, digest,
             len(mine), shard.index, shard.count, len(mine) - len(todo), len(todo))
    threads = max(1, (os.cpu_count() or 1) // workers)
    t0 = time.perf_counter()
    before = len(mine) - len(todo)
    progress("render", before, len(mine))
    tick = lambda k: progress("render", before + k, len(mine))  # noqa: E731
    results = list(_run(backend, todo, cfg, root, blender, workers, threads, ray_address, tick))
    done = [r for r in results if not r.get("skipped")]
    wall = time.perf_counter() - t0
    mean = lambda k: sum(r[k] for r in done) / len(done) if done else None  # noqa: E731
    return {"scenes": len(mine), "rendered": len(done), "skipped": len(mine) - len(done),
            "busy": sum(bool(r.get("busy")) for r in results), "wall_s": wall,
            "seconds_per_scene": mean("total_s"), "rgb_render_s": mean("rgb_render_s"),
            "blender_total_s": mean("blender_total_s"), "proxy_pass_s": mean("proxy_pass_s")}


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise InputError(f"--backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise InputError("--backend ray: the ray package is not installed (pip install 'diffproxy[cluster]')") \
                from None


def _run(backend, todo, cfg, root, blender, workers, threads, ray_address, tick):
    """The results of rendering ``todo``, in the order they finish; ``tick(k)`` after the k-th."""
    if not todo:
        return
    if backend == "local" and workers == 1:
        renderer = SceneRenderer(cfg, root, blender, threads)
        try:
            for k, i in enumerate(todo, 1):
                result = renderer.render(i)
                tick(k)
                yield result
        finally:
            renderer.close()
    elif backend == "local":
        with ProcessPoolExecutor(workers, initializer=_process_init, initargs=(cfg, root, blender, threads)) as pool:
            for k, future in enumerate(as_completed([pool.submit(_process_render, i) for i in todo]), 1):
                result = future.result()
                tick(k)
                yield result
    elif backend == "ray":
        from synth.ray_backend import run_ray

        for k, result in enumerate(run_ray(todo, partial(SceneRenderer, cfg, root, blender, threads), workers,
                                           threads, ray_address), 1):
            tick(k)
            yield result
    else:
        check_backend(backend)
