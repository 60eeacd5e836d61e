from hwtune.cli_root import run

run()
