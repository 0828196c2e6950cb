import torch

from engine.proxy.parts import NUM_PARTS, PART_ID, PART_NAMES


def face_centroids(body):
    v = body(body.neutral_params(1)).vertices[0]
    return v[body.faces].mean(dim=1)


def test_every_part_exists_and_sides_are_mirrored(anny64, anny_proxy):
    counts = torch.bincount(anny_proxy.part_table.face_part, minlength=NUM_PARTS)
    assert counts[0] == 0
    missing = [PART_NAMES[i] for i in range(1, NUM_PARTS) if counts[i] == 0]
    assert not missing, f"parts without faces: {missing}"
    for i, name in enumerate(PART_NAMES):
        if name.startswith("left"):
            assert counts[i] == counts[PART_ID["right" + name[4:]]], name


def test_parts_sit_where_their_names_say(anny64, anny_proxy):
    c = face_centroids(anny64)
    fp = anny_proxy.part_table.face_part
    out = anny64(anny64.neutral_params(1))
    def mean(name):
        return c[fp == PART_ID[name]].mean(dim=0)
    assert mean("leftArm")[0] > 0.15 and mean("rightArm")[0] < -0.15  # left is +X
    assert mean("head")[2] > mean("neck")[2] > mean("spine2")[2] > mean("spine1")[2] > mean("spine")[2] > mean("hips")[2]
    assert mean("leftUpLeg")[2] > mean("leftLeg")[2] > mean("leftFoot")[2]
    # distal finger segments are farther from the wrist than proximal ones, fingertip keypoint inside distal
    for side in ("left", "right"):
        wrist = out.keypoints[0, 9 if side == "left" else 10]
        for f in ("Thumb", "Index", "Middle", "Ring", "Pinky"):
            prox, dist = mean(f"{side}Hand{f}Proximal"), mean(f"{side}Hand{f}Distal")
            assert (dist - wrist).norm() > (prox - wrist).norm()
        radial, ulnar = mean(f"{side}HandPalmRadial"), mean(f"{side}HandPalmUlnar")
        thumb = mean(f"{side}HandThumbDistal")
        assert (radial - thumb).norm() < (ulnar - thumb).norm()


def test_smplx_part_table_maps_every_joint(tmp_path):
    from helpers import write_fake_smplx

    from engine.body import load_body_model
    from engine.proxy import build_part_table

    body = load_body_model("smplx", smplx_model=write_fake_smplx(tmp_path / "m.npz"), dtype=torch.float64)
    table = build_part_table(body)
    assert table.face_part.shape == (20908,) and table.vertex_part.shape == (10475,)
    assert table.face_part.min() >= 1 and table.face_part.max() < NUM_PARTS
    # random skinning weights still reach every part through the joint map
    assert len(torch.unique(table.vertex_part)) == NUM_PARTS - 1
