"""Blueprints, one per noun. Views parse the request, call a function in ``inbox/`` and
render a template; a full page and its HTMX fragment come from the same URL."""
