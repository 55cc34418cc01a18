"""Apply the manifest to the shared resources, idempotently (design decision 7)."""
