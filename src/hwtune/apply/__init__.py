"""hwtune apply and rollback: tuning as a journaled transaction.

profile + host -> Plan (plan.py: each tunable declared once in tunables/, one
module each, planning itself) -> transaction.py writes each Step through
steps.py and sysfs.py (the only writers, to the paths the declarations name),
journaling it first (journal.py), and undoes everything on the first failure.
readers.py reads current values the same way for planning, verifying and
undoing, with the probes' parsers.
"""
