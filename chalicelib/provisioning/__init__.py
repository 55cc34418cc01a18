"""Apply the manifest to the shared resources, idempotently (DESIGN.md decision 7)."""
