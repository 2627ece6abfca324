"""The synthetic dataset plugin: generator facts against the DeScarGAN reference, and caching."""

from __future__ import annotations

import math
import re
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from anobench_synthetic import SyntheticDataset
from anobench_synthetic import generator as gen

import anobench
from anobench import ConfigError, DataError

THETA = np.linspace(0, 2 * np.pi, 10000)


# --------------------------------------------------------------------------------------------
# shared generated data
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def phantoms() -> gen.Phantoms:
    rng, _ = gen.seed_streams(123, 0)
    ph, _ = gen.sample_phantoms(rng, 2000)
    return ph


@pytest.fixture(scope="module")
def split256() -> gen.GeneratedSplit:
    return gen.generate_split(40, 60, seed=7, image_size=256)


@pytest.fixture(scope="module")
def split64() -> gen.GeneratedSplit:
    return gen.generate_split(40, 60, seed=7, image_size=64)


def make_ctx(tmp_path: Path) -> anobench.RunContext:
    return anobench.RunContext(workdir=tmp_path, cache_dir=tmp_path / "cache")


def small(**overrides) -> SyntheticDataset:
    opts = {"image_size": 32, "n_train": 6, "n_val": 2, "n_test": 4, **overrides}
    return SyntheticDataset(**opts)


# --------------------------------------------------------------------------------------------
# parameters and acceptance
# --------------------------------------------------------------------------------------------


def test_parameters_follow_the_reference(phantoms):
    ph = phantoms
    for c in (ph.u, ph.v, ph.u2, ph.v2):
        assert c.dtype.kind == "i" and c.min() >= 50 and c.max() <= 199
    assert (gen.centre_distance(ph) > 120).all()
    assert ph.f1.min() >= 0.2 and ph.f1.max() <= 0.35
    assert ph.f2.min() >= 0.35 and ph.f2.max() <= 0.5
    for h in (ph.h1, ph.h2):
        assert h.min() >= 0.2 and h.max() <= 0.4
    for a, mean in ((ph.a1, 40), (ph.b1, 20), (ph.a2, 70), (ph.b2, 35)):
        assert abs(a.mean() - mean) < 0.2
        assert 0.9 < a.std() < 1.1
    for t in (ph.thick1, ph.thick2):
        assert abs(t.mean() - 5) < 0.1 and t.min() >= 2 and t.max() <= 8
    for angle in (ph.angle1, ph.angle2):
        assert angle.min() >= 0 and angle.max() < 2 * np.pi


def test_first_phantoms_do_not_depend_on_how_many_are_asked():
    a, _ = gen.sample_phantoms(gen.seed_streams(5, 1)[0], 7)
    b, _ = gen.sample_phantoms(gen.seed_streams(5, 1)[0], 300)
    for key, value in a.as_dict().items():
        np.testing.assert_array_equal(value, b.as_dict()[key][:7])


def test_rejection_reasons():
    base = gen.sample_candidates(np.random.default_rng(0), 4)
    d = base.as_dict()
    # 0: far apart, inside; 1: too close; 2: ellipse 2 crosses the top border (the official
    # code would wrap it to the bottom); 3: ellipse 1 crosses the right border
    d.update(
        u=np.array([60, 100, 120, 128]),
        v=np.array([60, 100, 70, 190]),
        u2=np.array([160, 150, 60, 60]),
        v2=np.array([170, 150, 190, 60]),
        a1=np.full(4, 40.0),
        b1=np.full(4, 20.0),
        a2=np.full(4, 70.0),
        b2=np.full(4, 35.0),
        angle1=np.array([0.0, 0.0, 0.0, np.pi / 2]),
        angle2=np.array([np.pi / 4, 0.0, 0.0, 0.0]),
    )
    reasons = gen.rejection_reasons(gen.Phantoms(**d))
    assert reasons.tolist() == [gen.ACCEPTED, gen.TOO_CLOSE, gen.OUTSIDE, gen.OUTSIDE]


