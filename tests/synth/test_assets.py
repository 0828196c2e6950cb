import hashlib
import importlib.util
import logging
import os
from pathlib import Path

import pytest

from engine.errors import InputError
from synth import assets
from synth.assets import (BUILTIN_HDRI_IDS, AssetStore, check_format, file_sha256, install_asset, load_manifest)

EXR = b"\x76\x2f\x31\x01" + b"\x02\x00\x00\x00" + b"fake exr body" * 10


def _entry(**over) -> dict:
    e = {"kind": "hdri", "id": "test/sky", "url": "https://example.org/sky_1k.exr", "licence": "CC0-1.0",
         "filename": "sky_1k.exr", "sha256": "", "default": "builtin"}
    e.update(over)
    return e


def _write_manifest(folder: Path, *entries: dict, name: str = "m.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for e in entries:
        lines.append("[[asset]]")
        lines += [f"{k} = {v!r}".replace("'", '"') for k, v in e.items()]
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def fake_blender(tmp_path, monkeypatch):
    """A datafiles folder with 8 tiny valid-looking EXRs, so the tests do not depend on bpy."""
    world = tmp_path / "datafiles" / "studiolights" / "world"
    world.mkdir(parents=True)
    for name in BUILTIN_HDRI_IDS:
        (world / f"{name}.exr").write_bytes(EXR + name.encode())
    monkeypatch.setenv(assets.DATAFILES_ENV, str(tmp_path / "datafiles"))
    return world


def test_repository_manifests_parse():
    entries = load_manifest()
    assert {e.kind for e in entries} >= {"hdri", "occluder_mesh"}
    assert all(e.url.startswith("https://") and e.licence for e in entries)


@pytest.mark.parametrize("override, field", [
    ({"kind": "sound"}, "kind"),
    ({"sha256": "abc"}, "sha256"),
    ({"filename": "../../etc/sky.exr"}, "filename"),
    ({"filename": "sky.png"}, "filename"),
    ({"url": "http://example.org/x.exr"}, "url"),
    ({"licence": ""}, "licence"),
    ({"colour": "red"}, "colour"),
])
def test_manifest_errors_name_file_and_field(tmp_path, override, field):
    path = _write_manifest(tmp_path / "man", _entry(**override))
    with pytest.raises(InputError) as err:
        load_manifest(tmp_path / "man")
    assert str(path) in str(err.value) and field in str(err.value)


def test_manifest_missing_field_and_bad_toml(tmp_path):
    entry = _entry()
    del entry["default"]
    path = _write_manifest(tmp_path / "a", entry)
    with pytest.raises(InputError, match="default") as err:
        load_manifest(tmp_path / "a")
    assert str(path) in str(err.value)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.toml").write_text("[[asset]\nkind = ")
    with pytest.raises(InputError, match="x.toml: not valid TOML"):
        load_manifest(tmp_path / "b")
    _write_manifest(tmp_path / "c", _entry(), _entry())
    with pytest.raises(InputError, match="already declared"):
        load_manifest(tmp_path / "c")


def test_missing_asset_falls_back_with_a_warning(tmp_path, fake_blender, caplog):
    _write_manifest(tmp_path / "man", _entry())
    store = AssetStore(tmp_path / "store", manifest_dir=tmp_path / "man")
    with caplog.at_level(logging.WARNING, logger="synth.assets"):
        hdris = store.resolve("hdri")
    assert [a.id for a in hdris] == [f"builtin/{n}" for n in BUILTIN_HDRI_IDS]
    assert all(a.origin == "builtin" and Path(a.path).is_file() for a in hdris)
    assert "test/sky" in caplog.text and "not installed" in caplog.text and "builtin" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="synth.assets"):
        store.resolve("hdri")
    assert caplog.text == ""  # once per store, not once per scene


def test_pinned_asset_is_used_and_a_bad_sha256_is_an_error(tmp_path, fake_blender):
    good = EXR + b"good"
    _write_manifest(tmp_path / "man", _entry(sha256=hashlib.sha256(good).hexdigest()))
    store = AssetStore(tmp_path / "store", manifest_dir=tmp_path / "man")
    target = tmp_path / "store" / "hdri" / "sky_1k.exr"
    target.parent.mkdir(parents=True)
    target.write_bytes(good)
    first = store.resolve("hdri")[0]
    assert (first.id, first.origin, first.path) == ("test/sky", "manifest", str(target))
    target.write_bytes(EXR + b"tampered")
    with pytest.raises(InputError) as err:
        store.resolve("hdri")
    msg = str(err.value)
    assert str(target) in msg and "sha256" in msg and "test/sky" in msg and "m.toml" in msg


@pytest.mark.parametrize("filename, content, kind", [
    ("sky_1k.exr", b"#?RADIANCE\nnot an exr", "hdri"),
    ("chair.glb", b"PK\x03\x04 a zip, not glTF", "occluder_mesh"),
    ("chair.glb", b"glTF\x02\x00\x00\x00\xff\x00\x00\x00truncated", "occluder_mesh"),
    ("chair.gltf", b'{"asset": {"version": "2.0"}, "buffers": [{"uri": "../../secret.bin"}]}', "occluder_mesh"),
    ("chair.ply", b"solid ascii stl", "occluder_mesh"),
])
def test_corrupt_file_is_an_error(tmp_path, fake_blender, filename, content, kind):
    _write_manifest(tmp_path / "man", _entry(kind=kind, filename=filename, sha256=hashlib.sha256(content).hexdigest()))
    target = tmp_path / "store" / kind / filename
    target.parent.mkdir(parents=True)
    target.write_bytes(content)
    with pytest.raises(InputError, match="corrupt or wrong format") as err:
        AssetStore(tmp_path / "store", manifest_dir=tmp_path / "man").resolve(kind)
    assert str(target) in str(err.value)


def test_unpinned_asset_needs_assets_add(tmp_path, fake_blender, caplog):
    _write_manifest(tmp_path / "man", _entry())
    store = AssetStore(tmp_path / "store", manifest_dir=tmp_path / "man")
    download = tmp_path / "downloads" / "whatever.exr"
    download.parent.mkdir()
    download.write_bytes(EXR + b"downloaded")
    (tmp_path / "store" / "hdri").mkdir(parents=True)
    (tmp_path / "store" / "hdri" / "sky_1k.exr").write_bytes(download.read_bytes())
    with caplog.at_level(logging.WARNING, logger="synth.assets"):
        assert "test/sky" not in [a.id for a in store.resolve("hdri")]
    assert "no sha256 is pinned" in caplog.text

    added = install_asset(store, download, "hdri", "test/sky")
    assert added.origin == "local-pin" and Path(added.path).name == "sky_1k.exr"
    resolved = store.resolve("hdri")
    assert resolved[0].id == "test/sky" and resolved[0].sha256 == hashlib.sha256(download.read_bytes()).hexdigest()
    Path(added.path).write_bytes(EXR + b"changed later")
    with pytest.raises(InputError, match="installed.json pins"):
        store.resolve("hdri")


def test_assets_add_checks_the_manifest_pin_and_the_format(tmp_path, fake_blender):
    _write_manifest(tmp_path / "man", _entry(sha256="0" * 64))
    store = AssetStore(tmp_path / "store", manifest_dir=tmp_path / "man")
    download = tmp_path / "sky.exr"
    download.write_bytes(EXR)
    with pytest.raises(InputError, match="sha256"):
        install_asset(store, download, "hdri", "test/sky")
    assert not (tmp_path / "store" / "hdri" / "sky_1k.exr").exists()
    bad = tmp_path / "my.exr"
    bad.write_bytes(b"nope")
    with pytest.raises(InputError, match="corrupt"):
        install_asset(store, bad, "hdri", "mine/hdri")
    own = install_asset(store, download, "hdri", "mine/hdri", licence="CC-BY-4.0")  # not in the manifest
    assert own.id in [a.id for a in store.resolve("hdri")]


def test_store_paths_stay_inside_the_store(tmp_path):
    store = AssetStore(tmp_path / "store", manifest_dir=tmp_path / "none")
    with pytest.raises(InputError, match="plain file name"):
        store.path_for("hdri", "../x.exr")
    (tmp_path / "store" / "hdri").mkdir(parents=True)
    (tmp_path / "outside.exr").write_bytes(EXR)
    os.symlink(tmp_path / "outside.exr", tmp_path / "store" / "hdri" / "link.exr")
    with pytest.raises(InputError, match="outside the asset store"):
        store.path_for("hdri", "link.exr")


def test_hashes_are_cached_by_size_and_mtime(tmp_path, monkeypatch):
    path = tmp_path / "a.exr"
    path.write_bytes(EXR)
    calls = []
    real = hashlib.sha256
    monkeypatch.setattr(assets.hashlib, "sha256", lambda: calls.append(1) or real())
    h1 = file_sha256(path)
    assert file_sha256(path) == h1 and len(calls) == 1
    path.write_bytes(EXR + b"more")
    assert file_sha256(path) != h1 and len(calls) == 2


def test_format_checks_accept_good_files(tmp_path):
    for name, data in [("a.exr", EXR), ("a.hdr", b"#?RADIANCE\n"), ("a.obj", b"# c\nv 0 0 0\n"),
                       ("a.ply", b"ply\nformat ascii 1.0\n"), ("a.png", b"\x89PNG\r\n\x1a\n...."),
                       ("a.gltf", b'{"asset": {"version": "2.0"}}'),
                       ("a.glb", b"glTF\x02\x00\x00\x00\x0c\x00\x00\x00")]:
        (tmp_path / name).write_bytes(data)
        check_format(tmp_path / name)


@pytest.mark.skipif(importlib.util.find_spec("bpy") is None, reason="bpy not installed")
def test_builtin_hdris_are_found_without_importing_bpy(monkeypatch):
    import sys

    monkeypatch.delenv(assets.DATAFILES_ENV, raising=False)
    monkeypatch.delenv("BLENDER_SYSTEM_DATAFILES", raising=False)
    imported_before = "bpy" in sys.modules
    hdris = assets.builtin_hdris()
    assert [a.id for a in hdris] == [f"builtin/{n}" for n in BUILTIN_HDRI_IDS]
    assert all(Path(a.path).parent.name == "world" and a.licence == "CC0-1.0" for a in hdris)
    assert ("bpy" in sys.modules) == imported_before  # found with find_spec, bpy not imported
