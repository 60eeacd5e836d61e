"""The whole hwtune command line: the root app with every command module registered.

Each command lives in a cli_<area> module that imports the shared CLI layer
(hwtune.cli_common) and offers register(app); this module imports them all
plainly and registers them in the order --help lists them. The entry point
(hwtune.cli_root.main) uses this app for help, completion and anything it does
not know, and a single command's module alone otherwise.
"""

from __future__ import annotations

from hwtune import cli_apply, cli_bench, cli_check, cli_facts, cli_guard, cli_recommend, cli_report, cli_watch
from hwtune.cli_root import EXIT_CODES_HELP, app_for, main, new_app  # noqa: F401  (the public entry names)

COMMAND_MODULES = (cli_check, cli_facts, cli_apply, cli_bench, cli_recommend, cli_report, cli_watch, cli_guard)

app = new_app()
for _module in COMMAND_MODULES:
    _module.register(app)
