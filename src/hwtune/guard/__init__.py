"""hwtune guard: health over time, and the actions it takes through the scheduler.

`kmsg`: kernel records (facility 0) from /dev/kmsg or a kmsg-format file;
`store`: the health history (SQLite in the state folder); `rules`: the rules
over time (health/guard_rules.toml); `signals`: Facts -> what the rules see;
`machine`: the per-GPU and per-node state machine (pure); `actions`: every
action a journaled transaction; `actuators`: Slurm, Kubernetes,
node-problem-detector, GPU reset and reboot; `breaker`: the fleet-wide limit;
`metrics`: Prometheus; `follow`: the service loop.
"""
