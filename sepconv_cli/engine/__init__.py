"""Planning (cost model) and running filters on a backend."""
