"""A fake SMPL-X model file that renders like a person: ``write_humanoid_smplx(path)``.

Real SMPL-X files are licensed and never available to the tests; ``helpers.write_fake_smplx``
has the right keys and shapes but random contents, useless for rendering. This one has the
same keys and shapes (V = 10475 vertices, F = 20908 faces, 55 joints, SMPL-X's kinematic
tree and joint order) and a procedural humanoid in SMPL-X's T-pose (Y up, facing +Z):

- closed capsule-like tubes along the skeleton (torso, head and neck, arms, legs, feet,
  palms, fingers; the limbs start with a ball around their root joint, so they turn in
  place), outward winding;
- skinning weights from the position along each tube (one joint per bone, blended over a
  few cm around the inner joints), and the torso blended along the spine and toward the
  collars;
- one loose vertex per joint (no faces) at the joint, and a one-hot ``J_regressor`` on it,
  so the regressed joints are exactly the designed skeleton, for any shape;
- smooth shape directions (beta0: size, beta1: girth, beta2: limb length), zero pose
  correctives;
- a UV atlas with one rectangle per tube (the ring around u, the length along v; pole fans
  as their own rows), shelf-packed without overlap;
- the vertices SMPL-X's keypoints read (nose, eyes, ears, toes, heels, fingertips: ids
  from ``smplx.vertex_ids``) moved to the right places by a vertex permutation;
- a small hidden piece inside the torso whose inner membranes (fans across its rings) make
  up the exact face count.
"""

from __future__ import annotations

import numpy as np

V_TOTAL, F_TOTAL, J_TOTAL = 10475, 20908, 55
PARENTS = np.array([-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
                    20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38,
                    21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53])
# SMPL-X's keypoint vertices (smplx.vertex_ids["smplx"]).
KEYPOINT_VERTEX = {"nose": 9120, "reye": 9929, "leye": 9448, "rear": 616, "lear": 6,
                   "rthumb": 8079, "rindex": 7669, "rmiddle": 7794, "rring": 7905, "rpinky": 8022,
                   "lthumb": 5361, "lindex": 4933, "lmiddle": 5058, "lring": 5169, "lpinky": 5286,
                   "LBigToe": 5770, "LSmallToe": 5780, "LHeel": 8846, "RBigToe": 8463, "RSmallToe": 8474,
                   "RHeel": 8635}
FINGERS = ("index", "middle", "pinky", "ring", "thumb")  # SMPL-X's order
# Native (Y up, facing +Z) from the canonical frame (Z up, facing -Y): (x, y, z) -> (x, z, -y).
TO_NATIVE = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])


def joint_names() -> list[str]:
    from smplx.joint_names import JOINT_NAMES

    return list(JOINT_NAMES[:J_TOTAL])


def skeleton() -> dict[str, np.ndarray]:
    """T-pose joints, canonical frame (metres, Z up, facing -Y, left +X), pelvis at the origin."""
    J = {"pelvis": (0, 0, 0), "spine1": (0, 0.01, 0.10), "spine2": (0, 0.0, 0.23), "spine3": (0, 0.0, 0.30),
         "neck": (0, 0.01, 0.48), "head": (0, -0.005, 0.58), "jaw": (0, -0.03, 0.57),
         "left_eye_smplhf": (0.032, -0.075, 0.665)}
    for s, m in (("left", 1), ("right", -1)):
        side = {"hip": (0.09, 0, -0.08), "knee": (0.10, 0, -0.47), "ankle": (0.10, 0.01, -0.86),
                "foot": (0.105, -0.10, -0.925), "collar": (0.06, 0.0, 0.42), "shoulder": (0.17, 0.01, 0.44),
                "elbow": (0.43, 0.01, 0.44), "wrist": (0.68, 0.01, 0.44),
                "thumb1": (0.695, -0.025, 0.435), "thumb2": (0.722, -0.05, 0.43), "thumb3": (0.75, -0.065, 0.43)}
        for k, (y, length) in {"index": (-0.027, 1.0), "middle": (-0.009, 1.08), "ring": (0.01, 1.0),
                               "pinky": (0.028, 0.8)}.items():
            for j, x in enumerate((0.77, 0.815, 0.843)):
                side[f"{k}{j + 1}"] = (0.77 + (x - 0.77) * length, y, 0.44)
        for k, v in side.items():
            J[f"{s}_{k}"] = (m * v[0], v[1], v[2])
    J["right_eye_smplhf"] = (-0.032, -0.075, 0.665)
    return {k: np.asarray(v, dtype=float) for k, v in J.items()}


