"""Health catalogues as data, and the pure code that reads them.

`kernel_log.toml`: the kernel-log patterns (a source's lines -> events);
`xid.csv`: NVIDIA's Xid catalogue with what each Xid means for a host that
serves inference. The sources live in `hwtune.probe`, the judgement in
`hwtune.checks.health`.
"""
