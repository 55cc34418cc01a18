"""Usage per app (issue 19): metering in memory, flushed in batches; limits per app."""
