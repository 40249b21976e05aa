"""The ``kflow`` command: one module per command group, put together in root."""

from kflow.tools.cli.root import main

__all__ = ["main"]
