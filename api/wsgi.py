"""gunicorn entry point: ``gunicorn api.wsgi:app``."""

from api.app import create_app
from app.config import Settings
from app.logs import configure

settings = Settings.from_env()
configure(settings.log_level, "web")
app = create_app(settings)
