"""``diffproxy fit | evaluate``: fit a body to one scene's proxies; the oracle evaluation."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from engine.cli.output import console, error, warn
from engine.cli.progress import progress_reporter
from engine.detect.pose_models import DEFAULT_POSE_MODEL
from engine.errors import InputError
from engine.io.files import check_writable_file, check_writable_folder, read_npz, read_rgb, require_fields, strict_json
from engine.pipeline.options import PROXIES, check_proxies, proxies_help



def _fail(e: Exception) -> None:
    error(e)  # paths stay whole
    raise typer.Exit(2)


def _int_list(name: str, text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"{name}: expected comma-separated integers, got {text!r}") from None
    if not values:
        raise InputError(f"{name}: empty list")
    return values


def _fit_options(pairs: list[str] | None, **fixed):
    """``FitOptions`` from ``KEY=VALUE`` overrides (``--set body_iters=40``), typed by the field."""
    from dataclasses import fields

    from engine.fitting import FitOptions

    kinds = {f.name: type(f.default) for f in fields(FitOptions) if isinstance(f.default, (int, float, bool))}
    values = dict(fixed)
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        if not sep or key not in kinds:
            raise InputError(f"--set: expected KEY=VALUE with KEY one of {sorted(kinds)}, got {pair!r}")
        try:
            values[key] = text.lower() in ("1", "true", "yes") if kinds[key] is bool else kinds[key](text)
        except ValueError:
            raise InputError(f"--set {key}: expected a {kinds[key].__name__}, got {text!r}") from None
        low = 1 if key in ("max_per_part", "robust_sigma_px") else 0  # counts, weights, scales
        if kinds[key] is not bool and not (math.isfinite(values[key]) and values[key] >= low):
            raise InputError(f"--set {key}: expected a finite number >= {low}, got {text!r}")
    return FitOptions(**values)


SET_HELP = "Override a fit option, KEY=VALUE (repeatable), e.g. --set body_iters=40."
VPOSER_HELP = ("SMPL-X: your VPoser v2 folder (V02_05, holding snapshots/*.ckpt) or .ckpt, the learned pose prior "
               "(default: $DIFFPROXY_VPOSER; weight: --set vposer_prior=W).")


def _options_record(options) -> dict:
    return {k: str(v) if not isinstance(v, (int, float, bool, str)) else v for k, v in asdict(options).items()}


def evaluate(
    dataset: Path = typer.Argument(..., help="A dataset folder (scene_* inside) or one scene folder."),
    proxies: str = typer.Option("gt", help="What the fit sees: " + proxies_help("evaluate") + " none and model run "
                                           "the product's path (MediaPipe on the renders)."),
    checkpoint: Optional[Path] = typer.Option(None, help="With --proxies model or model-only: a trained model folder "
                                                           "or training folder (its latest checkpoint; default for "
                                                           "model: the shipped model)."),
    steps: int = typer.Option(4, help="With --proxies model or model-only: denoising steps."),
    hand_crops: int = typer.Option(0, help="Hand crops added as views (0: none): exact ones with --proxies gt, the "
                                           "refinement pass's with --proxies model-only."),
    corrupt: float = typer.Option(0.0, help="Share of foreground pixels made wrong in each simulated sample."),
    samples: int = typer.Option(3, help="Samples per view (K), aggregated as in the paper: simulated with --corrupt, "
                                        "or drawn from the model."),
    num_views: Optional[int] = typer.Option(None, help="Use the first N views of each scene (default: all)."),
    num_views_sweep: Optional[str] = typer.Option(None, help="Comma-separated view counts, e.g. 1,2,4,8: one run "
                                                             "each (the first N views each time)."),
    uniform_weights: bool = typer.Option(False, help="Weigh every foreground pixel 1 (the ablation)."),
    max_scenes: Optional[int] = typer.Option(None, help="Evaluate only the first M scenes."),
    jobs: int = typer.Option(1, help="Fit this many scenes at a time in worker processes that share the torch "
                                     "threads (--proxies gt); 2 on a 2-core CPU fits more scenes per second."),
    seed: int = typer.Option(0, help="Seed of the simulated corruption."),
    plot: Optional[Path] = typer.Option(None, help="PNG of the errors against the number of views."),
    smplx_model: Optional[Path] = typer.Option(None, help="SMPL-X file (default: the dataset's)."),
    vposer: Optional[Path] = typer.Option(None, help=VPOSER_HELP),
    set_: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
    pose_model: str = typer.Option(DEFAULT_POSE_MODEL, help="With --proxies none or model: BlazePose's landmark "
                                                            "model in MediaPipe, heavy or full."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary as the last line."),
) -> None:
    """Fit every scene from its ground-truth proxies (optionally corrupted) or from a model's, and report the errors."""
    try:
        check_proxies(proxies, "evaluate")
    except InputError as e:
        _fail(e)
    if proxies in ("none", "model"):
        generator = None if proxies == "none" else dict(checkpoint=checkpoint, samples=samples, steps=steps,
                                                        uniform_weights=uniform_weights)
        return _evaluate_evidence(dataset, num_views, num_views_sweep, max_scenes, plot, as_json, generator, pose_model,
                                  set_)

    from engine.evaluation.proxies import BodyCache, EvalConfig
    from engine.evaluation.proxies import check_view_count
    from engine.evaluation.proxies import evaluate as run
    from engine.io.scene import dataset_smplx_model, scene_folders
    from engine.evaluation.plot import plot_error_vs_views

    try:
        counts = _int_list("--num-views-sweep", num_views_sweep) if num_views_sweep else [num_views]
        configs = [EvalConfig(proxies=proxies, corrupt=corrupt, samples=samples, num_views=count,
                              uniform_weights=uniform_weights, max_scenes=max_scenes, seed=seed,
                              smplx_model=str(smplx_model) if smplx_model else None,
                              options=_fit_options(set_, vposer=str(vposer) if vposer else None),
                              checkpoint=str(checkpoint) if checkpoint else None, steps=steps,
                              hand_crops=hand_crops) for count in counts]
        for config in configs:  # every run of a sweep and the outputs, before the first fit
            config.check()
        folders = scene_folders(dataset)[:max_scenes]
        for count in counts:
            check_view_count(folders, count, "--num-views-sweep" if num_views_sweep else "--num-views")
        if plot is not None:
            check_writable_file(plot, "--plot")
        summaries, bodies = [], None
        for count, config in zip(counts, configs):
            bodies = bodies or BodyCache(config.smplx_model or dataset_smplx_model(dataset), config.options.dtype)
            label = {"evaluate": f"fit ({count or 'all'} views)"}
            with progress_reporter("bars", quiet=as_json, labels=label) as bars:
                result = run(dataset, config, progress=bars, bodies=bodies, jobs=jobs)
            _print_table(result, count)
            summaries.append(_with_per_scene(result))
    except InputError as e:
        _fail(e)
    failed = sorted({f["scene"] for s in summaries for f in s["failed_scenes"]})
    if failed:
        error(f"{len(failed)} scene(s) failed (see failed_scenes): {', '.join(failed)}")
    if as_json:
        _print_summary(summaries)
    if plot is not None:
        title = f"{proxies} proxies" + (f", corrupt {corrupt} x{samples}" if corrupt else "") + \
                (", uniform weights" if uniform_weights else "") + f", {summaries[0]['scenes']} scenes"
        try:
            console.print(f"plot: {plot_error_vs_views(summaries, plot, title)}")
        except OSError as e:
            error(f"--plot: cannot write {plot} ({e})")
            raise typer.Exit(1)
    if failed:
        raise typer.Exit(1)


