"""Optional external assets (HDRIs, occluder meshes, ...): declared, verified, or the built-in default.

Three sources, in the order a dataset builder meets them:

- ``assets_manifest/*.toml`` declares assets the project knows about: where to download them,
  their licence, the file name, their sha256 and the built-in default used when they are absent.
- The asset store (``$DIFFPROXY_ASSETS_DIR`` or ``<cache>/assets``) holds installed files as
  ``<store>/<kind>/<filename>`` and ``installed.json``, the record written by :func:`install_asset`.
- Built-in defaults: the 8 CC0 HDRIs that ship inside Blender; procedural primitives (built by
  the occluder code, not here) for meshes.

Trust: a file is used only when its sha256 is pinned, by the manifest or, for an entry the
manifest leaves unpinned (its remote file was never seen by the project), by the user who
installed it with :func:`install_asset`. A pinned file whose content does not match, or whose
bytes are not the format its name says, is an :class:`InputError`; a declared asset that is not
installed (or not pinned) falls back to the default with a warning. Single files only: nothing is
ever extracted, and every path is checked to lie inside the store.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import logging
import os
import re
import tomllib
from pathlib import Path

from engine.cache import cache_dir
from engine.errors import InputError
from engine.io.files import atomic_copy, atomic_write_json

log = logging.getLogger(__name__)

ASSETS_ENV = "DIFFPROXY_ASSETS_DIR"
DATAFILES_ENV = "DIFFPROXY_BLENDER_DATAFILES"
MANIFEST_DIR = Path(__file__).resolve().parents[1] / "assets_manifest"

# kind -> allowed file extensions (single-file formats only: nothing to extract)
KINDS: dict[str, tuple[str, ...]] = {
    "hdri": (".exr", ".hdr"),
    "occluder_mesh": (".glb", ".gltf", ".obj", ".ply"),
    "texture": (".png", ".jpg", ".jpeg", ".exr"),
}
BUILTIN_HDRI_IDS = ("city", "courtyard", "forest", "interior", "night", "studio", "sunrise", "sunset")
_FIELDS = {"kind", "id", "url", "licence", "filename", "sha256", "default", "notes"}
_REQUIRED = ("kind", "id", "url", "licence", "filename", "default")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/]*$")


@dataclasses.dataclass(frozen=True)
class AssetEntry:
    """One declared asset. ``sha256`` is None while unpinned; ``source`` names where it was declared."""

    kind: str
    id: str
    url: str
    licence: str
    filename: str
    default: str
    sha256: str | None
    source: str
    notes: str = ""


@dataclasses.dataclass(frozen=True)
class ResolvedAsset:
    """An asset ready to use: a verified file, or a built-in one."""

    kind: str
    id: str
    path: str
    sha256: str
    licence: str
    url: str
    origin: str  # "builtin", "manifest" (sha256 pinned by the manifest) or "local-pin"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------- manifest


def load_manifest(manifest_dir: Path = MANIFEST_DIR) -> list[AssetEntry]:
    """Every ``[[asset]]`` table of every ``*.toml`` in ``manifest_dir``, checked field by field."""
    entries: list[AssetEntry] = []
    seen: dict[tuple[str, str], str] = {}
    for path in sorted(Path(manifest_dir).glob("*.toml")):
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise InputError(f"{path}: not valid TOML ({e})") from e
        unknown = set(doc) - {"asset"}
        if unknown:
            raise InputError(f"{path}: unknown top-level key(s) {sorted(unknown)}; expected [[asset]] tables")
        tables = doc.get("asset", [])
        if not isinstance(tables, list):
            raise InputError(f"{path}: 'asset' must be an array of tables ([[asset]])")
        for i, table in enumerate(tables):
            entry = _parse_entry(table, path, f"{path} [[asset]] #{i + 1}")
            key = (entry.kind, entry.id)
            if key in seen:
                raise InputError(f"{path} [[asset]] #{i + 1}: field 'id': {entry.id!r} already declared in {seen[key]}")
            seen[key] = str(path)
            entries.append(entry)
    return entries


def _parse_entry(table: dict, path: Path, where: str) -> AssetEntry:
    if not isinstance(table, dict):
        raise InputError(f"{where}: expected a table")
    unknown = set(table) - _FIELDS
    if unknown:
        raise InputError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(_FIELDS)}")
    for name in _REQUIRED:
        if not isinstance(table.get(name), str) or not table[name]:
            raise InputError(f"{where}: field '{name}': required, a non-empty string")
    kind, asset_id = table["kind"], table["id"]
    where = f"{where} (id {asset_id!r})"
    if kind not in KINDS:
        raise InputError(f"{where}: field 'kind': {kind!r} is not one of {sorted(KINDS)}")
    if not _ID_RE.match(asset_id) or ".." in asset_id:
        raise InputError(f"{where}: field 'id': letters, digits, '_', '-', '.', '/' only")
    _check_filename(table["filename"], kind, f"{where}: field 'filename'")
    sha = table.get("sha256", "")
    if not isinstance(sha, str) or (sha and not _SHA_RE.match(sha)):
        raise InputError(f"{where}: field 'sha256': 64 lowercase hex digits, or \"\" while unpinned")
    if not table["url"].startswith("https://"):
        raise InputError(f"{where}: field 'url': an https:// address")
    return AssetEntry(kind=kind, id=asset_id, url=table["url"], licence=table["licence"],
                      filename=table["filename"], default=table["default"], sha256=sha or None,
                      source=str(path), notes=str(table.get("notes", "")))


def _check_filename(name: str, kind: str, what: str) -> None:
    if Path(name).name != name or name in {"", ".", ".."} or "\\" in name:
        raise InputError(f"{what}: {name!r} must be a plain file name (no folders, no '..')")
    if Path(name).suffix.lower() not in KINDS[kind]:
        raise InputError(f"{what}: {name!r} must end with one of {KINDS[kind]} for kind {kind!r}")


# ---------------------------------------------------------------- verification

_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of a file, cached by (path, size, mtime) for the life of the process."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _HASH_CACHE[key] = h.hexdigest()
    return _HASH_CACHE[key]


def check_format(path: Path) -> None:
    """Raise :class:`InputError` unless the file's bytes match the format its extension names."""
    ext = path.suffix.lower()
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
        size = path.stat().st_size
    except OSError as e:
        raise InputError(f"{path}: unreadable ({e})") from e
    problem = None
    if ext == ".exr" and head[:4] != b"\x76\x2f\x31\x01":
        problem = "not an OpenEXR file (magic bytes 76 2f 31 01 missing)"
    elif ext == ".hdr" and not head.startswith((b"#?RADIANCE", b"#?RGBE")):
        problem = "not a Radiance HDR file (no '#?RADIANCE' header)"
    elif ext == ".glb":
        if head[:4] != b"glTF" or len(head) < 12:
            problem = "not a binary glTF file (magic 'glTF' missing)"
        elif int.from_bytes(head[8:12], "little") != size:
            problem = f"binary glTF header says {int.from_bytes(head[8:12], 'little')} bytes, file has {size}"
    elif ext == ".gltf":
        problem = _check_gltf_json(path)
    elif ext == ".obj" and not re.search(rb"^v\s", head, re.M):
        problem = "not a Wavefront OBJ file (no 'v' vertex line in its first 4 KiB)"
    elif ext == ".ply" and not head.startswith(b"ply"):
        problem = "not a PLY file (no 'ply' header)"
    elif ext == ".png" and not head.startswith(b"\x89PNG\r\n\x1a\n"):
        problem = "not a PNG file"
    elif ext in (".jpg", ".jpeg") and not head.startswith(b"\xff\xd8\xff"):
        problem = "not a JPEG file"
    if problem:
        raise InputError(f"{path}: corrupt or wrong format: {problem}")


