"""`bench serve`: MLPerf LoadGen scenarios against model instances with dynamic batching, the
server scenario's search for the max QPS within the p99 budget, and its batching search."""
