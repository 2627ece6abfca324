"""How runs are placed on and set up for CUDA devices, checked without a GPU: ``torch.cuda``'s
queries are replaced by a stand-in card, Ray's task options are checked by Ray itself."""

from __future__ import annotations

import warnings
from concurrent.futures import Future
from dataclasses import replace

import pytest
import torch

from anobench import ConfigError, MetricResult, Precision
from anobench.api import hardware
from anobench.api.jobs import Job, Outcome
from anobench.api.records import RunSpec
from anobench.metrics.builtin import PixelAP
from anobench.results import tabulate
from anobench.results.store import Store
from anobench.run import gpu
from anobench.run.devices import resolve_device
from anobench.run.executors import local
from anobench.run.executors.local import LocalExecutor
from anobench.run.executors.ray import RayExecutor
from anobench.run.runner import Runner, build_spec

BUILT = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]


@pytest.fixture
def card(monkeypatch):
    """Stand-in CUDA devices: ``card(capability, count)``; returns the ``set_device`` calls."""
    calls: list = []

    def use(capability=(8, 0), count=1, built=BUILT):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
        monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Test Card")
        monkeypatch.setattr(torch.cuda, "get_arch_list", lambda: list(built))
        monkeypatch.setattr(torch.cuda, "set_device", lambda device: calls.append(device))
        monkeypatch.setattr(gpu, "driver_version", lambda: "580.65.06")
        return calls

    return use


@pytest.fixture
def tf32_switches():
    before = gpu.tf32_enabled()
    yield
    gpu.set_tf32(before["cudnn"])


def job(device="cuda", run_id="r1"):
    spec = RunSpec("toy", "brightness", {}, {}, device=device)
    return Job(run_id, spec, "/nowhere")


# -- F2d: the card against the build's architectures ----------------------------------------------


@pytest.mark.parametrize(
    ("capability", "built", "ok"),
    [
        ((8, 6), BUILT, True),
        ((8, 9), ["sm_80", "sm_86"], True),  # sm_86 binaries run on 8.9
        ((6, 1), BUILT, False),  # a Pascal card: the wheel starts at sm_75
        ((9, 0), ["sm_80", "compute_80"], True),  # PTX compiles for newer cards
        ((7, 0), ["sm_75", "compute_75"], False),
        ((12, 0), ["sm_90a", "sm_100a"], False),
    ],
)
def test_card_against_build(capability, built, ok):
    assert gpu.supported(capability, built) is ok


def test_an_unsupported_card_is_one_clear_line(card):
    card((6, 1))
    with pytest.raises(ConfigError) as err:
        resolve_device("cuda")
    text = str(err.value)
    assert "\n" not in text
    assert "compute capability 6.1, sm_61" in text and "sm_75" in text and "--device cpu" in text
    # auto means the fastest device that works: the CPU
    assert resolve_device("auto") == torch.device("cpu")


def test_a_supported_card_resolves(card):
    card((9, 0))
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("auto") == torch.device("cuda")


# -- F3a, F3c, F4f: TF32, determinism, cuda:N; what is recorded --------------------------------


def test_tf32_is_its_own_precision_only_where_tensor_cores_do_it(card):
    card((8, 6))
    assert hardware.resolve_precision("tf32", "cuda") == "tf32"
    assert hardware.resolve_precision("tf32", "cpu") == "fp32"
    card((7, 5))
    assert hardware.resolve_precision("tf32", "cuda") == "fp32"
    tf32 = Precision("tf32", True, "cuda")
    assert tf32.dtype == torch.float32 and tf32.grad_scaler() is None


def test_a_run_turns_tf32_off_so_fp32_means_fp32(testplugins, tmp_path, tf32_switches):
    gpu.set_tf32(True)  # torch's own default for cuDNN convolutions
    spec = build_spec(dataset="toy", method="brightness", device="cpu")
    record = Runner(tmp_path).run(spec)
    assert gpu.tf32_enabled() == {"matmul": False, "cudnn": False}
    assert record.provenance["deterministic"] == "warn"


def test_configure_on_cuda_records_the_card_and_selects_it(card, tf32_switches):
    selected = card((8, 0), count=2)
    facts = gpu.configure(torch.device("cuda", 1), "tf32")
    assert selected == [torch.device("cuda", 1)]
    assert gpu.tf32_enabled() == {"matmul": True, "cudnn": True}
    cuda = facts["cuda"]
    assert cuda["name"] == "Test Card" and cuda["capability"] == "8.0"
    assert cuda["driver"] == "580.65.06" and cuda["cuda"] == torch.version.cuda
    assert cuda["tf32"] == {"matmul": True, "cudnn": True}
    assert cuda["deterministic"] == facts["deterministic"] == "warn"
    assert "cudnn" in cuda and cuda["cudnn_benchmark"] is False
    gpu.configure(torch.device("cuda", 1), "fp32")
    assert gpu.tf32_enabled() == {"matmul": False, "cudnn": False}


def test_deterministic_mode_from_the_environment(monkeypatch):
    from anobench.api.seeding import seed_everything

    try:
        monkeypatch.setenv("ANOBENCH_DETERMINISTIC", "strict")
        seed_everything(0)
        assert torch.are_deterministic_algorithms_enabled()
        assert not torch.is_deterministic_algorithms_warn_only_enabled()
        monkeypatch.setenv("ANOBENCH_DETERMINISTIC", "off")
        seed_everything(0)
        assert not torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.benchmark
        monkeypatch.setenv("ANOBENCH_DETERMINISTIC", "sometimes")
        with pytest.raises(ConfigError, match="ANOBENCH_DETERMINISTIC='sometimes'"):
            seed_everything(0)
    finally:
        monkeypatch.delenv("ANOBENCH_DETERMINISTIC")
        seed_everything(0)
    assert torch.is_deterministic_algorithms_warn_only_enabled()


