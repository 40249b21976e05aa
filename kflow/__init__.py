"""kflow: a workflow engine for Swedish healthcare knowledge governance."""

__version__ = "0.1.0"
