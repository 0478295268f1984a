"""Set-based portfolio kernels (Polars), engine-agnostic: they take rows or frames and return
frames, so the same kernel runs in-process or mapped over partitions later."""
