from hwtune.cli_root import main

main()
