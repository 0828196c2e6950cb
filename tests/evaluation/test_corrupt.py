import pytest
import torch

from engine.errors import InputError
from engine.evaluation.corrupt import corrupt_proxies
from engine.proxy import aggregate_samples


def _proxy(n=3, size=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    seg = torch.zeros(n, size, size, dtype=torch.uint8)
    seg[:, 10:54, 20:44] = torch.randint(1, 47, (n, 44, 24), generator=g).to(torch.uint8)
    uv = torch.rand(n, size, size, 2, generator=g) * (seg > 0)[..., None]
    return seg, uv


def test_shapes_dtypes_and_determinism():
    seg, uv = _proxy()
    seg_k, uv_k = corrupt_proxies(seg, uv, 0.3, 4, 7)
    assert seg_k.shape == (4, *seg.shape) and seg_k.dtype == seg.dtype
    assert uv_k.shape == (4, *uv.shape) and uv_k.dtype == uv.dtype
    again = corrupt_proxies(seg, uv, 0.3, 4, torch.Generator().manual_seed(7))
    assert torch.equal(again[0], seg_k) and torch.equal(again[1], uv_k)
    other = corrupt_proxies(seg, uv, 0.3, 4, 8)
    assert not torch.equal(other[0], seg_k)


def test_fraction_of_wrong_pixels_differs_per_sample_and_never_background():
    seg, uv = _proxy()
    seg_k, uv_k = corrupt_proxies(seg, uv, 0.3, 3, 0, blob=False)
    fg = seg > 0
    assert ((seg_k == 0) == ~fg).all()  # no blob: the silhouette stays
    wrong = (seg_k != seg) & fg
    share = wrong.sum(dim=(1, 2, 3)).float() / fg.sum()
    assert torch.allclose(share, torch.full((3,), 0.3), atol=0.02)
    assert not torch.equal(wrong[0], wrong[1])
    kept = ~wrong.unsqueeze(-1).expand_as(uv_k)
    assert (uv_k[kept] == uv.expand_as(uv_k)[kept]).all()
    assert torch.equal(corrupt_proxies(seg, uv, 0.0, 2, 0, blob=False)[0], seg.expand(2, *seg.shape))


def test_blob_is_the_same_in_every_sample_and_hides_part_of_each_view():
    seg, uv = _proxy()
    seg_k, _ = corrupt_proxies(seg, uv, 0.0, 3, 1)
    hidden = (seg_k == 0) & (seg > 0)
    assert torch.equal(hidden[0], hidden[1]) and torch.equal(hidden[0], hidden[2])
    share = hidden[0].sum(dim=(1, 2)).float() / (seg > 0).sum(dim=(1, 2))
    assert ((share > 0.02) & (share < 0.5)).all()
    assert ((seg_k[:, :, :10] == 0).all())  # background stays background


def test_aggregation_downweights_the_corrupted_pixels():
    seg, uv = _proxy(seed=2)
    agg = aggregate_samples(*corrupt_proxies(seg, uv, 0.3, 3, 0, blob=False))
    fg = agg.seg > 0
    right = fg & (agg.seg == seg)
    assert right.sum() > 0.85 * fg.sum()
    assert agg.weight[fg & ~right].mean() < 0.1 < 0.5 < agg.weight[right].mean()


def test_empty_view_gets_no_blob():
    seg, uv = _proxy()
    seg[1] = 0
    seg_k, _ = corrupt_proxies(seg, uv * (seg > 0)[..., None], 0.5, 2, 0)
    assert (seg_k[:, 1] == 0).all()


@pytest.mark.parametrize("kwargs, field", [({"fraction": 1.5}, "fraction"), ({"samples": 0}, "samples")])
def test_bad_arguments(kwargs, field):
    seg, uv = _proxy()
    args = {"fraction": 0.3, "samples": 3, **kwargs}
    with pytest.raises(InputError, match=field):
        corrupt_proxies(seg, uv, args["fraction"], args["samples"])


def test_bad_arrays():
    seg, uv = _proxy()
    with pytest.raises(InputError, match="uv"):
        corrupt_proxies(seg, uv[..., :1], 0.3, 2)
    with pytest.raises(InputError, match="seg"):
        corrupt_proxies(seg.float(), uv, 0.3, 2)
    with pytest.raises(InputError, match="uv"):
        corrupt_proxies(seg, uv * float("nan"), 0.3, 2)