def _check_gltf_json(path: Path) -> str | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        return f"not a glTF JSON file ({e})"
    if not isinstance(doc, dict) or "asset" not in doc:
        return "not a glTF JSON file (no 'asset' object)"
    for item in doc.get("buffers", []) + doc.get("images", []):
        uri = item.get("uri", "") if isinstance(item, dict) else ""
        if uri and not uri.startswith("data:"):
            return f"refers to an external file {uri!r}; install a .glb or a .gltf with embedded data"
    return None


# ---------------------------------------------------------------- built-in files


def blender_datafiles_dir() -> Path | None:
    """Blender's ``datafiles`` folder, found without importing bpy.

    ``$DIFFPROXY_BLENDER_DATAFILES`` (or Blender's own ``$BLENDER_SYSTEM_DATAFILES``) wins; for a
    Blender binary install point it at ``<blender dir>/<version>/datafiles``. Otherwise the bpy
    wheel's layout is used: ``<site-packages>/bpy/<version>/datafiles``.
    """
    for env in (DATAFILES_ENV, "BLENDER_SYSTEM_DATAFILES"):
        if os.environ.get(env):
            path = Path(os.environ[env]).expanduser()
            if not path.is_dir():
                raise InputError(f"${env}: {path} is not a folder")
            return path
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.origin:
        return None
    found = sorted(Path(spec.origin).parent.glob("[0-9]*.[0-9]*/datafiles"))
    return found[-1] if found else None


