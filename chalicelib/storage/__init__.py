"""Storage: one bucket, a folder `<slug>/` per app, folder rules, upload events, presigned URLs."""
