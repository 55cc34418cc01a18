"""Third-party integrations: the proxy that calls declared upstream APIs for apps."""

#: The methods an integration may allow (the proxy route is declared for these). Here rather than
#: in model.py so that declaring the route at cold start does not build the spec's NamedTuple.
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
