"""precision=auto, channels-last and thread choice, with the hardware queries mocked."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from anobench.api import hardware, threads
from anobench.api.hardware import CpuFeatures, Precision
from anobench.api.options import channels_last_option, option_set, precision_option

AMX = CpuFeatures("Xeon", True, True, True, True, "AVX512", None)
AVX512_BF16 = replace(AMX, amx_bf16=False)
AVX2_ONLY = CpuFeatures("EPYC", True, False, False, False, "AVX2", None)


@pytest.fixture
def cpu(monkeypatch):
    def use(features: CpuFeatures) -> None:
        monkeypatch.setattr(hardware, "cpu_features", lambda: features)

    return use


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        (AMX, "bf16"),
        (AVX512_BF16, "bf16"),
        (AVX2_ONLY, "fp32"),
        # AVX-512 without its bf16 extension emulates bf16: never chosen
        (replace(AVX2_ONLY, avx512=True, aten_capability="AVX512"), "fp32"),
        # the hardware has AMX but the user capped the kernels to AVX2 (how the AVX2 machine is
        # approximated on a Xeon): bf16 would be emulated, so fp32
        (replace(AMX, aten_capability="AVX2"), "fp32"),
        (replace(AMX, onednn_cap="AVX2"), "fp32"),
        (replace(AMX, onednn_cap="AVX512_CORE_AMX"), "bf16"),
    ],
)
def test_auto_on_cpu_is_bf16_only_with_native_bf16(cpu, features, expected):
    cpu(features)
    assert hardware.resolve_precision("auto", "cpu") == expected
    p = Precision.resolve("auto", "auto", "cpu")
    assert p.name == expected
    # channels-last pays on CPUs in both precisions (measured on DeScarGAN's step)
    assert p.channels_last is True


def test_explicit_precision_passes_through(cpu):
    cpu(AVX2_ONLY)
    assert hardware.resolve_precision("bf16", "cpu") == "bf16"
    assert hardware.resolve_precision("fp32", "cpu") == "fp32"
    assert hardware.resolve_channels_last("on", "fp32", "cpu") is True
    assert hardware.resolve_channels_last("off", "bf16", "cpu") is False
    with pytest.raises(ValueError, match="precision must be one of"):
        hardware.resolve_precision("fp8", "cpu")


@pytest.mark.parametrize(
    ("capability", "expected"), [((7, 5), "fp16"), ((8, 0), "bf16"), ((9, 0), "bf16")]
)
def test_auto_on_cuda_by_capability(monkeypatch, capability, expected):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert hardware.resolve_precision("auto", "cuda") == expected
    p = Precision.resolve("auto", "auto", "cuda")
    assert p.channels_last is True
    # fp16 needs gradient scaling, bf16 does not
    assert (p.grad_scaler() is not None) is (expected == "fp16")


def test_precision_autocast_dtype_and_fp32_is_a_no_op():
    x = torch.randn(4, 4)
    with Precision("fp32", False, "cpu").autocast():
        assert (x @ x).dtype == torch.float32
    with Precision("bf16", False, "cpu").autocast():
        assert (x @ x).dtype == torch.bfloat16


def test_resolve_options_replaces_auto_and_reports_it(cpu):
    options = option_set(precision_option(), channels_last_option(), precision_option("p2"))
    cpu(AVX2_ONLY)
    values, resolved = hardware.resolve_options(
        options, {"precision": "auto", "channels_last": "auto", "p2": "bf16"}, "cpu"
    )
    assert values == {"precision": "fp32", "channels_last": "on", "p2": "bf16"}
    assert resolved == values
    values, _ = hardware.resolve_options(
        options, {"precision": "fp32", "channels_last": "auto", "p2": "fp32"}, "cuda"
    )
    assert values["channels_last"] == "off"  # CUDA fp32: no tensor cores to feed
    cpu(AMX)
    values, _ = hardware.resolve_options(
        options, {"precision": "auto", "channels_last": "auto", "p2": "auto"}, "cpu"
    )
    assert values == {"precision": "bf16", "channels_last": "on", "p2": "bf16"}


def test_channels_last_option_accepts_old_booleans():
    opt = channels_last_option()
    assert opt.check(True, "m") == "on"
    assert opt.check("false", "m") == "off"
    assert opt.check("auto", "m") == "auto"


def test_available_cores_follows_a_restricted_affinity():
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no CPU affinity on this OS")
    one = min(os.sched_getaffinity(0))
    code = (
        f"import os; os.sched_setaffinity(0, {{{one}}});"
        "from anobench.api import threads; print(threads.available_cores(),"
        " threads.choose_threads(busy=0.0))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "1"]


def test_available_cores_is_capped_by_a_cgroup_quota(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(threads, "_cgroup_quota", lambda: 1.5)
    assert threads.available_cores() == 2
    monkeypatch.setattr(threads, "_cgroup_quota", lambda: None)
    assert threads.available_cores() == 4


def test_threads_leave_busy_cores_alone(monkeypatch):
    monkeypatch.delenv("ANOBENCH_THREADS", raising=False)
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    assert threads.choose_threads(busy=0.0) == 2
    assert threads.choose_threads(busy=0.2) == 2
    assert threads.choose_threads(busy=1.0) == 1
    assert threads.choose_threads(busy=2.0) == 1
    assert threads.choose_threads(3) == 3
    assert threads.choose_threads(busy=None) == 2


def test_busy_elsewhere_counts_other_processes_from_proc_stat(monkeypatch, tmp_path):
    """Two simulated /proc/stat looks: 4 CPUs, 100 jiffies each in between; cpu3 not ours."""
    looks = iter(
        [
            # user nice system idle iowait irq softirq steal
            "cpu  0 0 0 0 0 0 0 0\n"
            "cpu0 100 0 0 900 0 0 0 0\ncpu1 0 0 0 1000 0 0 0 0\n"
            "cpu2 0 0 0 1000 0 0 0 0\ncpu3 0 0 0 1000 0 0 0 0\nintr 1 2\n",
            "cpu  0 0 0 0 0 0 0 0\n"
            "cpu0 180 0 20 900 0 0 0 0\ncpu1 50 0 0 1040 10 0 0 0\n"
            "cpu2 0 0 0 1100 0 0 0 0\ncpu3 100 0 0 1000 0 0 0 0\nintr 1 2\n",
        ]
    )
    stat = tmp_path / "stat"

    def fake_path(name):
        assert name == "/proc/stat"
        stat.write_text(next(looks))
        return stat

    own = iter([1000.0, 1030.0])  # this process ran 30 jiffies in between
    monkeypatch.setattr(threads, "Path", fake_path)
    monkeypatch.setattr(threads, "_own_jiffies", lambda: next(own))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    # by hand: busy jiffies on cpus 0-2 went up 100 + 50 = 150, of which 30 were ours; the
    # total went up 300 over 3 CPUs: (150 - 30) / 300 * 3 = 1.2 cores busy elsewhere
    assert threads.busy_elsewhere(0.5) == pytest.approx(1.2)


def test_threads_from_the_environment(monkeypatch):
    monkeypatch.setenv("ANOBENCH_THREADS", "3")
    assert threads.choose_threads(busy=0.0) == 3
    assert threads.choose_threads(2) == 2
    monkeypatch.setenv("ANOBENCH_THREADS", "many")
    with pytest.raises(ValueError, match="ANOBENCH_THREADS"):
        threads.choose_threads()


def _simulated_machine(monkeypatch):
    """/proc/stat of 2 CPUs that the test advances, and the thread counts torch is set to."""
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    state = {"busy": 0.0, "total": 0.0}
    monkeypatch.setattr(threads, "_cpu_times", lambda cpus: (state["busy"], state["total"]))
    monkeypatch.setattr(threads, "_own_jiffies", lambda: 0.0)
    set_to: list[int] = []
    monkeypatch.setattr(torch, "set_num_threads", lambda n: set_to.append(n))
    return state, set_to


def test_governor_adds_a_thread_soon_after_a_start_that_caught_a_burst(monkeypatch):
    """The start sampled a burst and chose 1 thread of 2; the machine is idle from then on."""
    state, set_to = _simulated_machine(monkeypatch)
    clock = [0.0]
    gov = threads.ThreadGovernor(1, interval=15.0, first=5.0)
    gov._clock = lambda: clock[0]
    gov._last = (0.0, (0.0, 0.0), 0.0)
    for step, now in enumerate((2.0, 4.0, 5.0), start=1):
        clock[0] = now
        state["total"] = now * 200.0  # 100 jiffies per CPU per second, all idle
        gov.tick(step)
    # the first look at 5 s (not 15), one idle look is enough to add
    assert gov.threads == 2 and set_to == [2]
    assert gov.changes == [{"step": 3, "threads": 2, "busy_elsewhere": 0.0}]
    # the looks after that keep the interval
    clock[0], state["total"] = 15.0, 3000.0
    gov.tick(4)
    assert gov._last[0] == 5.0


def test_governor_gives_threads_up_after_two_looks_and_takes_them_back_after_one(monkeypatch):
    """Simulated /proc/stat: 2 CPUs, 100 jiffies per CPU per look; others busy for looks 3-5."""
    state, set_to = _simulated_machine(monkeypatch)
    clock = [0.0]
    others = [0.0, 0.0, 100.0, 100.0, 100.0, 0.0, 0.0, 0.0]  # busy jiffies of other jobs per look
    gov = threads.ThreadGovernor(2, interval=10.0)
    gov._clock = lambda: clock[0]
    gov._last = (0.0, (0.0, 0.0), 0.0)
    seen = []
    for step, busy in enumerate(others, start=1):
        clock[0] += 10.0
        state["busy"] += busy
        state["total"] += 200.0
        gov.tick(step)
        gov.tick(step)  # within the interval: no new look
        seen.append(gov.threads)
    # one busy look is a burst, two agreeing looks give a thread up; one idle look takes it back
    # (a sustained job would have shown in that look)
    assert seen == [2, 2, 2, 1, 1, 2, 2, 2]
    assert set_to == [1, 2]
    assert [c["step"] for c in gov.changes] == [4, 6]
    assert gov.changes[0]["busy_elsewhere"] == 1.0
