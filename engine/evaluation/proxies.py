"""The evaluation: fit every scene of a rendered dataset from its ground-truth proxies (the
oracle), or from proxies a diffusion checkpoint samples, alone (``proxies="model-only"``, which also
scores the proxies: ``engine.proxy.quality``; seconds then count sampling and fitting).

With ``hand_crops`` N, the oracle adds up to N hand crops with exact proxies as extra views
(``engine.proxy.oracle_crops``: the paper's hand refinement with perfect proxies); with
``proxies="model-only"`` the sampler's refinement pass makes them. With ``corrupt``, each view's exact proxy becomes K simulated noisy samples
(``engine.evaluation.corrupt``) aggregated by the paper's rule (``engine.proxy.aggregate_samples``);
``uniform_weights`` then keeps the aggregated seg and UV but weighs every foreground pixel 1,
the ablation that shows what the uncertainty weights are worth. Errors against the scene's
ground truth: MPJPE and PA-MPJPE on the body model's 33 named keypoints, the same for every model
(``keypoint_mpjpe_mm``, ``keypoint_pa_mpjpe_mm``; a reconstruction's ``mpjpe_mm`` is on its
joints, ``engine.pipeline.report``), MPVPE and PA-MPVPE on the vertices (mm),
and PA-MPVPE's vertex errors split between the hands (palms and fingers) and the rest.
A scene whose proxies give nothing to fit, or that cannot be read at all (a damaged file), is
reported (``error``, counted in ``failed``, listed in ``failed_scenes`` with the reason) and left
out of the error means; the run goes on.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from engine.body import BodyModel
from engine.errors import InputError
from engine.evaluation.corrupt import corrupt_proxies
from engine.fitting.fit import fit
from engine.fitting.observations import Observations
from engine.fitting.types import FitOptions, FitResult, ProxyViews
from engine.geometry.camera import Cameras
from engine.io.scene import Scene, dataset_smplx_model, read_scene, scene_folders
from engine.metrics import mpjpe, mpvpe, pa_mpjpe, pa_mpvpe, pa_region_errors_mm
from engine.proxy import PART_ID, BodyCache, BodyProxy, PartTable, aggregate_samples
from engine.proxy.parts import HAND_PARTS
from engine.proxy.oracle_crops import oracle_hand_crops
from engine.step_progress import Progress, no_progress

METRICS = ("keypoint_mpjpe_mm", "keypoint_pa_mpjpe_mm", "mpvpe_mm", "pa_mpvpe_mm")
REGION_METRICS = ("pa_mpvpe_body_mm", "pa_mpvpe_hands_mm")  # PA-MPVPE's vertices without / on the hands
PROXY_METRICS = ("seg_miou", "surface_error_mm", "surface_valid", "sample_seconds", "fit_seconds")


@dataclass
class EvalConfig:
    proxies: str = "gt"  # "gt" or "model-only", as ``diffproxy evaluate --proxies`` (engine.pipeline.options)
    corrupt: float = 0.0  # share of foreground pixels made wrong per sample; 0: exact proxies
    samples: int = 3  # K simulated samples per view (with corrupt)
    num_views: int | None = None  # the first N views of each scene; None: all
    uniform_weights: bool = False
    max_scenes: int | None = None
    seed: int = 0
    smplx_model: str | None = None
    checkpoint: str | None = None  # proxies "model-only": the diffusion checkpoint
    steps: int = 4  # proxies "model-only": denoising steps
    hand_crops: int = 0  # hand crops added as views (0: none): exact (gt) or the sampler's refinement pass
    options: FitOptions = field(default_factory=FitOptions)

    def check(self) -> None:
        if self.proxies not in ("gt", "model-only"):
            raise InputError(f"proxies: 'gt' (the scenes' exact proxies) or 'model-only' (sampled with --checkpoint), "
                             f"got {self.proxies!r} (none and model: engine.evaluation.reconstructor)")
        if self.proxies == "model-only":
            if not self.checkpoint:
                raise InputError("--checkpoint: needed with --proxies model-only")
            if self.corrupt > 0 or self.uniform_weights:
                raise InputError("--corrupt and --uniform-weights simulate samples of exact proxies: use them "
                                 "with --proxies gt")
            if self.steps < 1:
                raise InputError(f"steps: must be at least 1, got {self.steps}")
        if self.hand_crops < 0:
            raise InputError(f"hand_crops: must not be negative, got {self.hand_crops}")
        if not 0.0 <= self.corrupt <= 1.0:
            raise InputError(f"corrupt: must lie in [0, 1], got {self.corrupt}")
        if self.samples < 1:
            raise InputError(f"samples: must be at least 1, got {self.samples}")
        if self.num_views is not None and self.num_views < 1:
            raise InputError(f"num_views: must be at least 1, got {self.num_views}")
        if self.max_scenes is not None and self.max_scenes < 1:
            raise InputError(f"max_scenes: must be at least 1, got {self.max_scenes}")


def scene_cameras(scene: Scene, index: list[int]) -> Cameras:
    K, R, t, sizes = scene.camera_arrays()
    if len({sizes[i] for i in index}) != 1:
        raise InputError(f"{scene.folder / 'scene.json'}: field 'cameras': views {index} differ in image size {sizes}")
    width, height = sizes[index[0]]
    return Cameras(torch.as_tensor(K[index]), torch.as_tensor(R[index]), torch.as_tensor(t[index]), width, height)


def check_view_count(folders: list[Path], num_views: int | None, name: str = "num_views") -> None:
    """``num_views`` exist in every readable scene, checked before the first fit (an unreadable
    scene is reported as failed when its turn comes)."""
    counts = []
    for folder in folders:
        with contextlib.suppress(InputError):
            counts.append(read_scene(folder, load_arrays=False).num_views)
    if num_views is not None and counts and num_views > min(counts):
        raise InputError(f"{name}: {num_views} views asked, but a scene has only {min(counts)}")


def view_count(scene: Scene, config: EvalConfig) -> int:
    n = scene.num_views if config.num_views is None else config.num_views
    if n > scene.num_views:
        raise InputError(f"num_views: {n} asked, {scene.folder.name} has {scene.num_views}")
    return n


def _scene_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def scene_views(scene: Scene, config: EvalConfig, index: int, body: BodyModel | None = None,
                proxy: BodyProxy | None = None) -> ProxyViews:
    """The proxies the fit sees: exact (with ``config.hand_crops``, plus exact hand crops of
    the true body, which needs ``body`` and ``proxy``), or K corrupted samples of those
    aggregated (seeded per scene)."""
    if scene.proxies is None:
        raise InputError(f"{scene.folder / 'scene.json'}: field 'files.proxies' missing (no ground-truth proxies)")
    n = view_count(scene, config)
    seg = torch.as_tensor(scene.proxies["seg"][:n])
    uv = torch.as_tensor(scene.proxies["uv"][:n])
    cameras = scene_cameras(scene, list(range(n)))
    if config.hand_crops:
        if body is None or proxy is None:
            raise InputError("hand_crops: the oracle's crops need the body model and its proxy")
        crops = oracle_hand_crops(seg, scene.proxies["depth"][:n], cameras, scene.gt["vertices"], body,
                                  proxy.part_table.face_part, config.hand_crops)
        if crops is not None:
            seg, uv, cameras = torch.cat([seg, crops.seg]), torch.cat([uv, crops.uv]), cameras.extend(crops.cameras)
    weight, hand_views = None, len(seg) - n
    if config.corrupt > 0:
        g = torch.Generator().manual_seed(_scene_seed(config.seed, index))
        agg = aggregate_samples(*corrupt_proxies(seg, uv, config.corrupt, config.samples, g))
        seg, uv, weight = agg.seg.to(torch.uint8), agg.uv, agg.weight
    if config.uniform_weights:
        weight = (seg > 0).to(uv.dtype)
    return ProxyViews(seg, uv, cameras, weight, hand_views)


def scene_errors(result: FitResult, gt: dict[str, np.ndarray], part_table: PartTable | None = None,
                 ) -> dict[str, float]:
    """The 4 errors (mm) of one fit against a scene's ground truth; with the body's
    ``part_table``, also PA-MPVPE's mean vertex error on the hands and on the rest."""
    pred_k = result.keypoints.detach().double()[None]
    pred_v = result.vertices.detach().double()[None]
    gt_k = torch.as_tensor(gt["keypoints"], dtype=torch.float64)[None]
    gt_v = torch.as_tensor(gt["vertices"], dtype=torch.float64)[None]
    if gt_v.shape != pred_v.shape:
        raise InputError(f"gt.vertices: {gt_v.shape[1]} vertices, the fitted body model has {pred_v.shape[1]}")
    errors = {"keypoint_mpjpe_mm": mpjpe(pred_k, gt_k).item(), "keypoint_pa_mpjpe_mm": pa_mpjpe(pred_k, gt_k).item(),
              "mpvpe_mm": mpvpe(pred_v, gt_v).item(), "pa_mpvpe_mm": pa_mpvpe(pred_v, gt_v).item()}
    if part_table is not None:
        hand_parts = torch.tensor([PART_ID[name] for name in HAND_PARTS])
        hands = torch.isin(part_table.vertex_part.cpu(), hand_parts)
        regions = pa_region_errors_mm(pred_v, gt_v, {"body": ~hands, "hands": hands})
        errors.update({f"pa_mpvpe_{name}_mm": v.item() for name, v in regions.items()})
    return errors


