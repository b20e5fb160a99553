"""Benchmarks. Each module has ``main(argv) -> int`` and prints one JSON document (medians of several runs
and a description of the machine). Run as ``python -m bench.NAME`` or ``hyperinr bench NAME``."""