def test_every_accepted_pixel_lies_inside(phantoms):
    rows_cols = []
    t = np.linspace(0, 2 * np.pi, 1000)
    for k in range(0, 2000, 97):
        one = phantoms.take(slice(k, k + 1))
        for u, v, a, b, angle in (
            (one.u, one.v, one.a1, one.b1, one.angle1),
            (one.u2, one.v2, one.a2, one.b2, one.angle2),
        ):
            rows, cols = gen.ellipse_points(u, v, a, b, angle, t)
            rows_cols.append((np.rint(rows), np.rint(cols)))
    for rows, cols in rows_cols:
        assert rows.min() >= 0 and cols.min() >= 0 and rows.max() <= 255 and cols.max() <= 255


def _brute_intersect(p, q) -> bool:
    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    for i in range(len(p)):
        p1, p2 = p[i], p[(i + 1) % len(p)]
        for j in range(len(q)):
            q1, q2 = q[j], q[(j + 1) % len(q)]
            if cross(p1, p2, q1) * cross(p1, p2, q2) > 0:
                continue
            if cross(q1, q2, p1) * cross(q1, q2, p2) > 0:
                continue
            if all(
                max(p1[k], p2[k]) >= min(q1[k], q2[k]) and max(q1[k], q2[k]) >= min(p1[k], p2[k])
                for k in range(2)
            ):
                return True
    return False


def test_polyline_intersection_matches_brute_force():
    rng = np.random.default_rng(3)
    centres = rng.uniform(0, 30, size=(60, 2, 2))
    p = gen.polyline(
        centres[:, 0, 0],
        centres[:, 0, 1],
        rng.uniform(3, 15, 60),
        rng.uniform(2, 8, 60),
        rng.uniform(0, 6.3, 60),
        n=12,
    )
    q = gen.polyline(
        centres[:, 1, 0],
        centres[:, 1, 1],
        rng.uniform(3, 15, 60),
        rng.uniform(2, 8, 60),
        rng.uniform(0, 6.3, 60),
        n=12,
    )
    fast = gen.polylines_intersect(p, q, chunk=7)
    slow = np.array([_brute_intersect(p[k], q[k]) for k in range(60)])
    np.testing.assert_array_equal(fast, slow)
    assert 5 < fast.sum() < 55  # both outcomes are exercised
    # crossing ellipses of the reference size, and far-apart ones
    one = np.array([100.0])
    cross = gen.polylines_intersect(
        gen.polyline(one, one, np.array([40.0]), np.array([20.0]), np.array([0.0])),
        gen.polyline(one + 50, one, np.array([70.0]), np.array([35.0]), np.array([1.0])),
    )
    apart = gen.polylines_intersect(
        gen.polyline(one, one, np.array([40.0]), np.array([20.0]), np.array([0.0])),
        gen.polyline(one + 130, one, np.array([70.0]), np.array([35.0]), np.array([0.0])),
    )
    assert cross.tolist() == [True] and apart.tolist() == [False]


# --------------------------------------------------------------------------------------------
# rasterisation against the reference procedure
# --------------------------------------------------------------------------------------------


def _literal_wave(f, h, row_of, col_of, row_origin, col_origin):
    """The official ring-by-ring loop on a 2000 x 2000 canvas (truncation toward zero)."""
    canvas = np.zeros((2000, 2000), dtype=np.float32)
    trig = {"sin": np.sin(THETA), "cos": np.cos(THETA)}
    for r in range(500):
        rows = (r * trig[row_of] + row_origin).astype(np.int64)
        cols = (r * trig[col_of] + col_origin).astype(np.int64)
        canvas[rows, cols] = math.sin(r * f) * h
    return canvas[:256, :256]


def test_wave_background_equals_the_official_rasteriser(phantoms):
    for k in (0, 1):
        one = phantoms.take(slice(k, k + 1))
        p = {name: value[0].item() for name, value in one.as_dict().items()}
        # official: tensor[r*sin + v, r*cos + u] and tensor2[r*cos + u2, r*sin + v2]
        expected = _literal_wave(p["f1"], p["h1"], "sin", "cos", p["v"], p["u"])
        expected = expected + _literal_wave(p["f2"], p["h2"], "cos", "sin", p["u2"], p["v2"])
        got = gen.waves(one)[0].numpy()
        np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)
        assert np.abs(got).max() <= 0.8


