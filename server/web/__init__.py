"""The web edge: routes, middleware, the HTTP error mapping, page fragments and the views."""
