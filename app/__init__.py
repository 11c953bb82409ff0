"""Shared core of the service: settings, database, cron handling and the schedule domain."""