def test_ellipse_bands_match_the_parameters(phantoms):
    for k in range(0, 400, 40):
        one = phantoms.take(slice(k, k + 1))
        mask = gen.ellipse_mask(one)[0].numpy()
        rows, cols = np.nonzero(mask)
        # pixels of ellipse 1 are within 45 px of its centre; ellipse 2 is farther away
        near = np.hypot(rows - one.u[0], cols - one.v[0]) <= 45
        for sel, (u, v, a, b, angle, thick) in (
            (near, (one.u, one.v, one.a1, one.b1, one.angle1, one.thick1)),
            (~near, (one.u2, one.v2, one.a2, one.b2, one.angle2, one.thick2)),
        ):
            dr, dc = rows[sel] - u[0], cols[sel] - v[0]
            c, s = math.cos(angle[0]), math.sin(angle[0])
            x, y = c * dr + s * dc, -s * dr + c * dc  # back into the ellipse's own frame
            a, b, thick = a[0], b[0], int(thick[0])
            # measured semi-axes of the outer band
            assert abs(np.abs(x).max() - a) < 0.8
            assert abs(np.abs(y).max() - b) < 0.8
            # every pixel lies in the band between the innermost and the outer ring
            outer = (x / (a + 1)) ** 2 + (y / (b + 1)) ** 2
            inner = (x / (a - thick)) ** 2 + (y / (b - thick)) ** 2
            assert outer.max() <= 1 and inner.min() >= 1


def test_smoothing_is_the_official_conv():
    kernel = gen.smoothing_kernel()
    g = torch.arange(3, dtype=torch.float32) - 1
    ref = torch.exp(-(g[:, None] ** 2 + g[None, :] ** 2) / 8)
    torch.testing.assert_close(kernel, ref / ref.sum())
    x = torch.randn(3, 256, 256)
    padded = F.pad(x, (1, 1, 1, 1))
    expected = F.conv2d(x[:, None], kernel.view(1, 1, 3, 3), padding=1)[:, 0]
    torch.testing.assert_close(gen.smooth(padded), expected, atol=1e-6, rtol=0)


def test_displacement_matches_the_official_autograd_field():
    u, v = np.array([80, 170]), np.array([150, 60])
    mine = gen.displacement(u, v)
    lin = torch.tensor(np.linspace(-1, 1, 256)).float()
    for k in range(2):
        x, y = (t.clone().requires_grad_(True) for t in torch.meshgrid(lin, lin, indexing="xy"))
        mx = torch.tensor(2 * (v[k] / 256) - 1).float()
        my = torch.tensor(2 * (u[k] / 256) - 1).float()
        s = 0.19
        z = torch.exp(-((x - mx) ** 2 / (2 * s**2) + (y - my) ** 2 / (2 * s**2))) / (
            2 * np.pi * s**2
        )
        z.sum().backward()
        disp = torch.stack([-x.grad, -y.grad], dim=-1)
        ref = disp / disp.max() * 0.1
        torch.testing.assert_close(mine[k], ref, atol=1e-6, rtol=0)
    # -grad z points away from the centre: to the right of ellipse 1, x displacement > 0
    assert mine[0, 80, 200, 0] > 0 and mine[0, 80, 100, 0] < 0
    assert mine[0, 120, 150, 1] > 0 and mine[0, 40, 150, 1] < 0


