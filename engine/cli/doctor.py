"""``diffproxy doctor``: what a user runs first when something is off."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import os
import platform
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from engine.cli.output import styled
from engine.cache import anny_cache_dir, cache_dir
from engine.errors import InputError

_PACKAGES = ("diffproxy", "torch", "numpy", "anny", "smplx", "roma", "bpy", "diffusers", "transformers",
             "accelerate")


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _device() -> dict:
    import torch

    if torch.cuda.is_available():
        return {"device": "cuda", "name": torch.cuda.get_device_name(0), "count": torch.cuda.device_count()}
    return {"device": "cpu", "name": platform.processor() or platform.machine(), "threads": torch.get_num_threads()}


def _check_body(name: str, smplx_model: Optional[Path], samples: int) -> dict:
    from engine.body import load_body_model
    from engine.proxy import BodyProxy
    from engine.proxy.roundtrip import uv_roundtrip

    t0 = time.perf_counter()
    try:
        body = load_body_model(name, smplx_model=smplx_model)
    except InputError as e:
        return {"usable": False, "reason": str(e)}
    except Exception as e:  # noqa: BLE001 (the doctor reports what fails, it does not fail with it)
        return {"usable": False, "reason": f"{type(e).__name__}: {e}"}
    info: dict = {"usable": True, "load_s": round(time.perf_counter() - t0, 2),
                  "vertices": int(body.faces.max()) + 1,
                  "faces": int(body.faces.shape[0]), "joints": len(body.joint_names)}
    if name == "smplx":
        info["model_file"] = str(body.model_path)
    info["forward_backward_b8_ms"] = round(_time_forward_backward(body, batch=8) * 1000, 1)
    t0 = time.perf_counter()
    try:
        report = uv_roundtrip(body, BodyProxy.for_body(body), samples=samples).as_dict()
    except InputError as e:  # e.g. a UV map that is no atlas: nothing maps back
        report = {"samples": samples, "within_1mm": 0.0, "error": str(e)}
    info["uv_roundtrip"] = report
    info["uv_roundtrip_s"] = round(time.perf_counter() - t0, 2)
    return info


def _writable(folder: Path) -> bool:
    from engine.io.files import check_writable_folder

    try:
        check_writable_folder(folder, "cache")
    except InputError:
        return False
    return True


def _time_forward_backward(body, batch: int, repeats: int = 5) -> float:
    """Median seconds of one forward + backward through a posed batch (float32)."""
    import torch

    params = body.neutral_params(batch)
    params.body_pose = 0.2 * torch.randn_like(params.body_pose)
    times = []
    for _ in range(repeats + 1):
        pose = params.body_pose.clone().requires_grad_()
        t0 = time.perf_counter()
        out = body(dataclasses.replace(params, body_pose=pose))
        out.vertices.square().sum().backward()
        times.append(time.perf_counter() - t0)
    return sorted(times[1:])[repeats // 2]


def doctor(
    json_out: Annotated[bool, typer.Option("--json", help="End with one JSON object on the last line.")] = False,
    smplx_model: Annotated[Optional[Path], typer.Option(
        help="SMPL-X model file (SMPLX_NEUTRAL.npz); default: $DIFFPROXY_SMPLX_MODEL.")] = None,
    samples: Annotated[int, typer.Option(help="Surface points in the UV round trip.")] = 100_000,
) -> None:
    """Report versions, compute device, body models, cache, and run the proxy UV round trip."""
    console = Console(stderr=json_out, markup=False, emoji=False, highlight=False)
    smplx_path = smplx_model or (Path(os.environ["DIFFPROXY_SMPLX_MODEL"])
                                 if os.environ.get("DIFFPROXY_SMPLX_MODEL") else None)
    result: dict = {"versions": _versions(), "compute": _device(),
                    "cache_dir": str(cache_dir()), "anny_cache_dir": str(anny_cache_dir()),
                    "cache_writable": _writable(cache_dir()) and _writable(anny_cache_dir()), "body_models": {}}
    for name in ("anny", "smplx"):
        if name == "smplx" and smplx_path is None:
            from engine.body.smplx_body import SMPLX_HELP

            result["body_models"][name] = {"usable": False, "reason": f"no model file given. {SMPLX_HELP}"}
            continue
        with console.status(f"checking {name}..."):
            result["body_models"][name] = _check_body(name, smplx_path, samples)
    from engine.body.anny_cache import folder_size  # here: importing it loads torch, which --help need not

    result["anny_cache_mb"] = round(folder_size(anny_cache_dir()) / 1e6) if anny_cache_dir().is_dir() else 0
    fractions = {n: b["uv_roundtrip"]["within_1mm"] for n, b in result["body_models"].items() if b["usable"]}
    result["uv_roundtrip_within_1mm"] = fractions
    # every usable body model must pass: a user's SMPL-X file that fails is a problem too, and
    # so is one that does not load at all (a wrong path, a damaged file)
    smplx_broken = smplx_path is not None and not result["body_models"]["smplx"]["usable"]
    result["ok"] = result["body_models"]["anny"]["usable"] and all(f >= 0.995 for f in fractions.values()) \
        and not smplx_broken
    _print(console, result)
    if json_out:
        from engine.io.files import strict_json

        print(json.dumps(strict_json(result), allow_nan=False))  # a failed round trip may hold NaN
    raise typer.Exit(0 if result["ok"] else 1)


def _print(console: Console, r: dict) -> None:
    t = Table(title="diffproxy doctor", show_header=False)
    for k, v in r["versions"].items():
        t.add_row(k, v or styled("not installed", "red"))
    t.add_row("compute", ", ".join(f"{k}={v}" for k, v in r["compute"].items()))
    t.add_row("cache", Text(r["cache_dir"]) + ("" if r["cache_writable"] else
                                               styled(" (read-only: used as it is; what it lacks is built in "
                                                      "memory each time, or fails for Anny)", "yellow")))
    t.add_row("anny cache", f"{r['anny_cache_dir']} ({r['anny_cache_mb']} MB)")
    for name, b in r["body_models"].items():
        if not b["usable"]:
            t.add_row(f"body model {name}", styled("not usable", "yellow") + Text(f": {b['reason']}"))
            continue
        rt = b["uv_roundtrip"]
        t.add_row(f"body model {name}",
                  f"usable ({b['vertices']} vertices, {b['faces']} faces, {b['joints']} joints; "
                  f"forward+backward, batch 8: {b['forward_backward_b8_ms']} ms)")
        if "error" in rt:
            t.add_row(f"  UV round trip {name}", styled("failed", "red") + Text(f": {rt['error']}"))
            continue
        t.add_row(f"  UV round trip {name}",
                  f"{rt['within_1mm']:.4%} of {rt['samples']} within 1 mm; failures {rt['failures']} "
                  f"(not found {rt['not_found']}, outside face {rt['outside_face']}); "
                  f"max {rt['max_error_mm']:.3g} mm")
    t.add_row("verdict", styled("ok", "green") if r["ok"] else styled("problems found", "red"))
    console.print(t)