def timed_fit(views: ProxyViews, body: BodyModel, proxy: BodyProxy, options: FitOptions) -> tuple[FitResult, float]:
    t0 = time.perf_counter()
    result = fit(Observations(proxies=views, body_proxy=proxy), body, options)
    return result, time.perf_counter() - t0


def evaluate_scene(folder: Path, index: int, config: EvalConfig, bodies: BodyCache, generator=None) -> dict:
    """One scene's row; ``generator`` (``engine.diffusion.sample.ProxySampler``) samples
    the proxies when ``config.proxies`` is "model-only"."""
    scene = read_scene(folder)
    if scene.gt is None:
        raise InputError(f"{folder / 'scene.json'}: field 'files.gt' missing (no ground truth to compare with)")
    body, proxy = bodies.get(scene.record.get("body", {}).get("model", "anny"))
    quality = {}
    if generator is None:
        views = scene_views(scene, config, int(scene.record.get("index", index)), body, proxy)
        if config.hand_crops:
            quality["hand_views"] = views.hand_views
    else:
        from engine.evaluation.model_proxies import model_views

        n = view_count(scene, config)
        views, quality = model_views(generator, scene, scene_cameras(scene, list(range(n))),
                                     torch.as_tensor(scene.gt["vertices"]), body.faces, proxy,
                                     seed=_scene_seed(config.seed, int(scene.record.get("index", index))))
    sampled = quality.get("sample_seconds", 0.0)
    try:
        result, seconds = timed_fit(views, body, proxy, config.options)
    except ValueError as e:  # proxies that give nothing to fit (a poor model): a failed scene, not a failed run
        return failed_row(folder.name, str(e), len(views), sampled, quality)
    row = {"scene": folder.name, "views": len(views), "seconds": seconds + sampled, "fit_seconds": seconds,
           **quality, **scene_errors(result, scene.gt, proxy.part_table),
           "residual_px": float(result.residual_px.mean()),
           "correspondences": int(result.correspondences), "init": result.init}
    return row