def _evaluate_evidence(dataset: Path, num_views: int | None, num_views_sweep: str | None, max_scenes: int | None,
                       plot: Path | None, as_json: bool, generator: dict | None = None,
                       pose_model: str = DEFAULT_POSE_MODEL, set_: list[str] | None = None) -> None:
    """``--proxies none``: the detector on the renders and the fit to its evidence; ``--proxies
    model`` (``generator``: checkpoint, samples, steps, uniform_weights): and to the proxies
    sampled from the renders (engine.evaluation.reconstructor). ``set_``: ``--set KEY=VALUE``
    over the landmark schedule's options (``FitOptions.for_landmarks()``), as reconstruct fits."""
    from engine.evaluation.reconstructor import evaluate_evidence
    from engine.pipeline.reconstructor import Reconstructor

    try:
        counts = _int_list("--num-views-sweep", num_views_sweep) if num_views_sweep else [num_views]
        if plot is not None:
            raise InputError("--plot: not available with --proxies none or model")
        if generator is not None:
            from engine.diffusion.checkpoint import default_checkpoint

            generator["checkpoint"] = default_checkpoint(generator["checkpoint"])
        from engine.detect.pose_models import check_pose_model

        options = _landmark_options(set_)  # checked before the models load
        rec = Reconstructor.from_pretrained(**(generator or {}), pose_model=check_pose_model(pose_model))
        if options is not None:
            rec.options = options
        summaries = []
        for count in counts:
            label = {"evaluate": f"detect + fit ({count or 'all'} views)"}
            with progress_reporter("bars", quiet=as_json, labels=label) as bars:
                result = evaluate_evidence(dataset, rec, count, max_scenes, progress=bars)
            table = Table(title=f"--proxies {'none' if generator is None else 'model'}, errors in mm, "
                                f"{count or 'all'} views")
            for name in ("scene", "found", "MPJPE", "PA-MPJPE", "MPVPE", "PA-MPVPE", "px", "s", "world"):
                table.add_column(name, no_wrap=True)
            keys = ("keypoint_mpjpe_mm", "keypoint_pa_mpjpe_mm", "mpvpe_mm", "pa_mpvpe_mm")
            for r in result["scenes"]:
                table.add_row(r["scene"], f"{r['found']}/{r['views']}", *(f"{r[k]:.1f}" for k in keys),
                              f"{r['residual_px']:.1f}", f"{r['seconds']:.1f}", f"{r['unit']} {r['up_axis']}")
            s = result["summary"]
            table.add_row("[b]mean", "", *(f"[b]{s[k]:.1f}" for k in keys), f"{s['residual_px']:.1f}",
                          f"{s['seconds_per_scene']:.1f}", "")
            table.add_row("median", "", *(f"{s['median_' + k]:.1f}" for k in keys), "", "", "")
            wide = console.is_terminal or os.environ.get("COLUMNS")
            (console if wide else Console(stderr=True, width=140, markup=False, emoji=False, highlight=False)).print(table)
            for f in s["failed_scenes"]:
                warn(f"{f['scene']}: {f['error']}")
            summaries.append(s)
    except InputError as e:
        _fail(e)
    if as_json:
        _print_summary(summaries)
    if any(s["failed_scenes"] for s in summaries):
        raise typer.Exit(1)


