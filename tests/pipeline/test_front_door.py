"""``engine.reconstruct`` is the whole job as one call: on frames 40-41 of the bundled capture
it gives what ``diffproxy reconstruct`` writes, and ``save`` writes the same files."""

import json
from pathlib import Path

import numpy as np
import pytest

import engine
import engine.errors

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "pose2sim_balancing"
CALIB = EXAMPLE / "calibration" / "Calib.toml"


@pytest.mark.slow
def test_the_library_call_gives_what_the_cli_writes(tmp_path):
    from typer.testing import CliRunner

    from engine.cli.main import app

    run = CliRunner().invoke(app, ["reconstruct", str(EXAMPLE / "videos"), "--calibration", str(CALIB), "--frames",
                                   "40:42", "--out", str(tmp_path / "cli")])
    assert run.exit_code == 0, run.output
    result = engine.reconstruct(EXAMPLE / "videos", CALIB, frames="40:42",
                                options=engine.ReconstructOptions(overlay_scale=0.5))
    with np.load(tmp_path / "cli" / "fit.npz") as z:
        assert z["frames"].tolist() == result.frames == [40, 41]
        user = result.world.points_to_user(result.vertices)
        np.testing.assert_allclose(user, z["vertices"], atol=1e-4)
        np.testing.assert_allclose(result.world.points_to_user(result.landmarks), z["landmarks"], atol=1e-4)
    assert result.summary["cameras"] == ["cam01", "cam02", "cam03", "cam04"] and not result.summary["problems"]
    written = result.save(tmp_path / "lib")
    assert set(written) >= {"fit.json", "fit.npz", "fit.glb", "report.json", "contact_sheet.jpg"}
    cli, lib = (json.loads((tmp_path / d / "fit.json").read_text()) for d in ("cli", "lib"))
    assert cli["frames"] == lib["frames"] and cli["world"] == lib["world"]
    np.testing.assert_allclose(cli["params"]["transl"], lib["params"]["transl"], atol=1e-4)


def test_the_library_call_checks_its_input_first(tmp_path):
    with pytest.raises(engine.errors.InputError, match="--samples"):
        engine.reconstruct(EXAMPLE / "videos", CALIB, options=engine.ReconstructOptions(proxies="model", samples=0))
    with pytest.raises(engine.errors.InputError, match="--cameras: cam09 is not a camera"):
        engine.prepare(EXAMPLE / "videos", CALIB, cameras=["cam01", "cam09"])
    job = engine.prepare(EXAMPLE / "videos", CALIB, frames="0:300:50", cameras="cam01,cam03")
    assert job.frames == [0, 50] and job.cameras == ["cam01", "cam03"] and job.fps == pytest.approx(60.0)
    assert any("--frames 0:300:50" in n for n in job.notes)
