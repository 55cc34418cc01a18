"""The local platform: embedded Postgres (and, in later issues, moto server, Chalice local, workers)."""
