"""The `integreat` command's groups, one module each."""
