"""Third-party integrations: the proxy that calls declared upstream APIs for apps."""
