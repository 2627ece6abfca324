"""dae, ddpm_guided and anoddpm beyond the shared contract: the pieces written here (simplex
noise, DDIM partial encoding / decoding around MONAI's schedulers, classifier guidance, the
ancestral step with supplied noise, the DAE's coarse noise and map) against independent
computations, and exact resume, save / load / predict."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch

pytest.importorskip("monai")

from anobench_dae import DAE
from anobench_dae.method import coarse_noise
from anobench_diffusion import AnoDDPM, DDPMGuided
from anobench_diffusion.noise import simplex2d, simplex_field
from anobench_diffusion.sampling import (
    ancestral_step,
    ddim_decode,
    ddim_encode,
    log_prob_gradient,
)
from monai.networks.schedulers import DDIMScheduler, DDPMScheduler

from anobench.testing import make_context, toy_split

T = 100


def _alpha_bar(total: int) -> list[float]:
    """DDPM's linear schedule (1e-4 .. 0.02) and its cumulative product, as a literal loop."""
    out, prod = [], 1.0
    for i in range(total):
        beta = 1e-4 + (0.02 - 1e-4) * i / (total - 1)
        prod *= 1.0 - beta
        out.append(prod)
    return out


def _eps(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A fixed nonlinear stand-in for the noise model."""
    return torch.tanh(0.7 * x) + 0.01 * t.view(-1, 1, 1, 1).to(x)


# -- simplex noise -------------------------------------------------------------------------------


def test_simplex_noise_vanishes_on_the_lattice_and_is_bounded():
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(256, generator=g)
    angles = torch.rand(256, generator=g, dtype=torch.float64) * 2 * math.pi
    grads = torch.stack([angles.cos(), angles.sin()], 1)
    # the lattice vertices, unskewed: (i, j) - (i + j) * G2
    g2 = (3 - math.sqrt(3)) / 6
    i, j = torch.meshgrid(torch.arange(-5.0, 6), torch.arange(-5.0, 6), indexing="ij")
    i, j = i.double(), j.double()
    at_vertices = simplex2d(i - (i + j) * g2, j - (i + j) * g2, perm, grads)
    assert at_vertices.abs().max() < 1e-12
    pts = torch.rand(2, 20000, generator=g, dtype=torch.float64) * 50
    values = simplex2d(pts[0], pts[1], perm, grads)
    assert values.abs().max() <= 1.0 and values.std() > 0.1


def test_simplex_fields_are_smooth_seeded_and_standardised():
    def field(seed, period=16.0):
        return simplex_field(64, 64, torch.Generator().manual_seed(seed), period=period)

    a = field(1)
    assert torch.equal(a, field(1)) and not torch.allclose(a, field(2))
    assert abs(a.mean().item()) < 1e-9 and abs(a.std().item() - 1) < 1e-9

    def lag1(f):  # correlation of horizontal neighbours
        return float((f[:, 1:] * f[:, :-1]).mean() / (f * f).mean())

    white = torch.randn(64, 64, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert abs(lag1(white)) < 0.1
    # AnoDDPM's point: structured, low-frequency noise (a longer period is smoother)
    assert lag1(field(1, 32.0)) > lag1(field(1, 8.0)) > 0.3


# -- DDIM around MONAI's scheduler -----------------------------------------------------------------


def _ddim() -> DDIMScheduler:
    return DDIMScheduler(num_train_timesteps=T, clip_sample=False)


def test_ddim_decoding_with_guidance_equals_song_et_al_as_a_loop():
    ab = _alpha_bar(T)
    level, steps = 60, 6
    xt = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))

    def grad(x, t):
        return 0.5 * torch.sin(x) * (1 + t.view(-1, 1, 1, 1).to(x) / T)

    got = ddim_decode(_eps, _ddim(), xt, level, steps, guide=grad)
    x, k = xt.double(), level // steps
    for t in range(level, 0, -k):
        ts = torch.full((3,), t)
        e = _eps(x, ts) - math.sqrt(1 - ab[t]) * grad(x, ts)  # guided estimate
        x0 = (x - math.sqrt(1 - ab[t]) * e) / math.sqrt(ab[t])  # Song et al. eq. 12
        x = math.sqrt(ab[t - k]) * x0 + math.sqrt(1 - ab[t - k]) * e
    torch.testing.assert_close(got, x.float(), atol=2e-4, rtol=1e-4)


def test_ddim_encoding_equals_the_reversed_update_as_a_loop():
    ab = _alpha_bar(T)
    level, steps = 50, 5
    x0 = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1
    got = ddim_encode(_eps, _ddim(), x0, level, steps)
    x, k = x0.double(), level // steps
    for t in range(0, level, k):
        e = _eps(x, torch.full((2,), t))
        pred = (x - math.sqrt(1 - ab[t]) * e) / math.sqrt(ab[t])
        x = math.sqrt(ab[t + k]) * pred + math.sqrt(1 - ab[t + k]) * e
    torch.testing.assert_close(got, x.float(), atol=2e-4, rtol=1e-4)


def test_ddim_encoding_then_decoding_returns_the_image_for_a_fixed_eps():
    # with one noise estimate everywhere, each DDIM step is exactly undone by its inverse
    fixed = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(5))

    def eps(x, t):
        return fixed

    x0 = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(2)) * 2 - 1
    xl = ddim_encode(eps, _ddim(), x0, 40, 8)
    torch.testing.assert_close(ddim_decode(eps, _ddim(), xl, 40, 8), x0, atol=1e-4, rtol=0)


def test_a_stride_that_does_not_divide_the_schedule_is_refused():
    with pytest.raises(ValueError, match="multiple of the steps"):
        ddim_encode(_eps, _ddim(), torch.zeros(1, 1, 4, 4), 50, 7)
    with pytest.raises(ValueError, match="does not divide"):
        ddim_encode(_eps, _ddim(), torch.zeros(1, 1, 4, 4), 30, 1)


# -- guidance --------------------------------------------------------------------------------------


def test_guidance_gradient_equals_finite_differences():
    from anobench_diffusion.networks import classifier

    torch.manual_seed(0)
    clf = classifier(8, 1, (4, 4), 1, (), 4).double().eval()
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    t = torch.tensor([3, 40])
    got = log_prob_gradient(clf, x, t, target=0, scale=7.0)

    def logp(z):
        with torch.no_grad():
            return torch.log_softmax(clf(z, t), dim=1)[:, 0]

    h = 1e-6
    for n, r, c in [(0, 0, 0), (0, 3, 5), (1, 7, 2), (1, 4, 4)]:
        up, down = x.clone(), x.clone()
        up[n, 0, r, c] += h
        down[n, 0, r, c] -= h
        numeric = 7.0 * (logp(up)[n] - logp(down)[n]) / (2 * h)
        assert abs(got[n, 0, r, c].item() - numeric.item()) < 1e-6 * max(1.0, abs(numeric.item()))


# -- the ancestral step with supplied noise -------------------------------------------------------


def test_ancestral_step_is_the_ddpm_posterior_with_the_given_noise():
    ab = _alpha_bar(T)
    sched = DDPMScheduler(num_train_timesteps=T)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 1, 8, 8, generator=g)
    e = torch.randn(2, 1, 8, 8, generator=g)
    noise = torch.randn(2, 1, 8, 8, generator=g)
    for t in (1, 37, T - 1):
        beta = 1 - ab[t] / ab[t - 1]
        x0 = ((x.double() - math.sqrt(1 - ab[t]) * e) / math.sqrt(ab[t])).clamp(-1, 1)
        mean = (
            math.sqrt(ab[t - 1]) * beta / (1 - ab[t]) * x0
            + math.sqrt(1 - beta) * (1 - ab[t - 1]) / (1 - ab[t]) * x
        )
        sigma = math.sqrt(beta * (1 - ab[t - 1]) / (1 - ab[t]))
        got = ancestral_step(sched, e, t, x, noise)
        torch.testing.assert_close(got, (mean + sigma * noise).float(), atol=1e-4, rtol=1e-4)


# -- the DAE's pieces ------------------------------------------------------------------------------


def test_coarse_noise_is_the_grid_upsampled_and_rolled():
    g = torch.Generator().manual_seed(0)
    state = g.get_state()
    noise = coarse_noise((2, 1, 32, 32), 4, 0.2, g)
    g.set_state(state)
    grid = torch.randn(2, 1, 4, 4, generator=g) * 0.2
    dy, dx = (int(v) for v in torch.randint(0, 32, (2,), generator=g))
    unrolled = torch.roll(noise, shifts=(-dy, -dx), dims=(-2, -1))
    # corners aligned: the grid's corner nodes sit on the image's corner pixels
    torch.testing.assert_close(
        unrolled[:, :, [0, 31]][:, :, :, [0, 31]], grid[:, :, [0, 3]][:, :, :, [0, 3]]
    )
    # between nodes the noise is linear: second differences vanish inside a cell
    row = unrolled[0, 0, 0, :11]
    assert (row[2:] - 2 * row[1:-1] + row[:-2]).abs().max() < 1e-6


def test_the_dae_map_is_the_median_filtered_absolute_error():
    from scipy.ndimage import median_filter

    method = DAE(**DAE.resolve("quick", {"foreground": False}))
    g = torch.Generator().manual_seed(0)
    x, recon = torch.rand(2, 3, 16, 16, generator=g), torch.rand(2, 3, 16, 16, generator=g)
    got = method.anomaly_map(x, recon).numpy()
    err = (x - recon).abs().mean(dim=1).numpy()
    want = np.stack([median_filter(e, size=5, mode="nearest") for e in err])
    np.testing.assert_allclose(got, want, rtol=1e-6)


# -- resume, save / load / predict ----------------------------------------------------------------

TRAIN = toy_split(8, 8, size=32, seed=1, name="train")
VAL = toy_split(2, 2, size=32, seed=2, name="val")
TEST = toy_split(3, 3, size=32, seed=3, name="test")
CASES = {
    "dae": (DAE, {"epochs": 2.0}),  # 4 steps
    "ddpm_guided": (DDPMGuided, {"steps": 2, "classifier_steps": 2}),  # 2 + 2 steps
    "anoddpm": (AnoDDPM, {"steps": 4}),
}


def _fit(cls, options, workdir, max_steps=None):
    method = cls(**cls.resolve("quick", {**cls.test_options, **options}))
    train = TRAIN if cls.supervision == "weak" else TRAIN.subset(TRAIN.labels == 0)
    return method.fit(train, VAL, make_context(workdir, seed=0, max_steps=max_steps))


def _flat(state):
    return {
        f"{k}.{n}": v
        for k, part in state.items()
        if isinstance(part, dict)
        for n, v in part.items()
    }


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", list(CASES))
def test_a_resumed_fit_ends_with_the_uninterrupted_weights(name, tmp_path, one_thread):
    cls, options = CASES[name]
    whole = _fit(cls, options, tmp_path / "whole")
    _fit(cls, options, tmp_path / "parts", max_steps=3)
    resumed = _fit(cls, options, tmp_path / "parts")
    a, b = _flat(whole.state_dict()), _flat(resumed.state_dict())
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    stopped = _flat(_fit(cls, options, tmp_path / "stopped", max_steps=3).state_dict())
    assert any(not torch.equal(a[k], stopped[k]) for k in a)  # the last step changed weights


@pytest.mark.parametrize("name", list(CASES))
def test_saved_weights_load_and_predict_new_images_alike(name, tmp_path):
    cls, options = CASES[name]
    model = _fit(cls, options, tmp_path)
    ctx = make_context(tmp_path)
    with torch.inference_mode():
        pred = model.predict(TEST.images, ctx)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    restored = cls(**cls.resolve("quick", {**cls.test_options, **options}))
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    with torch.inference_mode():
        back = restored.predict(TEST.images, ctx)
    np.testing.assert_allclose(back.maps, pred.maps, atol=1e-5)
    np.testing.assert_allclose(back.scores, pred.scores, atol=1e-5)
    assert pred.maps.shape == (6, 32, 32) and np.isfinite(pred.maps).all()
