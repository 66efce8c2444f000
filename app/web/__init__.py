"""HTML routes (htmx): each returns the full page, or only its fragment when the request
comes from htmx (`HX-Request`). They call the same services as the API."""
