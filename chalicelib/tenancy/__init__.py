"""Tenancy: what an app is, how it is named, declared (manifest) and looked up (registry)."""