def test_disease_contracts_ellipse_one_and_leaves_ellipse_two(split256):
    arrays, ph = split256.arrays, split256.phantoms
    sick = np.flatnonzero(arrays["labels"] == 1)
    for k in sick[:10]:
        rows, cols = np.nonzero(arrays["masks"][k])
        assert len(rows) > 0
        # lesion pixels sit within ~3 sigma of the bump on ellipse 1 (a close ellipse 2 can be
        # dragged in a little, as in the official data)
        d1 = np.hypot(rows - ph.u[k], cols - ph.v[k])
        d2 = np.hypot(rows - ph.u2[k], cols - ph.v2[k])
        assert d1.max() < 80 and (d1 < d2).mean() > 0.8
        # the bright contour moves inward: healthy minus diseased is positive on the outside
        gt = arrays["gt_diff"][k]
        near = np.hypot(
            *np.meshgrid(np.arange(256) - ph.u[k], np.arange(256) - ph.v[k], indexing="ij")
        )
        assert gt[(near > 15) & (near < 45)].sum() > 0


# --------------------------------------------------------------------------------------------
# classes, masks, normalisation
# --------------------------------------------------------------------------------------------


def test_gt_share_per_diseased_image_at_256(split256):
    arrays = split256.arrays
    sick = arrays["labels"] == 1
    share = (np.abs(arrays["gt_diff"][sick]) > gen.MASK_THRESHOLD).mean(axis=(1, 2))
    assert 0.03 <= np.median(share) <= 0.09
    assert ((share >= 0.02) & (share <= 0.10)).mean() >= 0.9


@pytest.mark.parametrize("fixture", ["split256", "split64"])
def test_both_classes_span_exactly_minus_one_to_one(fixture, request):
    arrays = request.getfixturevalue(fixture).arrays
    for key in ("images", "healthy_twin"):
        flat = arrays[key].reshape(len(arrays[key]), -1)
        assert (flat.min(axis=1) == -1).all() and (flat.max(axis=1) == 1).all()
        assert arrays[key].dtype == np.float32


@pytest.mark.parametrize("fixture", ["split256", "split64"])
def test_masks_and_extras(fixture, request):
    arrays = request.getfixturevalue(fixture).arrays
    labels = arrays["labels"]
    healthy, sick = labels == 0, labels == 1
    assert labels.dtype == np.int8 and healthy.sum() == 40 and sick.sum() == 60
    assert not arrays["masks"][healthy].any()
    assert arrays["masks"][sick].any(axis=(1, 2)).all()
    np.testing.assert_array_equal(arrays["masks"], np.abs(arrays["gt_diff"]) > gen.MASK_THRESHOLD)
    assert (arrays["gt_diff"][healthy] == 0).all()
    np.testing.assert_array_equal(arrays["healthy_twin"][healthy], arrays["images"][healthy])
    assert (arrays["healthy_twin"][sick] != arrays["images"][sick]).any(axis=(1, 2, 3)).all()
    # classes are shuffled, not sorted
    assert not (np.diff(labels) >= 0).all()


def test_twin_is_the_undeformed_phantom(split256):
    arrays, ph = split256.arrays, split256.phantoms
    k = int(np.flatnonzero(arrays["labels"] == 1)[0])
    one = ph.take(slice(k, k + 1))
    healthy = gen.render_healthy(one)
    np.testing.assert_array_equal(arrays["healthy_twin"][k], gen.normalise(healthy)[0].numpy())
    diseased = gen.deform(healthy, one.u, one.v)
    np.testing.assert_array_equal(arrays["images"][k], gen.normalise(diseased)[0].numpy())
    np.testing.assert_allclose(arrays["gt_diff"][k], (healthy - diseased)[0, 0].numpy())


def test_downsampling_is_the_area_mean_of_the_256_images(split256, split64):
    a, b = split256.arrays, split64.arrays
    np.testing.assert_array_equal(a["labels"], b["labels"])
    pooled = F.avg_pool2d(torch.from_numpy(np.asarray(a["gt_diff"]))[:, None], 4)[:, 0]
    np.testing.assert_allclose(b["gt_diff"], pooled.numpy(), atol=1e-6)
    pooled = F.avg_pool2d(torch.from_numpy(np.asarray(a["images"])), 4)
    np.testing.assert_allclose(b["images"], gen.normalise(pooled).numpy(), atol=1e-5)
    assert b["images"].shape == (100, 1, 64, 64) and b["masks"].shape == (100, 64, 64)


