"""TF Serving's REST API: routes, JSON codec and the HTTP/1.1 server with its abuse limits."""
