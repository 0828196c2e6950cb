import json
import subprocess
import sys
from pathlib import Path

from helpers import write_fake_smplx

DIFFPROXY = Path(sys.executable).parent / "diffproxy"


def run_doctor(*args, env=None):
    import os

    res = subprocess.run([str(DIFFPROXY), "doctor", "--json", *args], capture_output=True, text=True, timeout=600,
                         env={**os.environ, **(env or {})})
    return res, json.loads(res.stdout.strip().splitlines()[-1])


def test_doctor_reports_the_anny_round_trip():
    res, report = run_doctor("--samples", "20000", env={"DIFFPROXY_SMPLX_MODEL": ""})
    assert res.returncode == 0, res.stderr[-2000:]
    assert report["uv_roundtrip_within_1mm"]["anny"] >= 0.995
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


def test_doctor_names_a_missing_smplx_file(tmp_path):
    res, report = run_doctor("--samples", "1000", "--smplx-model", str(tmp_path / "missing.npz"))
    assert "missing.npz" in report["body_models"]["smplx"]["reason"]
    assert res.returncode == 0  # Anny works; SMPL-X is optional
