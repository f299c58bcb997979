"""WSGI entry point: ``waitress-serve wsgi:app`` or any WSGI server (run ``inbox worker`` beside it)."""

from inbox import create_app

app = create_app()
