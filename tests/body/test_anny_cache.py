"""Anny's model cache on a first run (issue 23): its build is said on stderr (with its size), a
``--json`` stays alone on stdout, a warm cache is silent, a process waiting for another's build
says so, and a cache file left half written is built again instead of failing every run.

A full cold build takes minutes; these tests link the shared cache's two large files into a
fresh cache folder and leave out the compact one, which the real construction then builds
(a few seconds) through the same path as a cold first run."""

import fcntl
import json
import logging
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.body import load_body_model
from engine.body.anny_cache import ANNY_LOGGER, LOCK_NAME
from engine.cache import anny_cache_dir

DIFFPROXY = Path(sys.executable).parent / "diffproxy"
COMPACT = "build_compact_model_data_"
STARTED = "building Anny's model cache (about 800 MB, ~2-3 minutes, once) in "
BUILT = re.compile(r"built Anny's model cache in \d+ s: (\d+) MB in (.+)$", re.M)


def linked_cache(root: Path, leave_out: str | None = COMPACT) -> Path:
    """A DIFFPROXY_CACHE_DIR whose Anny cache links the shared cache's files, but for ``leave_out``."""
    files = sorted(anny_cache_dir().glob("v*/*.safetensors"))
    assert len(files) >= 3, files  # the anny32 fixture built the shared cache
    for f in files:
        if leave_out is None or not f.name.startswith(leave_out):
            (root / "anny" / f.parent.name).mkdir(parents=True, exist_ok=True)
            (root / "anny" / f.parent.name / f.name).symlink_to(f)
    return root


def env_for(cache_root: Path) -> dict:
    env = {**os.environ, "DIFFPROXY_CACHE_DIR": str(cache_root)}
    env.pop("ANNY_CACHE_DIR", None)
    return env


def doctor_json(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(DIFFPROXY), "doctor", "--json", "--samples", "1000"], capture_output=True,
                          text=True, timeout=600, env=env)


def test_a_cache_build_is_said_on_stderr_with_its_size_and_json_stays_alone(tmp_path, anny32):
    root = linked_cache(tmp_path / "cache")
    res = doctor_json(env_for(root))
    assert res.returncode == 0, res.stderr[-3000:]
    assert STARTED + str(root / "anny") in res.stderr
    built = BUILT.search(res.stderr)
    assert built and int(built[1]) > 700 and built[2] == str(root / "anny"), res.stderr[-3000:]
    assert res.stderr.index(STARTED) < built.start()
    assert len(res.stdout.strip().splitlines()) == 1  # stdout holds the JSON and nothing else
    report = json.loads(res.stdout)
    assert report["body_models"]["anny"]["usable"] and report["anny_cache_mb"] == int(built[1])
    assert list((root / "anny").glob(f"v*/{COMPACT}*.safetensors"))

    again = doctor_json(env_for(root))  # warm: not a word about the cache
    assert again.returncode == 0 and "Anny's model cache" not in again.stderr, again.stderr[-3000:]


def test_a_run_waiting_for_another_ones_build_says_so(tmp_path, anny32):
    root = linked_cache(tmp_path / "cache", leave_out=None)  # warm
    code = "from engine.body import load_body_model; load_body_model('anny'); print('loaded')"
    with open(root / "anny" / LOCK_NAME, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as a process building the cache holds it
        proc = subprocess.Popen([sys.executable, "-c", code], env=env_for(root), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        said = select.select([proc.stderr], [], [], 60)[0]
        line = proc.stderr.readline() if said else ""
        time.sleep(1)
        waited = proc.poll() is None
    out, err = proc.communicate(timeout=300)  # the lock released, it goes on
    assert line.startswith(f"waiting for another process that uses Anny's model cache in {root / 'anny'}"), line + err
    assert waited and proc.returncode == 0 and out.strip() == "loaded", err[-3000:]


class _KilledWhileSaving(logging.Filter):
    """On Anny's "Saved ... at <file>" record: the file cut in half and the process interrupted,
    as a kill while it was written would leave it."""

    def filter(self, record):
        m = re.match(r"Saved built model data to cache at (.+)$", record.getMessage())
        if m:
            path = Path(m[1])
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
            raise KeyboardInterrupt
        return True


def test_an_interrupted_write_is_removed_and_a_damaged_file_built_again(tmp_path, monkeypatch, anny32, capfd):
    root = linked_cache(tmp_path / "cache")
    compact = next(anny_cache_dir().glob(f"v*/{COMPACT}*.safetensors"))  # the shared cache's
    monkeypatch.setenv("DIFFPROXY_CACHE_DIR", str(root))
    monkeypatch.delenv("ANNY_CACHE_DIR", raising=False)
    logger = logging.getLogger(ANNY_LOGGER)
    killer = _KilledWhileSaving()
    logger.addFilter(killer)  # before the engine's own watch: it never sees the "Saved" record
    try:
        with pytest.raises(KeyboardInterrupt):
            load_body_model("anny")
    finally:
        logger.removeFilter(killer)
    assert not list((root / "anny").glob(f"v*/{COMPACT}*")), "a half-written cache file was left"
    assert "was not finished" in capfd.readouterr().err

    # a file a killed process left half written (nothing could remove it): built again, once
    damaged = root / "anny" / compact.parent.name / compact.name
    damaged.write_bytes(compact.read_bytes()[:1_000_000])
    body = load_body_model("anny")
    assert body.faces.shape[0] > 0 and damaged.stat().st_size == compact.stat().st_size
    err = capfd.readouterr().err
    assert f"{damaged}: Anny's cache file cannot be read" in err and "building it again" in err
    assert BUILT.search(err)
