"""hwtune: check, tune, benchmark and size Linux hosts for deep-learning inference."""

__version__ = "0.1.0"
