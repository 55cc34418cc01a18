"""Integreat runtime code: everything that runs inside Lambda. Never imports `integreat`."""
