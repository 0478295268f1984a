"""The end-of-day batch's set-based path (issue 21): pure kernels over columnar partitions
(``kernels.py``, Polars, no per-loan Python loop) and the rules they apply (``model.py``)."""