def test_nondeterministic_ops_are_recorded_once_each():
    provenance: dict = {}
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("default")
        with gpu.nondeterministic_ops(provenance):
            for _ in range(3):
                warnings.warn(
                    "upsample_bilinear2d_backward_out_cuda does not have a deterministic"
                    " implementation, but you set 'torch.use_deterministic_algorithms(True,"
                    " warn_only=True)'.",
                    UserWarning,
                    stacklevel=1,
                )
            warnings.warn("something else", UserWarning, stacklevel=1)
    assert provenance["nondeterministic_ops"] == ["upsample_bilinear2d_backward_out_cuda"]
    assert len(shown) == 2  # the op once, the other warning untouched


def _store_run(store, run_id, provenance):
    spec = RunSpec("toy", "brightness", {"n": 6}, {"steps": 2})
    store.start_run(run_id, spec, provenance, "pixel_ap")
    result = MetricResult(0.5, per_image={"a": 0.5})
    store.finish_run(run_id, {"pixel_ap": (PixelAP, result)}, provenance)


def test_tf32_runs_never_share_a_row_with_fp32_runs(tmp_path):
    with Store(tmp_path / "store.sqlite") as store:
        _store_run(store, "cpu", {"resolved": {"precision": "fp32"}})
        tf32 = {"matmul": False, "cudnn": True}
        _store_run(store, "gpu", {"resolved": {"precision": "fp32"}, "cuda": {"tf32": tf32}})
        board = tabulate.build(store, resamples=0)
    rows = board.tables[0].rows
    assert sorted(row.run_ids for row in rows) == [("cpu",), ("gpu",)]
    assert {row.precision for row in rows} == {"fp32", "tf32"}
    assert len({row.label for row in rows}) == 2


# -- F2b, F4c: Ray ------------------------------------------------------------------------------


class _Task:
    """A Ray remote function that records what each submitted run asked for."""

    def __init__(self, real, seen: list) -> None:
        self.real, self.seen = real, seen

    def options(self, **options):
        self.real.options(**options)  # Ray refuses an option it does not take here
        self.seen.append({**self.real._default_options, **options})
        return self

    def remote(self, *args):
        return object()


def test_ray_gives_every_gpu_run_a_fresh_worker_process():
    import ray

    from anobench.run.executors.ray import remote_tasks

    executor = object.__new__(RayExecutor)  # no cluster: the tasks are only submitted
    executor.gpus, executor.threads, executor._queue, executor._marker = 1, 4, None, "m"
    seen: list[dict] = []
    executor._refs = {}
    executor._tasks = {gpu: _Task(task, seen) for gpu, task in remote_tasks(ray).items()}
    executor.submit(job("cuda", "a"))
    executor.submit(job("cpu", "b"))
    numpy_only = job("cuda", "c")
    executor.submit(Job("c", replace(numpy_only.spec, method="meandiff"), "/nowhere"))
    gpu_run, cpu_run, meandiff_run = seen
    assert gpu_run["num_gpus"] == 1 and gpu_run.get("max_calls") == 1
    assert cpu_run["num_gpus"] == 0 and not cpu_run.get("max_calls")  # CPU workers reused
    # a numpy-only method reserves no GPU, and its run says it computed on the CPU
    assert meandiff_run["num_gpus"] == 0
    assert [j.device for j in executor._refs.values()] == ["cuda", "cpu", "cpu"]


# -- F2c: the local executor --------------------------------------------------------------------


class _Pool:
    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self.shut = False

    def submit(self, fn, job):
        self.jobs.append(job)
        future: Future = Future()
        future.set_result(Outcome(job.run_id, "finished", {"device": f"{job.device} (Test)"}))
        return future

    def shutdown(self, wait=True, cancel_futures=False):
        self.shut = True


def test_local_slots_spread_over_the_gpus_and_start_fresh_after_a_gpu_run(card, monkeypatch):
    card((8, 0), count=2)
    executor = LocalExecutor(jobs=2, threads=1)
    pools = [_Pool(), _Pool()]
    executor._pools = list(pools)
    try:
        executor.submit(job("cuda", "a"))
        executor.submit(job("auto", "b"))
        assert [p.jobs[0].device for p in pools] == ["cuda:0", "cuda:1"]
        assert {j.run_id for j, _ in executor.wait(1.0)} == {"a", "b"}
        # the next run of each slot gets a new process: none keeps a CUDA context
        assert all(p.shut for p in pools) and executor._pools == [None, None]
    finally:
        executor._pools = [None, None]
        executor.close()


def test_local_keeps_explicit_devices_and_cpu_runs():
    assert local.slot_device(job("cpu"), 1).device is None
    assert local.slot_device(job("cuda:1"), 0).device is None


def test_doctor_says_when_the_build_has_no_kernels_for_a_card(card, monkeypatch):
    from types import SimpleNamespace

    from anobench.run import doctor

    card((6, 1))
    props = SimpleNamespace(name="Old Card", major=6, minor=1, total_memory=8 * 2**30)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: props)
    monkeypatch.setattr(hardware, "cuda_bf16", lambda device: False)
    (_, old) = doctor._devices()
    assert old["in_torch_build"] is False
