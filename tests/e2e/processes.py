"""The Procfile's processes, started like a PaaS starts them, for the end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.config import ROOT


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """Procfile processes started like a PaaS starts them, each in its own process group."""

    def __init__(self, env: dict[str, str], logs: Path):
        self.env = env
        self.logs = logs
        self.running: dict[str, subprocess.Popen] = {}

    def run(self, name: str, timeout: float = 120) -> None:
        subprocess.run(["bash", "-c", procfile()[name]], cwd=ROOT, env=self.env, check=True, timeout=timeout)

    def start(self, name: str) -> None:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        self.running[name] = subprocess.Popen(
            ["bash", "-c", "exec " + procfile()[name]],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop_all(self, grace: float = 30) -> dict[str, tuple[int | None, float]]:
        """SIGTERM every process group, as a PaaS does; report (exit code, seconds to exit)."""
        started = time.monotonic()
        for proc in self.running.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        results = {}
        for name, proc in self.running.items():
            try:
                proc.wait(timeout=max(0.1, grace - (time.monotonic() - started)))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                results[name] = (None, grace)
                continue
            results[name] = (proc.returncode, time.monotonic() - started)
        return results

    def output(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")


def service_env(database_url: str, redis_url: str, port: int, **extra: str) -> dict[str, str]:
    """The environment a PaaS would give every process of the service."""
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PORT": str(port),
        **extra,
    }


def create_token(env: dict[str, str], name: str, tenant: str | None = None) -> str:
    """An API token, made with the command operators use."""
    command = [sys.executable, "-m", "app.tokens", "create", "--name", name, *(["--tenant", tenant] if tenant else [])]
    return subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout.strip()


def http_status(url: str) -> int:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return 0
