"""Identity: Cognito group names, the triggers, token verification and the caller context."""
