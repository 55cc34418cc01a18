"""Cells (issue 16): apps spread over several Postgres databases, each at most a few hundred apps."""
