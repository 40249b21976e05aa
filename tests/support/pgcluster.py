"""A private, throw-away PostgreSQL cluster for tests that restart the database server.

The machine's shared PostgreSQL serves every other test run, so a test that restarts a server
gets one of its own: ``initdb`` in a temporary folder, ``pg_ctl`` on a free port, removed
afterwards. initdb refuses to run as root, so when the tests run as root the cluster runs as the
``postgres`` operating-system user (``runuser``). ``problem()`` says why no cluster can be made
here, for a visible skip.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.support.smtp import free_port

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
OS_USER = "postgres"


def _bin(name: str) -> Path | None:
    found = next((d / name for d in BIN_DIRS if (d / name).is_file()), None)
    if found is None and shutil.which(name):
        found = Path(str(shutil.which(name)))
    return found


def _as_owner() -> list[str]:
    """The command prefix that runs a server program as a user initdb accepts."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", OS_USER, "--"]


def problem() -> str | None:
    """Why a private cluster cannot be made here (None: it can)."""
    for name in ("initdb", "pg_ctl"):
        if _bin(name) is None:
            return f"PostgreSQL server programs not found ({name}; looked in /usr/lib/postgresql)"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root without runuser: initdb refuses root"
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            return f"running as root and there is no '{OS_USER}' user to run initdb as"
    return None


class PrivateCluster:
    """initdb + pg_ctl on 127.0.0.1 and a free port; trust authentication."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="kflow-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        if os.geteuid() == 0:
            owner = pwd.getpwnam(OS_USER)
            os.chown(self.root, owner.pw_uid, owner.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> None:
        done = subprocess.run(
            [*_as_owner(), *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        assert done.returncode == 0, f"{' '.join(args)}: {done.stdout}{done.stderr}{self.tail()}"

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n--- server log ---\n" + "\n".join(self.log.read_text().splitlines()[-20:])
        return ""

    def _pg_ctl(self, *args: str) -> None:
        options = (
            f"-c port={self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.root} -c fsync=off -c full_page_writes=off "
            "-c max_connections=60"
        )
        self._run(
            str(_bin("pg_ctl")),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            *args,
        )

    def start(self) -> None:
        self._run(
            str(_bin("initdb")),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        self._pg_ctl("start")

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every connection is cut, open transactions roll back."""
        self._pg_ctl("-m", "fast", "restart")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
                self._run(str(_bin("pg_ctl")), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    cluster = PrivateCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
