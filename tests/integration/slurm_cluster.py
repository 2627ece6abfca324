"""A one-node Slurm cluster for tests: munged, slurmctld and slurmd started from a temp dir.

Needs Debian's ``slurmctld``, ``slurmd``, ``slurm-client`` and ``munge`` (``.ci/run`` installs
them when it runs as root) and root itself: slurmd starts jobs as their user. No systemd, no
cgroups: processes are tracked through /proc, and state, logs, sockets and the munge key live
in the temp dir. ``start`` returns the cluster or raises ``Unavailable`` saying why not.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scontrol", "scancel")


class Unavailable(RuntimeError):
    """Slurm cannot run here; the message says why (tests skip with it)."""


@dataclass
class Cluster:
    root: Path
    conf: Path
    env: dict[str, str]
    processes: list[subprocess.Popen] = field(default_factory=list)

    def run(self, *args: str, check: bool = True) -> str:
        out = subprocess.run(args, capture_output=True, text=True, env=self.env, timeout=60)
        if check and out.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Cancel every job, let Slurm end them (their step daemons outlive slurmd if it goes
        first), then stop the daemons."""
        if self.processes and self.processes[-1].poll() is None:
            self.run("scancel", "--full", "--user=root", check=False)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                left = self.run("squeue", "--noheader", "--states=PD,R,CG,S,CF", check=False)
                if not left.strip():
                    break
                time.sleep(0.5)
        for proc in reversed(self.processes):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self.processes):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _find(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        raise Unavailable(
            f"{name} is not installed (apt-get install slurmctld slurmd slurm-client munge)"
        )
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(root: Path, munge_socket: Path) -> str:
    host = socket.gethostname().split(".")[0]
    cpus = os.cpu_count() or 1
    return f"""\
ClusterName=anobenchtest
SlurmctldHost={host}
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# a requeued job waits cred_expire seconds before it may start again (default 120)
AuthInfo=socket={munge_socket},cred_expire=5
StateSaveLocation={root}/ctld
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=10
MinJobAge=600
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
NodeName={host} CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def start(root: Path, timeout: float = 30.0) -> Cluster:
    """Start munged, slurmctld and slurmd under ``root``; wait until the node is idle."""
    if os.geteuid() != 0:
        raise Unavailable("starting slurmd needs root")
    paths = {name: _find(name) for name in (*DAEMONS, *CLIENTS)}
    root.mkdir(parents=True, exist_ok=True)
    for sub in ("ctld", "spool", "munge"):
        (root / sub).mkdir(exist_ok=True)
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(128))
    key.chmod(0o400)
    (root / "munge").chmod(0o700)
    munge_socket = root / "munge" / "munge.socket"
    conf = root / "slurm.conf"
    conf.write_text(_config(root, munge_socket))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    cluster = Cluster(root, conf, env)
    logs = {name: (root / f"{name}.out").open("w") for name in DAEMONS}
    commands = {
        "munged": [
            paths["munged"], "--foreground", "--force", f"--key-file={key}",
            f"--socket={munge_socket}", f"--pid-file={root}/munge/munged.pid",
            f"--log-file={root}/munged.log", f"--seed-file={root}/munge/seed",
        ],
        "slurmctld": [paths["slurmctld"], "-D", "-i", "-f", str(conf)],
        "slurmd": [paths["slurmd"], "-D", "-f", str(conf)],
    }  # fmt: skip
    try:
        for name in DAEMONS:
            proc = subprocess.Popen(
                commands[name], stdout=logs[name], stderr=subprocess.STDOUT, env=env
            )
            cluster.processes.append(proc)
            if name == "munged":
                _wait(lambda: munge_socket.exists(), timeout, "munged did not create its socket")
            time.sleep(0.5)
            if proc.poll() is not None:
                raise Unavailable(f"{name} exited at start: {_tail(root, name)}")
        _wait(lambda: _node_idle(cluster), timeout, "the node did not become idle")
    except Unavailable as exc:
        cluster.stop()
        raise Unavailable(f"{exc} (logs in {root})") from None
    finally:
        for fh in logs.values():
            fh.close()
    return cluster


def _node_idle(cluster: Cluster) -> bool:
    out = cluster.run("sinfo", "--noheader", "--format=%t", check=False).strip()
    return out.startswith("idle") or out.startswith("mix")


def _tail(root: Path, name: str) -> str:
    text = ""
    for suffix in (".out", ".log"):
        path = root / f"{name}{suffix}"
        if path.exists():
            text += path.read_text(errors="replace")
    return " | ".join(text.strip().splitlines()[-3:])


def _wait(check, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.3)
    raise Unavailable(message)