def _landmark_options(pairs: list[str] | None):
    """The landmark schedule's options (``FitOptions.for_landmarks()``) with ``--set``'s keys
    replaced, checked and typed as ``_fit_options`` does; None without ``--set``."""
    if not pairs:
        return None
    from dataclasses import replace

    from engine.fitting import FitOptions

    given = _fit_options(pairs)
    return replace(FitOptions.for_landmarks(), **{k: getattr(given, k) for k in (p.partition("=")[0] for p in pairs)})


def _with_per_scene(result: dict) -> dict:
    """A run's summary with its scenes' errors (``per_scene``), as ``--proxies none`` gives."""
    from engine.evaluation.reconstructor import per_scene

    return {**result["summary"], "per_scene": per_scene(result["scenes"])}


def _print_summary(summaries: list[dict]) -> None:
    """The --json line: the last run's summary, with every run's under "sweep" when several; each
    carries ``per_scene``, every scene's name, views and errors in mm (``--proxies none`` and
    ``model``: also ``found``, the views the detector found the person in)."""
    out = dict(summaries[-1])
    if len(summaries) > 1:
        out["sweep"] = summaries
    print(json.dumps(strict_json(out), allow_nan=False))


def _print_table(result: dict, count: int | None) -> None:
    table = Table(title=f"errors in mm, {count or 'all'} views")
    quality = "seg_miou" in result["summary"]
    names = ("scene", "views", "MPJPE", "PA-MPJPE", "MPVPE", "PA-MPVPE", "PA body", "PA hands", "res. px", "s")
    for name in names + (("mIoU", "surf. mm") if quality else ()):
        table.add_column(name, no_wrap=True)
    errors = ("keypoint_mpjpe_mm", "keypoint_pa_mpjpe_mm", "mpvpe_mm", "pa_mpvpe_mm", "pa_mpvpe_body_mm",
              "pa_mpvpe_hands_mm")
    extra = lambda r: (f"{r.get('seg_miou', math.nan):.3f}", f"{r.get('surface_error_mm', math.nan):.1f}") if quality else ()  # noqa: E731
    for r in result["scenes"]:
        table.add_row(r["scene"], str(r["views"]), *(f"{r[k]:.1f}" for k in errors), f"{r['residual_px']:.2f}",
                      f"{r['seconds']:.1f}", *extra(r))
    s = result["summary"]
    table.add_row("[b]mean", "", *(f"[b]{s[k]:.1f}" for k in errors), f"{s['residual_px']:.2f}",
                  f"{s['seconds_per_scene']:.1f}", *extra(s))
    # into a log file, rich would squeeze the numbers into 80 columns (unless COLUMNS says otherwise)
    wide = console.is_terminal or os.environ.get("COLUMNS")
    (console if wide else Console(stderr=True, width=140, markup=False, emoji=False, highlight=False)).print(table)
    if s["jobs"] > 1:
        console.print(f"{s['jobs']} scenes at a time, {s['threads']} thread(s) each: "
                      f"{s['wall_seconds_per_scene']:.2f} s of wall time per scene")


