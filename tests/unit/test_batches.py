from __future__ import annotations

import numpy as np
import torch

from anobench.api.batches import EpochSampler


def test_every_batch_is_full_and_each_pass_covers_every_item_once():
    sampler = EpochSampler(10, 4, torch.Generator().manual_seed(0))
    drawn = np.concatenate([sampler.next() for _ in range(5)])  # 20 indices = 2 passes
    assert all(len(b) == 4 for b in np.split(drawn, 5))
    assert sorted(drawn[:10]) == list(range(10)) and sorted(drawn[10:]) == list(range(10))


def test_batch_larger_than_the_data_is_capped():
    sampler = EpochSampler(3, 8, torch.Generator().manual_seed(0))
    assert sorted(sampler.next()) == [0, 1, 2]


def test_state_round_trip_draws_the_same_batches():
    gen = torch.Generator().manual_seed(1)
    straight = EpochSampler(7, 3, gen)
    expected = [straight.next() for _ in range(6)]
    gen = torch.Generator().manual_seed(1)
    first = EpochSampler(7, 3, gen)
    got = [first.next() for _ in range(2)]
    state, rng = first.state_dict(), gen.get_state()
    gen2 = torch.Generator()
    gen2.set_state(rng)
    resumed = EpochSampler(7, 3, gen2)
    resumed.load_state_dict(state)
    got += [resumed.next() for _ in range(4)]
    assert all(np.array_equal(a, b) for a, b in zip(expected, got, strict=True))
