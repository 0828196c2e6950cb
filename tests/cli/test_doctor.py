import json
import subprocess
import sys
from pathlib import Path

from helpers import write_fake_smplx

DIFFPROXY = Path(sys.executable).parent / "diffproxy"
REPO = Path(__file__).resolve().parents[2]


def run_doctor(*args, env=None):
    import os

    res = subprocess.run([str(DIFFPROXY), "doctor", "--json", *args], capture_output=True, text=True, timeout=600,
                         env={**os.environ, **(env or {})})
    return res, json.loads(res.stdout.strip().splitlines()[-1])


def test_doctor_reports_the_anny_round_trip():
    res, report = run_doctor("--samples", "20000", env={"DIFFPROXY_SMPLX_MODEL": ""})
    assert res.returncode == 0, res.stderr[-2000:]
    assert report["uv_roundtrip_within_1mm"]["anny"] == 1.0  # the README's 0 failures
    assert report["body_models"]["anny"]["uv_roundtrip"]["failures"] == 0
    assert report["body_models"]["anny"]["uv_roundtrip"]["samples"] == 20000
    assert report["versions"]["torch"].startswith("2.13.0")
    assert report["compute"]["device"] in ("cpu", "cuda")
    assert not report["body_models"]["smplx"]["usable"]
    assert "smpl-x.is.tue.mpg.de" in report["body_models"]["smplx"]["reason"]
    assert "UV round trip anny" in res.stderr  # the human-readable table goes to stderr with --json


def test_doctor_checks_a_users_smplx_file(tmp_path):
    """A random SMPL-X file loads (usable) but its random UV map overlaps itself: the round
    trip fails and the doctor says so with a non-zero exit."""
    path = write_fake_smplx(tmp_path / "SMPLX_NEUTRAL.npz")
    res, report = run_doctor("--samples", "2000", "--smplx-model", str(path))
    smplx = report["body_models"]["smplx"]
    assert smplx["usable"] and smplx["model_file"] == str(path)
    assert report["uv_roundtrip_within_1mm"]["smplx"] < 0.995
    assert res.returncode == 1 and report["ok"] is False


def test_doctor_names_a_missing_or_broken_smplx_file(tmp_path):
    """SMPL-X is optional, but a model file the user names and that does not load is a problem."""
    res, report = run_doctor("--samples", "1000", "--smplx-model", str(tmp_path / "missing.npz"))
    assert "missing.npz" in report["body_models"]["smplx"]["reason"]
    assert res.returncode == 1 and report["ok"] is False and report["body_models"]["anny"]["usable"]
    (tmp_path / "garbage.npz").write_bytes(b"not a model" * 100)
    res, report = run_doctor("--samples", "1000", "--smplx-model", str(tmp_path / "garbage.npz"))
    assert "garbage.npz" in report["body_models"]["smplx"]["reason"]
    assert res.returncode == 1 and report["ok"] is False


def test_a_complete_read_only_cache_serves_doctor_and_fit(tmp_path, anny32, anny_proxy):
    """A shared install or a container: the cache is complete (these fixtures built it) but
    read-only. doctor and fit use it as it is and say that it is read-only."""
    import os

    from helpers import run_read_only, write_proxy_scene

    from engine.cache import anny_cache_dir, cache_dir

    write_proxy_scene(tmp_path / "scene", 0, anny32, anny_proxy, 40, 2)
    caches = {cache_dir(), anny_cache_dir()}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    res = run_read_only(caches, [sys.executable, "-m", "engine.cli.main", "doctor", "--json", "--samples", "1000"],
                        env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert report["body_models"]["anny"]["usable"] and report["cache_writable"] is False
    res = run_read_only(caches, [sys.executable, "-m", "engine.cli.main", "fit", tmp_path / "scene", "--out",
                                 tmp_path / "fit", "--set", "body_iters=5", "--set", "lm_iters=1"],
                        env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (tmp_path / "fit" / "fit.json").is_file()


def test_an_empty_read_only_cache_is_reported_not_a_crash(tmp_path):
    import os

    from helpers import run_read_only

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "DIFFPROXY_CACHE_DIR": str(tmp_path)}
    env.pop("ANNY_CACHE_DIR", None)
    (tmp_path / "anny").mkdir()
    res = run_read_only([tmp_path], [sys.executable, "-m", "engine.cli.main", "doctor", "--json", "--samples", "100"],
                        env=env, timeout=600)
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr[-3000:]
    assert report["cache_writable"] is False and not report["body_models"]["anny"]["usable"]
    assert "cannot be written" in report["body_models"]["anny"]["reason"]
