"""Server settings: workers from the vCPUs a container is given, keep-alive above every load
balancer's idle timeout, and environment values checked with one clear line."""
from __future__ import annotations

import pytest

from app import server
from app.server import KEEP_ALIVE_S, available_cpus, cgroup_cpu_limit, env_number, worker_count


def _affinity(n: int):
    return lambda pid: set(range(n))


def _cgroup_v2(tmp_path, value: str):
    (tmp_path / "cpu.max").write_text(value + "\n")
    return tmp_path


def _cgroup_v1(tmp_path, quota: int, period: int = 100000, folder: str = "cpu"):
    (tmp_path / folder).mkdir()
    (tmp_path / folder / "cpu.cfs_quota_us").write_text(f"{quota}\n")
    (tmp_path / folder / "cpu.cfs_period_us").write_text(f"{period}\n")
    return tmp_path


# Linux Documentation/admin-guide/cgroup-v2.rst, "cpu.max": "$MAX $PERIOD", "max" for no limit.
@pytest.mark.parametrize("value, host_cpus, workers", [
    ("200000 100000", 64, 2),   # a 2-vCPU task on a 64-CPU host: 2 workers, not 64
    ("400000 100000", 64, 4),
    ("150000 100000", 64, 2),   # 1.5 CPUs keep two event loops busy
    ("50000 100000", 64, 1),    # half a CPU: still one worker
    ("max 100000", 8, 8),       # no quota: the CPUs the scheduler lets this process use
    ("800000 100000", 2, 2),    # a quota above the affinity cannot add CPUs
])
def test_workers_follow_the_cgroup_v2_quota(tmp_path, value, host_cpus, workers):
    root = _cgroup_v2(tmp_path, value)
    assert worker_count({}, root, _affinity(host_cpus)) == workers


# Linux Documentation/scheduler/sched-bwc.rst: cpu.cfs_quota_us / cpu.cfs_period_us, -1 = no limit.
@pytest.mark.parametrize("quota, folder, host_cpus, workers", [
    (200000, "cpu", 16, 2), (300000, "cpu,cpuacct", 16, 3), (-1, "cpu", 6, 6)])
def test_workers_follow_the_cgroup_v1_quota(tmp_path, quota, folder, host_cpus, workers):
    root = _cgroup_v1(tmp_path, quota, folder=folder)
    assert worker_count({}, root, _affinity(host_cpus)) == workers


def test_without_cgroup_files_the_affinity_decides(tmp_path):
    assert cgroup_cpu_limit(tmp_path) is None
    assert available_cpus(tmp_path, _affinity(3)) == 3


def test_unreadable_cgroup_values_are_ignored(tmp_path):
    assert cgroup_cpu_limit(_cgroup_v2(tmp_path, "garbage")) is None


def test_web_concurrency_overrides(tmp_path):
    # WEB_CONCURRENCY: the worker count uvicorn and gunicorn read from the environment.
    root = _cgroup_v2(tmp_path, "200000 100000")
    assert worker_count({"WEB_CONCURRENCY": "5"}, root, _affinity(64)) == 5
    with pytest.raises(SystemExit, match=r"WEB_CONCURRENCY='two': expected a positive whole number"):
        worker_count({"WEB_CONCURRENCY": "two"}, root, _affinity(64))


@pytest.mark.parametrize("raw", ["abc", "0", "-3", "1.5"])
def test_bad_numbers_in_the_environment_are_one_line(raw):
    with pytest.raises(SystemExit, match=rf"^PORT={raw!r}: expected a positive whole number$"):
        env_number("PORT", 8080, int, {"PORT": raw})


def test_keep_alive_outlasts_every_load_balancer_idle_timeout():
    # AWS ALB: idle timeout 60 s by default (Elastic Load Balancing, "Connection idle timeout").
    # GCP external Application LB: backend keepalive fixed at 600 s, backends must use more
    # (Cloud Load Balancing, "Timeouts and retries").
    # Azure Load Balancer: idle timeout 4 minutes by default ("Configure TCP reset and idle timeout");
    # Azure Container Apps ingress: 240 s request timeout ("Ingress in Azure Container Apps").
    assert KEEP_ALIVE_S > max(60, 600, 4 * 60, 240)


def test_run_applies_the_settings(monkeypatch, tmp_path):
    import uvicorn

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs, app=app))
    monkeypatch.setattr(server, "worker_count", lambda: 3)
    server.run("0.0.0.0", 8080)
    assert seen["app"] == "app.service:create_app" and seen["factory"] is True
    assert seen["workers"] == 3 and seen["timeout_keep_alive"] == KEEP_ALIVE_S
    assert seen["http"] == "app.server:GuardedProtocol"
    assert seen["h11_max_incomplete_event_size"] == server.MAX_HEADER_BYTES
