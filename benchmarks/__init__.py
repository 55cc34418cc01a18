"""Benchmarks: one script per figure DESIGN.md holds us to; `make bench` writes results.json.

Each script exposes `run() -> dict[str, float | int | bool]` (figures keyed `<script>.<name>`)
and runs alone with `.venv/bin/python -m benchmarks.<script>`.
"""
