"""Where the real 4-camera example is (the bundled copy first, then the shared examples folder,
which also holds the board photos the repository does not ship), and helpers the tests share."""

from pathlib import Path

import numpy as np

_ROOT = Path(__file__).resolve().parents[2]
_CANDIDATES = [_ROOT / "examples/pose2sim_balancing"] + [
    shared / "examples/pose2sim_balancing" for shared in (_ROOT / "shared", _ROOT.parent / "shared")]
EXAMPLE = next((p for p in _CANDIDATES if (p / "videos").is_dir()), _CANDIDATES[0])
INTRINSICS = next((p / "calibration/intrinsics" for p in _CANDIDATES if (p / "calibration/intrinsics").is_dir()),
                  None)
CAMERAS = ("cam01", "cam02", "cam03", "cam04")


def reference_focals() -> dict[str, float]:
    import tomllib

    ref = tomllib.loads((EXAMPLE / "calibration" / "Calib.toml").read_text())
    return {c: float(np.mean([ref[c]["matrix"][0][0], ref[c]["matrix"][1][1]])) for c in CAMERAS}