@pytest.mark.parametrize("size", [32, 128])
def test_image_size_shapes(size):
    arrays = gen.generate_split(2, 2, seed=0, image_size=size).arrays
    assert arrays["images"].shape == (4, 1, size, size)
    assert arrays["healthy_twin"].shape == (4, 1, size, size)
    assert arrays["masks"].shape == arrays["gt_diff"].shape == (4, size, size)


def test_image_size_must_divide_256():
    with pytest.raises(ValueError, match="divide 256"):
        gen.generate_split(1, 1, seed=0, image_size=48)
    with pytest.raises(ConfigError):
        SyntheticDataset(image_size=48)


def test_same_seed_same_arrays_other_seed_other_arrays():
    a = gen.generate_split(3, 3, seed=1, image_size=32).arrays
    b = gen.generate_split(3, 3, seed=1, image_size=32).arrays
    c = gen.generate_split(3, 3, seed=2, image_size=32).arrays
    for key in gen.ARRAY_KEYS:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["images"], c["images"])


def test_aligned_grid_removes_the_border_cue():
    official = gen.generate_split(0, 4, seed=4, image_size=256)
    aligned = gen.generate_split(0, 4, seed=4, image_size=256, align_corners=True)
    ph = official.phantoms
    healthy = gen.render_healthy(ph)[:, 0]
    raw_official = healthy - torch.from_numpy(np.asarray(official.arrays["gt_diff"]))
    raw_aligned = healthy - torch.from_numpy(np.asarray(aligned.arrays["gt_diff"]))
    for k in range(4):
        # the corner farthest from the bump, where the displacement vanishes
        r = 0 if ph.u[k] > 127 else 255
        c = 0 if ph.v[k] > 127 else 255
        # official grid: the corner samples a quarter of the image and three quarters zeros
        assert abs(raw_official[k, r, c] - healthy[k, r, c] / 4) < 1e-5
        # aligned grid: far from the bump the image is unchanged
        assert abs(raw_aligned[k, r, c] - healthy[k, r, c]) < 1e-5


# --------------------------------------------------------------------------------------------
# the dataset plugin
# --------------------------------------------------------------------------------------------


def test_registered_as_an_entry_point():
    eps = metadata.entry_points(group="anobench.datasets")
    (ep,) = [e for e in eps if e.name == "synthetic"]
    assert ep.load() is SyntheticDataset
    assert SyntheticDataset.name == "synthetic"
    assert SyntheticDataset.primary_metric == "pixel_ap" and SyntheticDataset.has_masks


def test_profiles():
    quick = SyntheticDataset.resolve("quick", {})
    paper = SyntheticDataset.resolve("paper", {})
    assert quick["image_size"] == 64 and (quick["n_train"], quick["n_val"], quick["n_test"]) == (
        300,
        50,
        100,
    )
    assert paper["image_size"] == 256
    assert paper["n_train"] + paper["n_val"] + paper["n_test"] == 2000
    assert paper["align_corners"] is True and paper["data_seed"] == 0


def test_load_splits(tmp_path):
    ds = small(n_train=20)
    ctx = make_ctx(tmp_path)
    fp = ds.fingerprint()
    for split, n in (("train", 20), ("val", 2), ("test", 4)):
        s = ds.load(split, ctx)
        assert isinstance(s, anobench.Split) and len(s) == 2 * n
        assert s.images.shape == (2 * n, 1, 32, 32) and s.images.dtype == np.float32
        assert s.masks.shape == (2 * n, 32, 32) and s.masks.dtype == np.bool_
        assert s.labels.dtype == np.int8 and s.counts() == {"healthy": n, "diseased": n}
        assert s.meta["counts"] == {"healthy": n, "diseased": n}
        assert s.extras["healthy_twin"].shape == (2 * n, 1, 32, 32)
        assert s.extras["gt_diff"].shape == (2 * n, 32, 32)
        assert s.extras["gt_diff"].dtype == np.float32
        assert float(np.min(s.images)) == -1 and float(np.max(s.images)) == 1
        assert len(set(s.ids)) == len(s)
        assert all(re.fullmatch(rf"synthetic-{fp[:8]}-{split}-\d{{5}}", i) for i in s.ids)
        assert s.ids[12 % len(s)].endswith(f"-{split}-{12 % len(s):05d}")
    train = ds.load("train", ctx)
    assert not (np.diff(train.labels) >= 0).all()  # shuffled, not sorted by class
    with pytest.raises(DataError):
        ds.load("validate", ctx)