def builtin_hdris() -> list[ResolvedAsset]:
    """The 8 CC0 HDRIs that ship with Blender (1K crops of Poly Haven HDRIs by Greg Zaal)."""
    datafiles = blender_datafiles_dir()
    if datafiles is None:
        log.warning("Blender's datafiles folder not found (no bpy, no $%s): no built-in HDRIs", DATAFILES_ENV)
        return []
    out = []
    for name in BUILTIN_HDRI_IDS:
        path = datafiles / "studiolights" / "world" / f"{name}.exr"
        if not path.is_file():
            log.warning("built-in HDRI %s missing from %s", name, path.parent)
            continue
        check_format(path)
        out.append(ResolvedAsset(kind="hdri", id=f"builtin/{name}", path=str(path), sha256=file_sha256(path),
                                 licence="CC0-1.0", url="https://polyhaven.com (shipped with Blender)",
                                 origin="builtin"))
    return out


# ---------------------------------------------------------------- the store


def default_store_dir() -> Path:
    env = os.environ.get(ASSETS_ENV)
    return Path(env).expanduser() if env else cache_dir() / "assets"


class AssetStore:
    """Installed assets under ``root``, checked against the manifest and the local pins."""

    def __init__(self, root: Path | None = None, manifest_dir: Path = MANIFEST_DIR):
        self.root = Path(root) if root is not None else default_store_dir()
        self.manifest_dir = Path(manifest_dir)
        self.entries = load_manifest(self.manifest_dir)
        self._warned: set[tuple[str, str]] = set()

    def path_for(self, kind: str, filename: str) -> Path:
        if kind not in KINDS:
            raise InputError(f"kind: {kind!r} is not one of {sorted(KINDS)}")
        _check_filename(filename, kind, "filename")
        path = self.root / kind / filename
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise InputError(f"{path}: resolves outside the asset store {self.root} (symlink?)")
        return path

    def local_pins(self) -> list[dict]:
        """The records of ``installed.json`` (written by :func:`install_asset`)."""
        path = self.root / "installed.json"
        if not path.is_file():
            return []
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            pins = doc["assets"]
            for pin in pins:
                for field in ("kind", "id", "filename", "sha256"):
                    if not isinstance(pin.get(field), str):
                        raise InputError(f"{path}: an entry of 'assets' lacks the string field '{field}'")
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
            raise InputError(f"{path}: field 'assets': expected {{\"assets\": [...]}} ({e!r})") from e
        return pins

    def resolve(self, kind: str) -> list[ResolvedAsset]:
        """Installed and verified assets of ``kind``, then the built-in ones (sorted, deterministic)."""
        if kind not in KINDS:
            raise InputError(f"kind: {kind!r} is not one of {sorted(KINDS)}")
        pins = {(p["kind"], p["id"]): p for p in self.local_pins()}
        out: list[ResolvedAsset] = []
        missing: list[AssetEntry] = []
        for entry in sorted((e for e in self.entries if e.kind == kind), key=lambda e: e.id):
            pin = pins.pop((kind, entry.id), None)
            asset = self._resolve_entry(entry, pin)
            if asset is not None:
                out.append(asset)
            elif not (self.root / kind / entry.filename).is_file():
                missing.append(entry)
        self._warn_missing(kind, missing)
        for (pin_kind, pin_id), pin in sorted(pins.items()):  # installed by the user, not in the manifest
            if pin_kind == kind:
                entry = AssetEntry(kind=kind, id=pin_id, url=pin.get("url", ""), licence=pin.get("licence", "unknown"),
                                   filename=pin["filename"], default="", sha256=None,
                                   source=str(self.root / "installed.json"))
                asset = self._resolve_entry(entry, pin)
                if asset is None:
                    self._warn(entry, f"asset {kind}/{pin_id} is listed in {entry.source} but its file is gone")
                else:
                    out.append(asset)
        if kind == "hdri":
            out.extend(builtin_hdris())
        return out

    def _resolve_entry(self, entry: AssetEntry, pin: dict | None) -> ResolvedAsset | None:
        filename = pin["filename"] if pin else entry.filename
        path = self.path_for(entry.kind, filename)
        where = f"{path} (asset {entry.kind}/{entry.id} declared in {entry.source})"
        if not path.is_file():
            return None  # reported by _warn_missing, once for all the missing entries of a kind
        if entry.sha256 is None and pin is None:
            self._warn(entry, f"asset {entry.kind}/{entry.id}: {path} is present but no sha256 is pinned, neither in "
                              f"{entry.source} nor by `diffproxy assets add`; not used, default {entry.default!r}")
            return None
        check_format(path)
        actual = file_sha256(path)
        if entry.sha256 is not None and actual != entry.sha256:
            raise InputError(f"{where}: field 'sha256': the manifest pins {entry.sha256}, the file has {actual}")
        if pin is not None and actual != pin["sha256"]:
            raise InputError(f"{where}: field 'sha256': installed.json pins {pin['sha256']}, the file has {actual} "
                             f"(changed since it was added)")
        return ResolvedAsset(kind=entry.kind, id=entry.id, path=str(path), sha256=actual, licence=entry.licence,
                             url=entry.url, origin="manifest" if entry.sha256 else "local-pin")

    def _warn_missing(self, kind: str, missing: list[AssetEntry]) -> None:
        missing = [e for e in missing if (e.kind, e.id) not in self._warned]
        if not missing:
            return
        self._warned.update((e.kind, e.id) for e in missing)
        defaults = sorted({e.default for e in missing})
        log.warning("%d declared %s asset(s) not installed in %s, using the default %s instead: %s. "
                    "Download one (url in %s) and install it with `diffproxy assets add FILE --kind %s --id ID`",
                    len(missing), kind, self.root / kind, " / ".join(defaults), ", ".join(e.id for e in missing),
                    ", ".join(sorted({e.source for e in missing})), kind)

    def _warn(self, entry: AssetEntry, message: str) -> None:
        if (entry.kind, entry.id) not in self._warned:  # once per store, not once per scene
            self._warned.add((entry.kind, entry.id))
            log.warning(message)


