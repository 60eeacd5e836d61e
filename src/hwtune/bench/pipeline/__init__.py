"""`bench run --pipeline image` and `bench serve --pipeline image`: the whole request timed stage
by stage (read bytes, decode, resize/crop, normalise/layout, infer, top-k), and which stage limits
the host."""
