"""Analysis scripts over benchmark outputs (``python benchmarks/analysis/<script>.py``)."""
