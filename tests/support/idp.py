"""A real OpenID Connect provider for the single sign-on tests, and kflow served beside it.

The provider is tests/oidc/provider.mjs (panva's ``oidc-provider``, pinned in
tests/oidc/package.json and installed by ``npm ci --prefix tests/oidc``, which ``make test``
and .ci/run do) on a free port of 127.0.0.1. It must know kflow's callback address before it
starts, and kflow its issuer: so kflow's port is taken first (``AppServer``, a real WSGI server
in a thread whose app is set later), then the provider is started with it.

Without Node.js or the installed package the tests are skipped with the reason, never silently.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from tests.support.cli_support import ROOT

PROVIDER = ROOT / "tests" / "oidc" / "provider.mjs"
PACKAGE = ROOT / "tests" / "oidc" / "node_modules" / "oidc-provider"
CLIENT_ID = "kflow"
CLIENT_SECRET = "test-secret"  # the test provider's (provider.mjs)
CALLBACK = "/login/sso/callback"


@functools.cache
def missing() -> str | None:
    """Why the test provider cannot run here, or None."""
    if shutil.which("node") is None:
        return (
            "Node.js is not installed, so the OpenID Connect tests cannot start their provider "
            "(install nodejs and npm, then `npm ci --prefix tests/oidc`; .ci/run does)"
        )
    version = subprocess.run(
        ["node", "--version"], capture_output=True, text=True, check=False, timeout=30
    ).stdout.strip()
    if not version.startswith("v") or int(version[1:].split(".")[0]) < 20:
        return f"Node.js {version or '?'} is too old for oidc-provider 9 (tests/oidc): 20 or later"
    if not PACKAGE.is_dir():
        return (
            "tests/oidc/node_modules is missing: run `npm ci --prefix tests/oidc --no-audit "
            "--no-fund` (`make test` does when npm is installed)"
        )
    return None


@dataclasses.dataclass
class Idp:
    issuer: str
    process: subprocess.Popen[str]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def provider(app_url: str, log_path: Path, clock_offset: int = 0) -> Iterator[Idp]:
    """The test provider, with kflow at ``app_url`` as its client; its clock ``clock_offset``
    seconds off. Its warnings (Node version, in-memory store, development keys) go to
    ``log_path``."""
    env = {
        **os.environ,
        "OIDC_REDIRECT_URI": f"{app_url}{CALLBACK}",
        "OIDC_POST_LOGOUT_URI": f"{app_url}/login",
        "OIDC_CLOCK_OFFSET": str(clock_offset),
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            ["node", str(PROVIDER)], stdout=subprocess.PIPE, stderr=log, text=True, env=env
        )
    idp = Idp("", process)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first, f"the test provider did not start:\n{log_path.read_text()}"
        idp.issuer = json.loads(first)["issuer"]
        yield idp
    finally:
        idp.stop()


class AppServer:
    """A WSGI server on a free port of 127.0.0.1, in a thread, serving whichever app is set."""

    def __init__(self) -> None:
        self.app: Callable[..., Any] | None = None
        self._server = make_server("127.0.0.1", 0, self._dispatch, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _dispatch(self, environ: Any, start_response: Any) -> Any:
        assert self.app is not None, "no app is being served"
        return self.app(environ, start_response)

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


def oidc_settings(issuer: str, **changes: Any) -> dict[str, Any]:
    """kflow's ``[oidc]`` for the test provider."""
    return {
        "issuer": issuer,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "provider_name": "Test-IdP",
        "hsa_id_claim": "hsa_id",
        "timeout_seconds": 5,
        **changes,
    }
