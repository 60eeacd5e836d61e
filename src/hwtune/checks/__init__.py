"""Checks: pure functions of (Facts, profile parameters), registered by id.

Importing this package registers every check, in the order reports list them.
"""

from hwtune.checks import versions, cpu, memory, gpu  # noqa: F401,E401  (registers the checks)
