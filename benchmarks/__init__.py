"""svertka's benchmarks against torch: ``python -m benchmarks`` (see ``benchmarks/run.py``)."""