def _unit(v):
    return v / np.linalg.norm(v)


class _Mesh:
    """Pieces accumulated in the canonical frame: vertices, faces, UV charts, weights."""

    def __init__(self, names):
        self.names, self.verts, self.faces, self.weights = names, [], [], []
        self.charts = []  # per piece: (uv (T, 2) in its own [0, w] x [0, h] box, uv faces, w, h)
        self.pieces = {}  # name -> vertex index range

    def add(self, name, verts, faces, weights, chart):
        start = sum(len(v) for v in self.verts)
        self.pieces[name] = np.arange(start, start + len(verts))
        self.verts.append(verts)
        self.faces.append(faces + start)
        self.weights.append(weights)
        self.charts.append(chart)

    def index(self, name):
        return self.names.index(name)


def _polyline_stations(points, cap0, cap1, n_rings, n_cap):
    """Axis positions: ``n_cap`` rings on a hemispherical cap at each end, the rest evenly
    spaced along the polyline. Returns centre (R, 3), tangent (R, 3), arclength s (R,) (negative
    or past the end inside the caps) and the cap factor (R,) scaling the radius."""
    seg = np.diff(points, axis=0)
    lengths = np.linalg.norm(seg, axis=1)
    total = lengths.sum()
    knots = np.concatenate([[0], np.cumsum(lengths)])
    n_body = n_rings - 2 * n_cap
    phi = np.linspace(0, np.pi / 2, n_cap + 2)[1:-1]  # from the pole toward the equator, both excluded
    s0 = -cap0 * np.cos(phi)
    s1 = total + cap1 * np.cos(phi[::-1])
    s = np.concatenate([s0, np.linspace(0, total, n_body), s1])
    factor = np.concatenate([np.sin(phi), np.ones(n_body), np.sin(phi[::-1])])
    centre, tangent = [], []
    for si in s:
        k = int(np.clip(np.searchsorted(knots, si, side="right") - 1, 0, len(seg) - 1))
        t = seg[k] / lengths[k]
        centre.append(points[k] + (si - knots[k]) * t)
        tangent.append(t)
    return np.array(centre), np.array(tangent), s, factor


