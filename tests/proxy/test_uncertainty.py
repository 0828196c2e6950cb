import pytest
import torch

from engine.errors import InputError
from engine.proxy.uncertainty import aggregate_samples


def test_identical_samples_are_certain():
    seg = torch.randint(1, 47, (4, 8, 8)).expand(3, -1, -1, -1)  # K=3 identical samples of 4 views
    uv = torch.rand(4, 8, 8, 2).expand(3, -1, -1, -1, -1)
    agg = aggregate_samples(seg, uv)
    assert torch.equal(agg.seg, seg[0])
    torch.testing.assert_close(agg.uv, uv[0])
    torch.testing.assert_close(agg.weight, torch.ones(4, 8, 8))


def test_paper_formulas_on_one_pixel():
    # K=3, votes (5, 5, 9): n_max = 2 > 3/2 -> U_seg = 2 (1 - 2/3) = 2/3
    seg = torch.tensor([5, 5, 9]).reshape(3, 1, 1)
    uv = torch.tensor([[0.2, 0.5], [0.4, 0.5], [0.9, 0.8]]).reshape(3, 1, 1, 2)
    agg = aggregate_samples(seg, uv)
    assert agg.seg.item() == 5
    torch.testing.assert_close(agg.uv[0, 0], torch.tensor([0.4, 0.5]))  # per-channel median
    var = torch.tensor([0.2, 0.4, 0.9]).var(unbiased=False) / 2 + torch.tensor([0.5, 0.5, 0.8]).var(unbiased=False) / 2
    torch.testing.assert_close(agg.u_uv[0, 0], var)
    torch.testing.assert_close(agg.u_seg[0, 0], torch.tensor(2 / 3))
    torch.testing.assert_close(agg.weight[0, 0], (1 - var) * (1 / 3))


def test_no_majority_means_zero_weight_and_background_is_zero():
    seg = torch.tensor([[3, 0], [4, 0], [5, 7], [6, 0]]).reshape(4, 1, 2)  # K=4
    agg = aggregate_samples(seg, torch.full((4, 1, 2, 2), 0.5))
    assert agg.u_seg[0, 0] == 1 and agg.weight[0, 0] == 0  # every label has 1 vote <= K/2
    assert agg.seg[0, 0] == 3  # ties go to the smaller id
    assert agg.seg[0, 1] == 0 and agg.weight[0, 1] == 0  # background wins 3 of 4


def test_bad_samples():
    with pytest.raises(InputError, match="uv: expected shape"):
        aggregate_samples(torch.zeros(3, 4, 4, dtype=torch.long), torch.zeros(3, 4, 4, 3))
    with pytest.raises(InputError, match="unknown part id"):
        aggregate_samples(torch.full((3, 4, 4), 60), torch.zeros(3, 4, 4, 2))
    with pytest.raises(InputError, match="non-finite"):
        aggregate_samples(torch.zeros(3, 4, 4, dtype=torch.long), torch.full((3, 4, 4, 2), float("nan")))