def failed_row(scene: str, error: str, views: int = 0, seconds: float = 0.0, quality: dict | None = None) -> dict:
    """The row of a scene that gave no fit: NaN errors (left out of the means) and the reason."""
    return {"scene": scene, "views": views, "seconds": seconds, "fit_seconds": 0.0, **(quality or {}),
            **dict.fromkeys(METRICS + REGION_METRICS, math.nan), "residual_px": math.nan, "correspondences": 0,
            "init": None, "error": error}


def evaluate_scene_or_fail(folder: Path, index: int, config: EvalConfig, bodies: BodyCache, generator=None) -> dict:
    """``evaluate_scene``, but a scene that cannot be read or fitted (a damaged file, NaN in its
    arrays) becomes a failed row naming the reason: the run goes on and keeps the other scenes."""
    try:
        return evaluate_scene(folder, index, config, bodies, generator)
    except Exception as e:  # noqa: BLE001 (any failure of one scene is that scene's, reported in its row)
        return failed_row(folder.name, str(e) if isinstance(e, InputError) else f"{type(e).__name__}: {e}")


def evaluate(root: Path, config: EvalConfig = EvalConfig(), progress: Progress = no_progress,
             bodies: BodyCache | None = None, jobs: int = 1) -> dict:
    """Fit every scene under ``root``; returns {"scenes": rows, "summary": means};
    ``progress("evaluate", scenes done, scenes)`` as it goes. Pass one
    ``bodies`` to several calls to build each body model once. ``jobs`` > 1 fits that many
    scenes at a time in worker processes (ground-truth proxies, corrupted or not), which
    build their own body models on every call; ``seconds_per_scene`` stays the mean time of
    one scene, ``wall_seconds_per_scene`` is the run's wall time per scene."""
    config.check()
    if jobs < 1:
        raise InputError(f"jobs: must be at least 1, got {jobs}")
    if jobs > 1 and config.proxies == "model-only":
        raise InputError("jobs: scenes are fitted in parallel from ground-truth proxies only (--proxies gt, "
                         "corrupted or not); with --proxies model-only the sampler batches on one device")
    folders = scene_folders(root)[: config.max_scenes]
    if not folders:
        raise InputError(f"{root}: no scene_* folders")
    check_view_count(folders, config.num_views)
    config = replace(config, smplx_model=config.smplx_model or dataset_smplx_model(root))
    bodies = bodies or BodyCache(config.smplx_model, config.options.dtype)
    generator = None
    if config.proxies == "model-only":
        from engine.diffusion.sample import ProxySampler, SampleOptions

        generator = ProxySampler.from_pretrained(config.checkpoint, SampleOptions(config.samples, config.steps,
                                                                                  config.seed, config.hand_crops))
    jobs = min(jobs, len(folders))
    threads = max(1, torch.get_num_threads() // jobs)
    rows, t0 = [], time.perf_counter()
    progress("evaluate", 0, len(folders))
    with parallel_scenes(jobs, config, threads) if jobs > 1 else contextlib.nullcontext() as pool:
        results = pool.map(_evaluate_in_worker, folders, range(len(folders))) if pool else \
            (evaluate_scene_or_fail(folder, i, config, bodies, generator) for i, folder in enumerate(folders))
        for row in results:
            rows.append(row)
            progress("evaluate", len(rows), len(folders))
    wall = time.perf_counter() - t0
    summary = summarize(rows, config, str(generator.device) if generator else "cpu")
    summary.update(jobs=jobs, threads=threads, wall_seconds_per_scene=wall / len(rows))
    return {"scenes": rows, "summary": summary}


def parallel_scenes(jobs: int, config: EvalConfig, threads: int):
    """A pool of ``jobs`` worker processes, each with its own body models and ``threads``
    torch threads. Small fits use two threads poorly, so two one-thread workers fit more
    scenes per second than one two-thread process; each fit takes longer."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker,
                               initargs=(config, threads))


_WORKER: dict = {}


def _init_worker(config: EvalConfig, threads: int) -> None:
    torch.set_num_threads(threads)
    _WORKER.update(config=config, bodies=BodyCache(config.smplx_model, config.options.dtype))


def _evaluate_in_worker(folder: Path, index: int) -> dict:
    return evaluate_scene_or_fail(folder, index, _WORKER["config"], _WORKER["bodies"])


def summarize(rows: list[dict], config: EvalConfig, generator_device: str = "cpu") -> dict:
    """Means over the scenes; the fit runs on the CPU, the sampler where ``generator_device`` says."""
    mean = lambda key: float(np.mean([r[key] for r in rows])) if rows else math.nan  # noqa: E731
    fitted = [r for r in rows if "error" not in r]
    fit_mean = lambda key: float(np.mean([r[key] for r in fitted])) if fitted else math.nan  # noqa: E731
    return {**{k: fit_mean(k) for k in METRICS + REGION_METRICS}, "seconds_per_scene": mean("seconds"),
            "scenes": len(rows),
            "failed": len(rows) - len(fitted),
            "failed_scenes": [{"scene": r["scene"], "error": r["error"]} for r in rows if "error" in r],
            "views": config.num_views or max((r["views"] for r in rows), default=0), "proxies": config.proxies, "corrupt": config.corrupt,
            "samples": config.samples if config.corrupt > 0 or config.proxies == "model-only" else 1, "uniform_weights": config.uniform_weights,
            "residual_px": fit_mean("residual_px"), "threads": torch.get_num_threads(),
            "device": generator_device if config.proxies == "model-only" else "cpu",
            **({k: float(np.nanmean([r.get(k, math.nan) for r in rows])) for k in PROXY_METRICS
                if any(k in r for r in rows)}),
            **({"checkpoint": config.checkpoint, "steps": config.steps, "hand_crops": config.hand_crops}
               if config.proxies == "model-only" else {})}
