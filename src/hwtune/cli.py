"""The whole hwtune command line: the root app with every command module registered.

Each command lives in a cli_<area> module that imports the shared CLI layer
(hwtune.cli_common) and offers register(app); hwtune.cli_root.full_app
registers them all in the order --help lists them. The entry point
(hwtune.cli_root.main) builds that app for help, completion and anything it does
not know, and a single command's module alone otherwise; this module is the
importable `app` (tests, documentation tools), above cli_root, never imported by it.
"""

from __future__ import annotations

from hwtune import cli_apply, cli_bench, cli_check, cli_facts, cli_guard, cli_recommend, cli_report, cli_watch
from hwtune.cli_root import EXIT_CODES_HELP, app_for, full_app, main, new_app  # noqa: F401  (the public entry names)

COMMAND_MODULES = (cli_check, cli_facts, cli_apply, cli_bench, cli_recommend, cli_report, cli_watch, cli_guard)

app = full_app()
