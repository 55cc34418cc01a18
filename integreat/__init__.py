"""Integreat operator tooling: the CLI, the local platform, infrastructure. Never deployed to Lambda."""
