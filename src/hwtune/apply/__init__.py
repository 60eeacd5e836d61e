"""hwtune apply and rollback: tuning as a journaled transaction.

profile + host -> Plan (plan.py: each tunable, declared once in hwtune/tunables/,
returns plain targets; each becomes a plan item, and its Step, through the
object of its step kind in kinds/) -> transaction.py writes each Step through
steps.py and sysfs.py (the only writers, to the paths the declarations name),
journaling it first (journal.py), and undoes everything on the first failure.
A kind reads current values the same way for planning, verifying and undoing
(kernel files with the probes' readers, hwtune/probe/values.py).
"""
