"""Benchmarks: one script per figure the design holds us to (docs/architecture.md); `make bench` writes results.json.

Each script exposes `run() -> dict[str, float | int | bool]` (figures keyed `<script>.<name>`)
and runs alone with `.venv/bin/python -m benchmarks.<script>`.
"""
