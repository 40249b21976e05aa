"""Helpers for driving the ``kflow`` command: settings in the environment, one-sentence errors."""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from click.testing import CliRunner, Result

from kflow.config import load_settings
from kflow.runtime import Runtime
from kflow.tools.cli import main
from kflow.tools.seed import load_reference
from kflow.web import create_app

ROOT = Path(__file__).resolve().parents[2]
KFLOW = Path(sys.executable).parent / "kflow"
TOKEN_RE = re.compile(r"^kf_[A-Za-z0-9_-]{20,}$")


def environment(url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "KFLOW_DATABASE_URL": url,
        "KFLOW_INSTANCE_PATH": str(tmp_path / "instance"),
        "KFLOW_CONFIG": str(ROOT / "config" / "development.toml"),
    }


def reference_unit_count(env: dict[str, str]) -> int:
    data = load_reference(load_settings(environ=env).organisation_path)
    sections = ("national_council", "npo", "nsg", "healthcare_region", "region")
    return 1 + sum(len(data.get(section, [])) for section in sections)  # + the root


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=self.env, catch_exceptions=True)

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result

    def fails(self, *args: str, code: str | None = None, exit_code: int = 1) -> str:
        """Run a command that must fail with one clear sentence; return that sentence."""
        result = self.run(*args)
        assert result.exit_code == exit_code, (args, result.exit_code, result.output)
        assert isinstance(result.exception, SystemExit), result.exception  # no crash
        assert "Traceback" not in result.output
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        if exit_code == 2:  # click's own usage errors
            assert lines[-1].startswith("Error: "), result.stderr
            return lines[-1]
        assert len(lines) == 1, result.stderr
        sentence = lines[0]
        assert sentence.startswith("Error: ") and len(sentence) > 20, sentence
        if code is not None:
            assert sentence.endswith(f"({code})"), sentence
        return sentence

    @contextlib.contextmanager
    def api(self) -> Iterator[object]:
        """A test client of the web app on the same database, configured the same way."""
        runtime = Runtime.create(load_settings(environ=self.env))
        try:
            yield create_app(runtime).test_client()
        finally:
            runtime.engine.dispose()

    def token(self, email: str) -> str:
        result = self.ok("token", "create", email, "--name", "tests")
        token = result.stdout.strip().splitlines()[-1]
        assert TOKEN_RE.match(token), result.stdout
        return token
