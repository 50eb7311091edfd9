"""The coordinator's console: a local web app over one year's folder (routes, templates, htmx shipped
inside, progress by server-sent events, token/Host/CSRF checks). It calls the same library as the
command line (year, yearwork, pipeline …) and does no work of its own."""
