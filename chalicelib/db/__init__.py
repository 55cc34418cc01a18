"""The database layer: one tenant-scoped helper, provisioning of schemas and roles, migrations."""
