"""One module per resource: parse the request, call a service, shape the response."""