def test_splits_are_disjoint(tmp_path):
    ds = small()
    ctx = make_ctx(tmp_path)
    seen = {}
    for split in ("train", "val", "test"):
        s = ds.load(split, ctx)
        for k in range(len(s)):
            key = np.asarray(s.extras["healthy_twin"][k]).tobytes()
            assert key not in seen, f"{split} image {k} also in {seen.get(key)}"
            seen[key] = split
        params = np.load(Path(s.meta["cache"]) / "phantoms.npz")
        for k in range(len(s)):
            assert (params["u"][k], params["v"][k], params["a1"][k]) not in seen
            seen[(params["u"][k], params["v"][k], params["a1"][k])] = split


def test_second_load_reads_the_cache(tmp_path, monkeypatch):
    ctx = make_ctx(tmp_path)
    first = small().load("test", ctx)
    assert first.meta["source"] == "generated"

    def boom(*args, **kwargs):
        raise AssertionError("generated again")

    monkeypatch.setattr(gen, "generate_split", boom)
    again = small().load("test", ctx)  # a new instance with the same options
    assert again.meta["source"] == "cache"
    assert isinstance(again.images, np.memmap)
    np.testing.assert_array_equal(again.images, first.images)
    np.testing.assert_array_equal(again.masks, first.masks)
    assert again.ids == first.ids
    cache = Path(again.meta["cache"])
    assert cache.parent.name == small().fingerprint()
    assert cache.parent.parent == tmp_path / "cache" / "synthetic"
    with pytest.raises(AssertionError, match="generated again"):
        small(data_seed=1).load("test", ctx)


def test_fingerprint_tracks_the_options():
    base = small().fingerprint()
    assert re.fullmatch(r"[0-9a-f]{64}", base)
    assert small().fingerprint() == base
    for change in (
        {"image_size": 64},
        {"n_test": 5},
        {"n_train": 7},
        {"data_seed": 1},
        {"align_corners": False},
    ):
        assert small(**change).fingerprint() != base, change


def test_changing_n_test_keeps_the_train_images(tmp_path):
    ctx = make_ctx(tmp_path)
    a = small(n_test=4).load("train", ctx)
    b = small(n_test=9).load("train", ctx)
    np.testing.assert_array_equal(a.images, b.images)
    c = small(data_seed=3).load("train", ctx)
    assert not np.array_equal(a.images, c.images)


def test_a_lost_race_keeps_the_winners_cache(tmp_path):
    ds = small()
    ctx = make_ctx(tmp_path)
    first = ds.load("val", ctx)
    final = Path(first.meta["cache"])
    assert ds._materialise("val", final, ctx) is False  # a process finishing second
    assert sorted(p.name for p in final.parent.iterdir()) == ["val"]
    np.testing.assert_array_equal(ds.load("val", ctx).images, first.images)


def test_incomplete_cache_is_reported(tmp_path):
    ds = small()
    ctx = make_ctx(tmp_path)
    (ds.cache_dir(ctx) / "test").mkdir(parents=True)
    with pytest.raises(DataError, match="incomplete"):
        ds.load("test", ctx)


def test_progress_is_reported(tmp_path):
    events = []

    class Recorder(anobench.Reporter):
        def _start(self, task, description):
            events.append(("start", description, task.total))

        def _advance(self, task, amount, fields):
            events.append(("advance", amount))

    ctx = anobench.RunContext(workdir=tmp_path, cache_dir=tmp_path / "c", progress=Recorder())
    small().load("test", ctx)
    assert events[0][0] == "start" and "synthetic" in events[0][1] and events[0][2] == 8
    assert sum(e[1] for e in events if e[0] == "advance") == 8
