"""hwtune apply and rollback: tuning as a journaled transaction.

profile + host -> Plan (plan.py, with one planner per area: cpu, kernel,
nvidia, pending, persist) -> transaction.py writes each Step through
steps.py and sysfs.py (the only writers), journaling it first (journal.py),
and undoes everything on the first failure. readers.py reads current values
the same way for planning, verifying and undoing.
"""
