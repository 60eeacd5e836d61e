"""`bench run` and `bench tune`: the model alone per device (closed loop, sync or async), the
tuner's search, the settings it advises, and the comparison of two saved runs."""