def _tube(points, radii, n_rings, n_seg, up, cap=(None, None), n_cap=4):
    """A closed tube around a polyline: rings of ``n_seg`` vertices (ellipses, half-axes
    ``radii(s) -> (a, b)`` along ``up`` and the other normal), a pole at each end.
    Returns verts, faces, station s per vertex, chart (uv, uv_faces, w, h)."""
    a0, _ = radii(0.0)
    total = np.linalg.norm(np.diff(points, axis=0), axis=1).sum()
    a1, _ = radii(total)
    cap0, cap1 = cap[0] or a0, cap[1] or a1
    centre, tangent, s, factor = _polyline_stations(points, cap0, cap1, n_rings, n_cap)
    theta = 2 * np.pi * np.arange(n_seg) / n_seg
    n1 = _unit(up - (up @ tangent[0]) * tangent[0])
    rings, vs = [], []
    for c, t, si, f in zip(centre, tangent, s, factor):
        n1 = _unit(n1 - (n1 @ t) * t)  # parallel transport of the frame
        n2 = np.cross(t, n1)
        a, b = radii(float(np.clip(si, 0, total)))
        rings.append(c + f * (a * np.cos(theta)[:, None] * n1 + b * np.sin(theta)[:, None] * n2))
        vs.append(np.full(n_seg, si))
    t0, t1 = tangent[0], tangent[-1]
    pole0 = centre[0] - t0 * (cap0 + s[0])
    pole1 = centre[-1] + t1 * (cap1 - (s[-1] - total))
    verts = np.concatenate(rings + [pole0[None], pole1[None]])
    station = np.concatenate(vs + [[-cap0], [total + cap1]])
    R, n = n_rings, n_seg
    p0, p1 = R * n, R * n + 1
    faces, uv_faces = [], []
    # UV grid: columns i = 0..n (the seam repeats column 0), rows: 0 pole0, 1..R rings, R+1 pole1
    col = lambda j, i: j * (n + 1) + i  # noqa: E731  (UV index of ring j, column i)
    for j in range(R - 1):
        for i in range(n):
            a, b, c, d = j * n + i, j * n + (i + 1) % n, (j + 1) * n + (i + 1) % n, (j + 1) * n + i
            faces += [(a, b, c), (a, c, d)]
            ua, ub, uc, ud = col(j, i), col(j, i + 1), col(j + 1, i + 1), col(j + 1, i)
            uv_faces += [(ua, ub, uc), (ua, uc, ud)]
    n_grid = R * (n + 1)
    for i in range(n):
        faces.append((p0, (i + 1) % n, i))
        uv_faces.append((n_grid + i, col(0, i + 1), col(0, i)))
        faces.append((p1, (R - 1) * n + i, (R - 1) * n + (i + 1) % n))
        uv_faces.append((n_grid + n + i, col(R - 1, i), col(R - 1, i + 1)))
    # chart size: the mean circumference across, the axis length (caps included) along
    circ = np.mean([np.linalg.norm(np.diff(np.vstack([r, r[:1]]), axis=0), axis=1).sum() for r in rings])
    length = s[-1] - s[0] + 0.02
    w, h = circ, length
    grid_u = np.tile(np.arange(n + 1) / n, R) * w
    grid_v = np.repeat((np.arange(R) + 1) / (R + 1), n + 1) * h
    pole_u = (np.arange(n) + 0.5) / n * w
    uv = np.concatenate([np.stack([grid_u, grid_v], 1), np.stack([pole_u, np.zeros(n)], 1),
                         np.stack([pole_u, np.full(n, h)], 1)])
    return verts, np.array(faces), station, (uv, np.array(uv_faces), w, h)


def _blend_along(station, knots, joints, width):
    """Weights (N, len(joints)): joint k owns [knots[k], knots[k+1]), linear blends of +-width."""
    W = np.zeros((len(station), len(joints)))
    for k in range(len(joints)):
        lo = -np.inf if k == 0 else knots[k]
        hi = np.inf if k == len(joints) - 1 else knots[k + 1]
        up = np.clip((station - lo) / (2 * width) + 0.5, 0, 1) if np.isfinite(lo) else 1
        down = np.clip((hi - station) / (2 * width) + 0.5, 0, 1) if np.isfinite(hi) else 1
        W[:, k] = up * down
    return W / W.sum(axis=1, keepdims=True)


