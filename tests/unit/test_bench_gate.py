from __future__ import annotations

from collections import deque

from anobench.api.records import RunSpec
from anobench.run.bench import Item, _DataGate


def item(dataset_n: int, seed: int) -> Item:
    return Item(RunSpec("toy", "brightness", {"n": dataset_n}, {}, seed=seed))


def test_one_run_per_dataset_configuration_caches_its_data_first():
    todo = deque([item(4, 0), item(4, 1), item(6, 0), item(4, 2)])
    gate = _DataGate()
    first = gate.take(todo)
    first.run_id = "a"
    gate.started(first)
    # the other n=4 runs wait; a run of another configuration may start meanwhile
    other = gate.take(todo)
    assert (other.spec.dataset_options["n"], other.spec.seed) == (6, 0)
    other.run_id = "b"
    gate.started(other)
    assert gate.take(todo) is None
    gate.release("a")  # its data are loaded (or it ended)
    assert [gate.take(todo).spec.seed for _ in range(2)] == [1, 2]
    assert not todo
