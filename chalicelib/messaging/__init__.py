"""Cross-app events: the manifest's events section, the CloudEvents envelope, routing and delivery."""