def fit(
    scene_dir: Path = typer.Argument(..., metavar="SCENE", help="A scene folder (cameras, images)."),
    out: Path = typer.Option(..., "--out", help="Output folder: fit.json, fit.npz, fit.glb, overlay.png."),
    proxies: str = typer.Option("gt", help="What the fit sees: " + proxies_help("fit")[:-1] + " (the scene's "
                                           "proxies.npz), unless --proxies-dir gives others."),
    proxies_dir: Optional[Path] = typer.Option(None, help="A folder holding proxies.npz (seg, uv and optionally "
                                                          "weight, in the scene's layout) to fit instead of the "
                                                          "scene's own."),
    cameras: Optional[str] = typer.Option(None, help="Comma-separated camera names: each camera's 'name' in "
                                                     "scene.json, else view_00, view_01, ... as its image (default: "
                                                     "all)."),
    refine_cameras: bool = typer.Option(False, help="Refine extrinsics and focal length with the body."),
    body: Optional[str] = typer.Option(None, help="Body model (default: the scene's, else anny)."),
    smplx_model: Optional[Path] = typer.Option(None, help="SMPL-X file (default: the dataset's)."),
    vposer: Optional[Path] = typer.Option(None, help=VPOSER_HELP),
    set_: Optional[list[str]] = typer.Option(None, "--set", help=SET_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary as the last line."),
) -> None:
    """Fit the body model to one scene's proxies and write the result."""
    from engine.fitting import ProxyViews
    from engine.evaluation.proxies import BodyCache, scene_cameras, scene_errors, timed_fit
    from engine.fitting.vposer import vposer_path
    from engine.io.fit_result import write_fit
    from engine.io.scene import dataset_smplx_model, read_scene

    try:
        check_writable_folder(out, "--out")  # before the fit, not after it
        if proxies not in PROXIES and Path(proxies).is_dir():
            raise InputError(f"--proxies: fit takes gt, got the folder {proxies}: pass it as --proxies-dir")
        check_proxies(proxies, "fit")
        scene = read_scene(scene_dir)
        index = _camera_index(scene, cameras)
        seg, uv, weight = _load_proxies(scene, proxies_dir)
        name = body or scene.record.get("body", {}).get("model", "anny")
        options = _fit_options(set_, refine_cameras=refine_cameras, vposer=str(vposer) if vposer else None)
        bodies = BodyCache(str(smplx_model) if smplx_model else dataset_smplx_model(scene_dir), options.dtype)
        model, proxy = bodies.get(name)
        options.vposer = vposer_path(model.name, options.vposer)  # record the prior the fit will use
        proxy_views = ProxyViews(seg[index], uv[index], scene_cameras(scene, index),
                                 None if weight is None else weight[index])
        result, seconds = timed_fit(proxy_views, model, proxy, options)
        errors = {}
        if scene.gt is not None and name == scene.record.get("body", {}).get("model"):
            errors = scene_errors(result, scene.gt, proxy.part_table)
        images = [read_rgb(scene.image_path(i)) for i in index]
        meta = {"scene": str(Path(scene_dir).resolve()), "proxies": str(proxies_dir) if proxies_dir else proxies,
                "views": index, "cameras": [scene.camera_names[i] for i in index],
                "options": _options_record(options), "seconds": seconds, "errors_mm": errors}
        paths = write_fit(out, result, model, proxy_views, images, meta, part_table=proxy.part_table)
    except InputError as e:
        _fail(e)
    residual = [float(r) for r in result.residual_px]
    console.print(f"fitted {model.name} to {len(index)} views ({result.correspondences} correspondences, "
                  f"start: {result.init}) in {seconds:.1f} s; residual px per view: "
                  + ", ".join(f"{r:.2f}" for r in residual))
    if errors:
        console.print("errors (mm): " + ", ".join(f"{k[:-3]} {v:.1f}" for k, v in errors.items()))
    console.print(f"wrote {', '.join(str(p) for p in paths.values())}")
    if as_json:
        print(json.dumps({"residual_px": residual, "timings": result.timings, "seconds": seconds,
                          "correspondences": result.correspondences, "init": result.init, "out": str(out),
                          **errors}))


def _camera_index(scene, cameras: str | None) -> list[int]:
    """The views of the cameras ``--cameras`` names, in its order (None: all)."""
    names = scene.camera_names
    if cameras is None:
        return list(range(len(names)))
    wanted = [c.strip() for c in cameras.split(",") if c.strip()]
    if not wanted or len(set(wanted)) != len(wanted):
        raise InputError(f"--cameras: expected distinct camera names separated by commas, got {cameras!r}")
    unknown = [c for c in wanted if c not in names]
    if unknown:
        raise InputError(f"--cameras: {', '.join(unknown)} is not a camera of {scene.folder / 'scene.json'} "
                         f"(its cameras: {', '.join(names)})")
    return [names.index(c) for c in wanted]


def _load_proxies(scene, folder: Path | None):
    """seg (N,H,W), uv (N,H,W,2), weight (N,H,W) or None as tensors, from the scene (``folder``
    None) or from ``folder``/proxies.npz."""
    import torch

    if folder is None:
        if scene.proxies is None:
            raise InputError(f"{scene.folder / 'scene.json'}: field 'files.proxies' missing: pass --proxies-dir DIR")
        arrays = scene.proxies
        path = scene.folder / scene.record["files"]["proxies"]
    else:
        path = Path(folder) / "proxies.npz"
        arrays = read_npz(path, missing=f"--proxies-dir: {path} missing")
    require_fields(path, arrays, ("seg", "uv"))
    n = scene.num_views
    for key in ("seg", "uv", "weight"):
        if key in arrays and (arrays[key].ndim < 1 or arrays[key].shape[0] != n):
            raise InputError(f"{path}: field '{key}' has shape {arrays[key].shape}, expected {n} views first")
    if arrays["seg"].dtype.kind not in "iu":
        raise InputError(f"{path}: field 'seg' must hold integer part ids, got {arrays['seg'].dtype}")
    weight = torch.as_tensor(arrays["weight"], dtype=torch.float32) if "weight" in arrays else None
    return (torch.as_tensor(arrays["seg"].astype(np.int64)), torch.as_tensor(arrays["uv"], dtype=torch.float32),
            weight)
