"""WSGI entry point for any server: ``gunicorn 'kflow.web.wsgi:app'``."""

from kflow.runtime import settle_heap
from kflow.web import create_app

app = create_app()
settle_heap()
