"""observatorio.orchestration.components: what stopping a component and naming a worker rely on."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

from observatorio.orchestration.components import (
    WORKER_NAME,
    celery_worker_env,
    sessions,
    worker_hostname,
)

# A child that leaves its parent's process group, as Airflow's task runners do.
LEAVES_ITS_GROUP = (
    "import os, subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c',"
    " 'import os, time; os.setpgid(0, 0); time.sleep(60)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(60)\n"
)


def test_a_process_in_a_group_of_its_own_stays_in_the_component_s_session():
    proc = subprocess.Popen(
        [sys.executable, "-c", LEAVES_ITS_GROUP],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        child = int(proc.stdout.readline())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until the child has left the group
            members = dict(sessions().get(proc.pid, []))
            if child in members and os.getpgid(child) == child:
                break
            time.sleep(0.05)
        assert set(members) == {proc.pid, child}
        assert all(rss > 0 for rss in members.values())
    finally:
        for pid, _ in sessions().get(proc.pid, []):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_each_worker_names_itself_in_the_hostname_it_reports(monkeypatch):
    plain = worker_hostname()
    env = celery_worker_env("worker2", 55462)
    monkeypatch.setenv(WORKER_NAME, env[WORKER_NAME])
    assert worker_hostname() == f"{plain}-worker2"
    module, _, function = env["AIRFLOW__CORE__HOSTNAME_CALLABLE"].rpartition(".")
    assert getattr(sys.modules[module], function) is worker_hostname
