"""Checks: pure functions of (Facts, profile parameters), registered by id.

Importing this package registers every check.
"""

from hwtune.checks import versions  # noqa: F401  (registers its checks)
