"""The HTTP API (Falcon WSGI): tenant schedules, runs and health."""
