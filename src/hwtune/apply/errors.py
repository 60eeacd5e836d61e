"""The errors of apply and rollback, with the exit codes README.md documents."""

from __future__ import annotations

from hwtune.errors import EXIT_APPLY_FAILED, EXIT_UNDO_FAILED, EXIT_USAGE, HwtuneError


class ApplyFailed(HwtuneError):
    """A write failed (or a target is not available); nothing is left changed (exit 4)."""

    exit_code = EXIT_APPLY_FAILED


class UndoFailed(HwtuneError):
    """A write failed and an undo failed too; the message lists what is still changed (exit 5)."""

    exit_code = EXIT_UNDO_FAILED


class Busy(HwtuneError):
    """Another apply or rollback holds the lock (exit 2: refused, nothing done)."""

    exit_code = EXIT_USAGE
