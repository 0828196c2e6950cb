import pytest
import roma
import torch

from engine.errors import InputError
from engine.metrics import mpjpe, mpvpe, pa_mpjpe, pa_mpvpe, pa_region_errors_mm, procrustes_align


def test_translation_offset():
    gt = torch.randn(3, 30, 3, dtype=torch.float64)
    pred = gt + torch.tensor([0.01, 0, 0], dtype=torch.float64)
    torch.testing.assert_close(mpjpe(pred, gt), torch.full((3,), 10.0, dtype=torch.float64))
    torch.testing.assert_close(pa_mpjpe(pred, gt), torch.zeros(3, dtype=torch.float64), atol=1e-9, rtol=0)


def test_similarity_is_removed_by_procrustes_only():
    gt = torch.randn(4, 500, 3, dtype=torch.float64)
    R = roma.random_rotmat(4, dtype=torch.float64)
    s = torch.tensor([0.5, 1.0, 1.5, 2.0], dtype=torch.float64)
    pred = s[:, None, None] * torch.einsum("bij,bnj->bni", R, gt) + torch.randn(4, 1, 3, dtype=torch.float64)
    assert (mpvpe(pred, gt) > 100).all()
    torch.testing.assert_close(pa_mpvpe(pred, gt), torch.zeros(4, dtype=torch.float64), atol=1e-8, rtol=0)
    torch.testing.assert_close(procrustes_align(pred, gt), gt)


def test_known_error_survives_alignment():
    """Noise that no similarity can explain stays after PA: the error of a point on one
    axis moved along another."""
    gt = torch.tensor([[[1.0, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]]], dtype=torch.float64)
    pred = gt.clone()
    pred[0, 0, 2] = 0.004
    pred[0, 1, 2] = -0.004  # a rotation would fit this pair... but not with the other two fixed
    assert 0 < pa_mpjpe(pred, gt).item() < mpjpe(pred, gt).item() == pytest.approx(2.0)


def test_region_errors_split_pa_mpvpe():
    """Noise on a few vertices shows in their region only, and the regions' means weighted
    by their sizes give PA-MPVPE back."""
    g = torch.Generator().manual_seed(0)
    gt = torch.randn(2, 400, 3, generator=g, dtype=torch.float64)
    hands = torch.zeros(400, dtype=torch.bool)
    hands[:40] = True
    pred = gt.clone()
    pred[:, hands] += 0.02 * torch.randn(2, 40, 3, generator=g, dtype=torch.float64)
    regions = pa_region_errors_mm(pred, gt, {"body": ~hands, "hands": hands})
    assert (regions["hands"] > 10 * regions["body"]).all() and (regions["hands"] > 10).all()
    torch.testing.assert_close((regions["body"] * 360 + regions["hands"] * 40) / 400, pa_mpvpe(pred, gt))
    with pytest.raises(InputError, match="regions\\['hands'\\]"):
        pa_region_errors_mm(pred, gt, {"hands": hands[:10]})


def test_bad_input():
    with pytest.raises(InputError, match="gt: expected shape"):
        mpjpe(torch.zeros(1, 5, 3), torch.zeros(1, 6, 3))
    with pytest.raises(InputError, match="pred: 1 non-finite"):
        mpvpe(torch.tensor([[[float("nan"), 0, 0], [0, 0, 0], [1, 1, 1]]]), torch.zeros(1, 3, 3))
    with pytest.raises(InputError, match="at least 3"):
        pa_mpjpe(torch.zeros(1, 2, 3), torch.zeros(1, 2, 3))
