"""VPoser v2 (Pavlakos et al. 2019), SMPL-X's learned body-pose prior, from the user's own
weights in the human-body-prior layout: a folder such as ``V02_05`` holding
``snapshots/*.ckpt`` (the PyTorch Lightning checkpoint, its latest by time as
human-body-prior picks it), or that ``.ckpt`` itself.

VPoser is a VAE over the 21 body joints of SMPL-X (``left_hip`` ... ``right_wrist``, axis-angle).
Its latent code is trained towards a standard Normal, so the fit's prior is the squared
norm of the encoder's mean code of the current pose: ``|mu(theta)|^2``, the code's negative
log density up to a constant. SMPLify-X instead optimises the latent code and decodes the
pose; the fit keeps per-bone rotations, on which its Levenberg-Marquardt stages and their
analytic Jacobian work, and reads the prior's Jacobian by forward-mode autodiff.
Only the encoder is loaded; the decoder's weights are not needed for this prior.
"""

from __future__ import annotations

import copy
import functools
import os
import pickle
from pathlib import Path

import torch

from engine.errors import InputError, check_shape

VPOSER_ENV = "DIFFPROXY_VPOSER"
VPOSER_HELP = ("VPoser is licensed and not bundled: register at https://smpl-x.is.tue.mpg.de, download "
               f"'VPoser v2.0' (V02_05), and pass its folder with --vposer or set {VPOSER_ENV}")
BODY_JOINTS = ("left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
               "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
               "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist")
_N = 3 * len(BODY_JOINTS)
# The encoder's layers in VPoser v2's ``encoder_net`` (a Sequential: flatten, BN, linear,
# leaky ReLU, BN, dropout, linear, linear, Normal head), with their weight shapes (H hidden, L latent).
_LAYERS = {  # our name: (VPoser's name, kind, weight shape)
    "bn1": ("encoder_net.1", "bn", (_N,)),
    "fc1": ("encoder_net.2", "linear", ("H", _N)),
    "bn2": ("encoder_net.4", "bn", ("H",)),
    "fc2": ("encoder_net.6", "linear", ("H", "H")),
    "fc3": ("encoder_net.7", "linear", ("H", "H")),
    "mu": ("encoder_net.8.mu", "linear", ("L", "H")),
}
_PREFIX = "vp_model."  # the Lightning module holds the VPoser as ``vp_model``


class VPoserEncoder(torch.nn.Module):
    """pose (..., 21, 3) axis-angle -> the mean latent code (..., L), in eval mode (BN running
    statistics, no dropout)."""

    def __init__(self, hidden: int, latent: int):
        super().__init__()
        self.bn1 = torch.nn.BatchNorm1d(_N)
        self.fc1 = torch.nn.Linear(_N, hidden)
        self.bn2 = torch.nn.BatchNorm1d(hidden)
        self.fc2 = torch.nn.Linear(hidden, hidden)
        self.fc3 = torch.nn.Linear(hidden, hidden)
        self.mu = torch.nn.Linear(hidden, latent)
        self.eval()

    def forward(self, pose: torch.Tensor) -> torch.Tensor:
        x = pose.reshape(-1, _N)
        x = torch.nn.functional.leaky_relu(self.fc1(self.bn1(x)))
        x = self.fc3(self.fc2(self.bn2(x)))
        return self.mu(x).reshape(*pose.shape[:-2], -1)


def find_snapshot(path: str | os.PathLike) -> Path:
    p = Path(path).expanduser()
    if p.is_file():
        return p
    if not p.is_dir():
        raise InputError(f"VPoser not found: {p}. {VPOSER_HELP}")
    snapshots = sorted((p / "snapshots").glob("*.ckpt"), key=lambda f: f.stat().st_mtime)
    if snapshots:
        return snapshots[-1]
    if any((p / "snapshots").glob("*.pt")):
        raise InputError(f"{p}: a VPoser v1 folder (snapshots/*.pt); the fit reads VPoser v2 (V02_05). {VPOSER_HELP}")
    raise InputError(f"{p}: no snapshots/*.ckpt (VPoser v2's human-body-prior layout). {VPOSER_HELP}")


