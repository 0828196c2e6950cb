"""The render configuration: one typed dataclass tree, read from TOML or JSON, saved into
the dataset (``dataset.json``) so that every scene can be re-derived from it.

``load_config`` refuses unknown fields and wrong types, naming the file and the dotted
field, rather than silently ignoring a typo such as ``cameras.focal_mm``.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import InputError
from synth.appearance import AppearanceConfig
from synth.cameras import CameraConfig
from synth.checks import check_number
from synth.lighting import LightingConfig, check_lighting_config
from synth.occluders import OccluderConfig
from synth.pose import PoseConfig

BODY_MODELS = ("anny", "smplx")


@dataclass
class RenderConfig:
    samples: int = 16  # Cycles samples of the RGB pass
    denoise: bool = True  # OpenImageDenoise on the RGB pass (never on proxies)
    max_bounces: int = 4
    film_exposure: float = 0.0

    def check(self) -> None:
        if self.samples < 1:
            raise InputError(f"render.samples: expected >= 1, got {self.samples}")
        if self.max_bounces < 0:
            raise InputError(f"render.max_bounces: expected >= 0, got {self.max_bounces}")
        check_number("render.film_exposure", self.film_exposure)


@dataclass
class BodyConfig:
    model: str = "anny"  # anny | smplx
    smplx_model: str = ""  # path of the user's SMPL-X file when model = "smplx"

    def check(self) -> None:
        if self.model not in BODY_MODELS:
            raise InputError(f"body.model: expected one of {', '.join(BODY_MODELS)}, got {self.model!r}")


@dataclass
class SynthConfig:
    seed: int = 0
    body: BodyConfig = field(default_factory=BodyConfig)
    pose: PoseConfig = field(default_factory=PoseConfig)
    appearance: AppearanceConfig = field(default_factory=AppearanceConfig)
    occluders: OccluderConfig = field(default_factory=OccluderConfig)
    lighting: LightingConfig = field(default_factory=LightingConfig)
    cameras: CameraConfig = field(default_factory=CameraConfig)
    render: RenderConfig = field(default_factory=RenderConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def check(self) -> None:
        """Every value the scenes will use (a render checks them before it writes anything)."""
        if self.seed < 0:
            raise InputError(f"seed: expected >= 0, got {self.seed}")
        self.body.check()
        self.pose.check()
        self.appearance.check()
        self.occluders.check()
        check_lighting_config(self.lighting)
        self.cameras.check()
        self.render.check()


def load_config(path: Path | None = None, overrides: dict | None = None) -> SynthConfig:
    """Config from a TOML/JSON file (or defaults), then ``overrides`` (a nested dict)."""
    data: dict = {}
    where = "config"
    if path is not None:
        path = Path(path)
        where = str(path)
        try:
            text = path.read_text()
            data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except FileNotFoundError:
            raise InputError(f"{path}: config file not found") from None
        except UnicodeDecodeError as e:
            raise InputError(f"{path}: not a UTF-8 text file ({e.reason} at byte {e.start})") from None
        except OSError as e:  # a folder, no permission
            raise InputError(f"{path}: cannot read the config file ({e.strerror or e})") from None
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
            raise InputError(f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'JSON'}: {e}") from None
    for key, value in (overrides or {}).items():
        _merge(data, key, value)
    return from_dict(SynthConfig, data, where)


def _merge(data: dict, key: str, value) -> None:
    if isinstance(value, dict):
        sub = data.setdefault(key, {})
        for k, v in value.items():
            _merge(sub, k, v)
    else:
        data[key] = value


def from_dict(cls, data: dict, where: str, prefix: str = ""):
    if not isinstance(data, dict):
        raise InputError(f"{where}: field '{prefix.rstrip('.') or '<root>'}' must be a table/object, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InputError(f"{where}: unknown field '{prefix}{unknown[0]}' (known: {', '.join(sorted(names))})")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, where, f"{prefix}{name}")
    return cls(**kwargs)


def _coerce(tp, value, where: str, name: str):
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where, name + ".")
    bad = InputError(f"{where}: field '{name}' must be {_type_name(tp)}, got {value!r}")
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        return float(value)
    if tp in (int, bool, str):
        if type(value) is not tp:
            raise bad
        return value
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis and isinstance(value, (list, tuple)):
            args = (args[0],) * len(value)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise bad
        return tuple(_coerce(a, v, where, f"{name}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin is dict:
        kt, vt = typing.get_args(tp)
        if not isinstance(value, dict):
            raise bad
        return {_coerce(kt, k, where, name): _coerce(vt, v, where, f"{name}.{k}") for k, v in value.items()}
    if origin is list:
        (vt,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise bad
        return [_coerce(vt, v, where, f"{name}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"config field {name}: unsupported type {tp}")


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp))
