"""Helpers shared by the benchmark scripts (benchmark code, not part of the package).

The scripts in ``benchmarks/`` import them as ``_lib.<module>``: running ``python benchmarks/<script>.py``
puts ``benchmarks/`` on ``sys.path``.
"""