def _state_dict(file: Path) -> dict:
    try:
        try:
            record = torch.load(file, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as e:
            if "Weights only load failed" not in str(e):
                raise
            # Lightning checkpoints may pickle more than tensors; human-body-prior loads
            # this same file, which the user named, with a full unpickle.
            record = torch.load(file, map_location="cpu", weights_only=False)
    except Exception as e:  # not a torch file, truncated
        raise InputError(f"{file}: not a readable PyTorch checkpoint ({e})") from e
    state = record.get("state_dict", record) if isinstance(record, dict) else None
    if not isinstance(state, dict):
        raise InputError(f"{file}: expected a checkpoint with a 'state_dict', got {type(record).__name__}")
    return {k[len(_PREFIX):] if k.startswith(_PREFIX) else k: v for k, v in state.items()}


@functools.lru_cache(maxsize=4)
def load_vposer(path: str) -> VPoserEncoder:
    """The encoder of the VPoser v2 at ``path`` (folder or .ckpt); errors name the file and key."""
    file = find_snapshot(path)
    state = _state_dict(file)
    sizes: dict[str, int] = {}
    for layer, kind, shape in _LAYERS.values():
        for name in ("weight", "bias") + (("running_mean", "running_var") if kind == "bn" else ()):
            key = f"{layer}.{name}"
            if key not in state:
                if "bodyprior_enc_bn1.weight" in state:
                    raise InputError(f"{file}: VPoser v1 weights; the fit reads VPoser v2 (V02_05). {VPOSER_HELP}")
                raise InputError(f"{file}: missing key '{_PREFIX}{key}' (a VPoser v2 checkpoint has it)")
            want = shape if (kind, name) == ("linear", "weight") else shape[:1]
            check_shape(f"{file}: key '{_PREFIX}{key}'", state[key], want, sizes)
    encoder = VPoserEncoder(sizes["H"], sizes["L"])
    ours = {}
    for mine, (layer, _, _) in _LAYERS.items():
        for name, value in getattr(encoder, mine).state_dict().items():  # num_batches_tracked: unused in eval
            ours[f"{mine}.{name}"] = state.get(f"{layer}.{name}", value)
    encoder.load_state_dict(ours)
    for p in encoder.parameters():
        p.requires_grad_(False)
    return encoder.eval()


def vposer_path(body_name: str, path: str | os.PathLike | None) -> str | None:
    """The VPoser a fit of ``body_name`` uses: ``path``, else (SMPL-X) ``$DIFFPROXY_VPOSER``, else None."""
    if path is not None:
        return str(path)
    return (os.environ.get(VPOSER_ENV) or None) if body_name == "smplx" else None


def vposer_for(body, path: str | os.PathLike | None, dtype=torch.float32, device="cpu") -> VPoserEncoder | None:
    """The VPoser prior of a fit (``vposer_path``), in its dtype, or None. Refuses a body whose
    first 21 pose joints are not SMPL-X's body joints."""
    given = vposer_path(body.name, path)
    if not given:
        return None
    if tuple(body.pose_joint_names[:len(BODY_JOINTS)]) != BODY_JOINTS:
        raise InputError(f"vposer: VPoser is a prior of SMPL-X's 21 body joints; body model {body.name!r} "
                         "does not have them (it keeps its joint limits and pose regulariser)")
    return copy.deepcopy(load_vposer(str(Path(given).expanduser().resolve()))).to(dtype=dtype, device=device)


def vposer_code(encoder: VPoserEncoder, body_pose: torch.Tensor) -> torch.Tensor:
    """The mean latent code (..., L) of the body joints of ``body_pose`` (..., P, 3)."""
    return encoder(body_pose[..., :len(BODY_JOINTS), :])