def install_asset(store: AssetStore, file: Path, kind: str, asset_id: str,
                  licence: str | None = None, url: str | None = None) -> ResolvedAsset:
    """Copy ``file`` into the store and pin its sha256 (the body of ``diffproxy assets add``).

    For a manifest entry with a sha256 the file must match it. For an unpinned entry, or an id the
    manifest does not know, the sha256 of this file becomes the pin in ``installed.json``: the user
    vouches for the file they chose; the log prints the line to paste into the manifest.
    """
    file = Path(file)
    if not file.is_file():
        raise InputError(f"{file}: no such file")
    entry = next((e for e in store.entries if e.kind == kind and e.id == asset_id), None)
    filename = entry.filename if entry else file.name
    target = store.path_for(kind, filename)
    check_format(file)
    sha = file_sha256(file)
    if entry is not None and entry.sha256 is not None and entry.sha256 != sha:
        raise InputError(f"{file}: field 'sha256': {entry.source} pins {entry.sha256} for {kind}/{asset_id}, "
                         f"this file has {sha}")
    if entry is None and not _ID_RE.match(asset_id):
        raise InputError(f"id: {asset_id!r}: letters, digits, '_', '-', '.', '/' only")
    atomic_copy(file, target)
    pins = [p for p in store.local_pins() if (p["kind"], p["id"]) != (kind, asset_id)]
    record = {"kind": kind, "id": asset_id, "filename": filename, "sha256": sha,
              "licence": licence or (entry.licence if entry else "unknown"), "url": url or (entry.url if entry else "")}
    pins.append(record)
    pins.sort(key=lambda p: (p["kind"], p["id"]))
    atomic_write_json(store.root / "installed.json", {"version": 1, "assets": pins})
    if entry is not None and entry.sha256 is None:
        log.info("pinned %s/%s locally; to pin it for everyone add to %s: sha256 = \"%s\"",
                 kind, asset_id, entry.source, sha)
    return ResolvedAsset(kind=kind, id=asset_id, path=str(target), sha256=sha, licence=record["licence"],
                         url=record["url"], origin="manifest" if entry and entry.sha256 else "local-pin")