def _add_tube(mesh, name, J, chain, radii, n_rings, n_seg, up, width=0.03, cap=(None, None), end=None,
              n_cap=4, start=None):
    """A tube along the joints ``chain`` (the first one replaced by ``start`` when given; on
    to ``end``, a point past the last joint), skinned to the chain's joints by the position
    along it."""
    first = J[chain[0]] if start is None else start
    points = np.array([first] + [J[c] for c in chain[1:]] + ([end] if end is not None else []))
    verts, faces, station, chart = _tube(points, radii, n_rings, n_seg, up, cap, n_cap)
    knots = np.concatenate([[0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    W_chain = _blend_along(station, knots[:len(chain)], chain, width)
    W = np.zeros((len(verts), J_TOTAL))
    for k, c in enumerate(chain):
        W[:, mesh.index(c)] += W_chain[:, k]
    mesh.add(name, verts, faces, W, chart)


def _lerp(xs, ys):
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    return lambda s: tuple(np.interp(s, xs, ys[:, i]) for i in range(ys.shape[1]))


def _build(mesh, J, scale=1.0):
    """The visible pieces; ``scale`` multiplies the ring counts (the vertex budget)."""
    r = lambda n: max(4, int(round(n * scale)))  # noqa: E731
    Z = np.array([0.0, 0, 1])
    Y = np.array([0.0, 1, 0])
    # torso: from below the hips to the base of the neck, elliptical; skinned along the spine
    torso_pts = np.array([[0, 0.0, -0.13], [0, 0.0, 0.50]])
    torso_r = _lerp([0, 0.13, 0.25, 0.43, 0.55, 0.60, 0.63],
                    [(0.15, 0.10), (0.165, 0.105), (0.14, 0.095), (0.16, 0.11), (0.17, 0.09), (0.12, 0.075),
                     (0.09, 0.065)])
    verts, faces, station, chart = _tube(torso_pts, torso_r, r(44), r(52), np.array([1.0, 0, 0]),
                                         cap=(0.06, 0.04))
    z = verts[:, 2]
    spine = ["pelvis", "spine1", "spine2", "spine3"]
    W_sp = _blend_along(z, [J[s][2] for s in spine], spine, 0.05)
    W = np.zeros((len(verts), J_TOTAL))
    for k, s in enumerate(spine):
        W[:, mesh.index(s)] = W_sp[:, k]
    for side, m in (("left", 1), ("right", -1)):
        c = np.clip((m * verts[:, 0] - 0.05) / 0.08, 0, 1) * np.clip((z - 0.36) / 0.06, 0, 1)
        W *= (1 - c)[:, None]
        W[:, mesh.index(f"{side}_collar")] += c
    mesh.add("torso", verts, faces, W, chart)
    # neck and head: one tube, an ellipsoidal skull on a neck
    skull = lambda s: np.sqrt(max(0.0, 1 - ((s - 0.19) / 0.12) ** 2))  # noqa: E731
    head_r = lambda s: (max(0.052, 0.078 * skull(s)), max(0.055, 0.096 * skull(s)))  # noqa: E731
    _add_tube(mesh, "head", J, ["neck", "head"], head_r, r(40), r(40), np.array([1.0, 0, 0]), width=0.03,
              end=np.array([0, -0.012, 0.74]), cap=(0.03, None), n_cap=6)
    for side, m in (("left", 1), ("right", -1)):
        S = lambda n: f"{side}_{n}"  # noqa: E731
        arm_r = _lerp([0, 0.13, 0.26, 0.36, 0.51], [(0.05, 0.05), (0.045, 0.043), (0.037, 0.036),
                                                     (0.04, 0.038), (0.027, 0.022)])
        _add_tube(mesh, S("arm"), J, [S("shoulder"), S("elbow"), S("wrist")], arm_r, r(46), r(24), Z,
                  width=0.03, cap=(None, 0.02))
        leg_r = _lerp([0, 0.25, 0.39, 0.5, 0.78], [(0.085, 0.085), (0.065, 0.065), (0.05, 0.052),
                                                  (0.056, 0.06), (0.034, 0.034)])
        _add_tube(mesh, S("leg"), J, [S("hip"), S("knee"), S("ankle")], leg_r, r(52), r(28), Y, width=0.04)
        # the foot: from the heel (below and behind the ankle) to the toes, skinned to the
        # ankle up to the ball of the foot, then to the toes ("foot")
        heel = J[S("ankle")] + np.array([0, 0.045, -0.05])
        foot_r = _lerp([0, 0.12, 0.23], [(0.028, 0.035), (0.03, 0.045), (0.018, 0.04)])  # (height, width)
        _add_tube(mesh, S("foot"), J, [S("ankle"), S("foot")], foot_r, r(22), r(18), Z, width=0.02,
                  cap=(0.03, 0.02), start=heel, end=J[S("foot")] + np.array([0, -0.075, 0.005]))
        knuckles = np.mean([J[S("index1")], J[S("pinky1")]], axis=0)
        _add_tube(mesh, S("palm"), J, [S("wrist")], lambda s: (0.014, 0.044), r(12), r(24), Z, width=0.01,
                  cap=(0.012, 0.012), end=knuckles - np.array([m * 0.005, 0, 0]))
        for k in ("index", "middle", "ring", "pinky", "thumb"):
            chain = [S(f"{k}{j}") for j in (1, 2, 3)]
            tip_dir = _unit(J[chain[2]] - J[chain[1]])
            tip = J[chain[2]] + tip_dir * (0.024 if k != "pinky" else 0.02)
            rad = {"thumb": 0.011, "pinky": 0.0075}.get(k, 0.0088)
            _add_tube(mesh, S(k), J, chain, lambda s, rad=rad: (rad * 0.9, rad), r(12), 8, Z, width=0.006,
                      end=tip, n_cap=2)


def _filler(n_seg, n_ring, membranes, centre):
    """A small closed tube (hidden inside the torso) whose rings carry fan membranes: exact
    face counts with few vertices."""
    pts = np.array([centre - [0, 0, 0.04], centre + [0, 0, 0.04]])
    verts, faces, station, (uv, uvf, w, h) = _tube(pts, lambda s: (0.03, 0.03), n_ring, n_seg,
                                                  np.array([1.0, 0, 0]), n_cap=1)
    extra, extra_uv, extra_uvf = [], [], []
    t0 = len(uv)
    for m in range(membranes):
        ring, i = divmod(m, n_seg - 2)
        base = ring * n_seg
        extra.append((base, base + i + 1, base + i + 2))
        # each ring's fan in its own disk, in a row of disks beside the tube's chart
        ang = 2 * np.pi * np.array([0, i + 1, i + 2]) / n_seg
        disk = 0.5 + 0.45 * np.stack([np.cos(ang), np.sin(ang)], 1)
        extra_uv.append((disk + [ring, 0]) * 0.02 + [0, h + 0.01])
        extra_uvf.append(t0 + 3 * m + np.arange(3))
    uv = np.concatenate([uv] + extra_uv)
    return (verts, np.concatenate([faces, np.array(extra, dtype=int).reshape(-1, 3)]),
            (uv, np.concatenate([uvf, np.array(extra_uvf).reshape(-1, 3)]),
             max(w, 0.02 * n_ring), h + 0.03))


def _pack(charts, margin=0.004):
    """Shelf-pack the charts (scaled uniformly) into the unit square; returns uv, uv_faces."""
    order = sorted(range(len(charts)), key=lambda i: -charts[i][3])

    def place(scale):
        x = y = shelf = 0.0
        offsets = {}
        for i in order:
            w, h = charts[i][2] * scale, charts[i][3] * scale
            if w + 2 * margin > 1:
                return None
            if x + w + margin > 1:
                x, y, shelf = 0.0, y + shelf + margin, 0.0
            offsets[i] = (x + margin, y + margin)
            x += w + margin
            shelf = max(shelf, h)
        return offsets if y + shelf + 2 * margin <= 1 else None

    lo, hi = 0.01, 5.0
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if place(mid) else (lo, mid)
    offsets = place(lo)
    uvs, uvfs, start = [], [], 0
    for i, (uv, uvf, _, _) in enumerate(charts):
        uvs.append(uv * lo + offsets[i])
        uvfs.append(uvf + start)
        start += len(uv)
    return np.concatenate(uvs), np.concatenate(uvfs)


def _filler_dims(v_left, f_left):
    """(n_seg, n_ring, membranes, unused vertices) meeting the exact budget."""
    for unused in range(0, 64):
        for n_ring in range(3, 40):
            n_seg, rest = divmod(v_left - unused - 2, n_ring)
            if rest or n_seg < 5:
                continue
            membranes = f_left - 2 * n_seg * n_ring
            if 0 <= membranes <= n_ring * (n_seg - 2):
                return n_seg, n_ring, membranes, unused
    raise RuntimeError(f"no filler for {v_left} vertices and {f_left} faces")


def _pick_keypoint_vertices(mesh, J):
    """Vertex (in build order) for each SMPL-X keypoint name."""
    V = np.concatenate(mesh.verts)
    pick = {}
    head = mesh.pieces["head"]
    hv = V[head]
    for name, m in (("leye", 1), ("reye", -1)):
        target = J["left_eye_smplhf" if m > 0 else "right_eye_smplhf"] + [0, -0.02, 0]
        pick[name] = head[np.argmin(np.linalg.norm(hv - target, axis=1))]
    pick["nose"] = head[np.argmin(np.linalg.norm(hv - [0, -0.12, 0.635], axis=1))]
    for name, m in (("lear", 1), ("rear", -1)):
        pick[name] = head[np.argmin(np.linalg.norm(hv - [m * 0.1, 0.0, 0.66], axis=1))]
    for side, s, m in (("left", "l", 1), ("right", "r", -1)):
        for k in ("thumb", "index", "middle", "ring", "pinky"):
            piece = mesh.pieces[f"{side}_{k}"]
            pick[f"{s}{k}"] = piece[-1]  # the far pole
        foot = mesh.pieces[f"{side}_foot"]
        fv = V[foot]
        S = "L" if m > 0 else "R"
        front = fv[:, 1].min()
        toe_x = J[f"{side}_foot"][0]
        pick[f"{S}BigToe"] = foot[np.argmin(np.linalg.norm(fv - [toe_x - m * 0.02, front + 0.01, -0.93], axis=1))]
        pick[f"{S}SmallToe"] = foot[np.argmin(np.linalg.norm(fv - [toe_x + m * 0.03, front + 0.03, -0.93], axis=1))]
        pick[f"{S}Heel"] = foot[np.argmin(np.linalg.norm(fv - [J[f"{side}_ankle"][0], fv[:, 1].max(), -0.95], axis=1))]
    return pick


def _visible_pieces(names, J):
    """The visible pieces at the largest resolution that leaves room for the filler."""
    for scale in np.arange(1.0, 0.5, -0.005):
        mesh = _Mesh(names)
        _build(mesh, J, scale)
        v_left = V_TOTAL - sum(len(v) for v in mesh.verts) - J_TOTAL
        f_left = F_TOTAL - sum(len(f) for f in mesh.faces)
        if v_left < 0:
            continue
        try:
            return mesh, _filler_dims(v_left, f_left)
        except RuntimeError:
            continue
    raise RuntimeError("no resolution of the humanoid fits SMPL-X's vertex and face counts")


def build_humanoid() -> dict[str, np.ndarray]:
    names = joint_names()
    J = skeleton()
    mesh, (n_seg, n_ring, membranes, unused) = _visible_pieces(names, J)
    verts, faces, chart = _filler(n_seg, n_ring, membranes, J["spine2"] + [0, 0, 0.02])
    W = np.zeros((len(verts), J_TOTAL))
    W[:, names.index("spine2")] = 1
    mesh.add("filler", verts, faces, W, chart)
    # loose vertices: the joints (one-hot regressor), then the unused padding at the pelvis
    joint_pos = np.array([J[n] for n in names])
    W = np.eye(J_TOTAL)
    mesh.add("joints", joint_pos, np.zeros((0, 3), int), W, (np.zeros((0, 2)), np.zeros((0, 3), int), 0, 0))
    if unused:
        Wp = np.zeros((unused, J_TOTAL))
        Wp[:, 0] = 1
        mesh.add("padding", np.zeros((unused, 3)), np.zeros((0, 3), int), Wp,
                 (np.zeros((0, 2)), np.zeros((0, 3), int), 0, 0))
    V = np.concatenate(mesh.verts)
    F = np.concatenate(mesh.faces)
    Wt = np.concatenate(mesh.weights)
    uv, uv_faces = _pack([c for c in mesh.charts if c[2] > 0])
    assert len(V) == V_TOTAL and len(F) == F_TOTAL, (len(V), len(F))
    # the keypoint vertices go to SMPL-X's ids; the other vertices keep their order
    pick = _pick_keypoint_vertices(mesh, J)
    new_of_old = np.full(V_TOTAL, -1)
    for name, old in pick.items():
        new_of_old[old] = KEYPOINT_VERTEX[name]
    free_new = np.setdiff1d(np.arange(V_TOTAL), list(KEYPOINT_VERTEX.values()))
    new_of_old[new_of_old < 0] = free_new
    joint_old = mesh.pieces["joints"]
    perm = np.empty(V_TOTAL, int)
    perm[new_of_old] = np.arange(V_TOTAL)  # old index of each new vertex
    return {"vertices": V[perm], "faces": new_of_old[F], "weights": Wt[perm], "uv": uv, "uv_faces": uv_faces,
            "joint_vertex": new_of_old[joint_old], "joints": joint_pos, "names": names}


def _shapedirs(V, weights, joints):
    """(V, 3, 20) in the canonical frame: beta0 size, beta1 girth (away from the bone axis),
    beta2 longer limbs; expression directions zero."""
    dirs = np.zeros((len(V), 3, 20))
    dirs[:, :, 0] = 0.04 * V
    dominant = weights.argmax(axis=1)
    child = {p: i for i, p in reversed(list(enumerate(PARENTS))) if p >= 0}
    a = joints[dominant]
    b = joints[[child.get(d, d) for d in dominant]]
    ab = b - a
    t = np.clip(np.einsum("ij,ij->i", V - a, ab) / np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-12), 0, 1)
    dirs[:, :, 1] = 0.15 * (V - (a + t[:, None] * ab))
    dirs[:, 2, 2] = 0.03 * np.minimum(V[:, 2], 0)  # legs: everything below the pelvis stretches
    return dirs


def write_humanoid_smplx(path):
    """Write the humanoid SMPL-X file to ``path`` (an ``.npz``); returns ``path``."""
    h = build_humanoid()
    V, W = h["vertices"], h["weights"]
    regressor = np.zeros((J_TOTAL, V_TOTAL))
    regressor[np.arange(J_TOTAL), h["joint_vertex"]] = 1
    dirs = _shapedirs(V, W, h["joints"])
    kintree = np.stack([PARENTS, np.arange(J_TOTAL)]).astype(np.int64)
    kintree[0, 0] = 4294967295  # as in the real files
    native = lambda x: x @ TO_NATIVE.T  # noqa: E731
    rng = np.random.default_rng(0)
    F = len(h["faces"])
    np.savez(
        path,
        v_template=native(V).astype(np.float32),
        f=h["faces"].astype(np.uint32),
        weights=W.astype(np.float32), J_regressor=regressor.astype(np.float32), kintree_table=kintree,
        shapedirs=np.einsum("ij,vjk->vik", TO_NATIVE, dirs).astype(np.float32),
        posedirs=np.zeros((V_TOTAL, 3, (J_TOTAL - 1) * 9), np.float32),
        hands_componentsl=np.eye(45), hands_componentsr=np.eye(45),
        hands_meanl=np.zeros(45), hands_meanr=np.zeros(45),
        lmk_faces_idx=rng.integers(0, F, 51), lmk_bary_coords=np.full((51, 3), 1 / 3),
        dynamic_lmk_faces_idx=rng.integers(0, F, (79, 17)), dynamic_lmk_bary_coords=np.full((79, 17, 3), 1 / 3),
        vt=h["uv"], ft=h["uv_faces"].astype(np.uint32),
    )
    return path
