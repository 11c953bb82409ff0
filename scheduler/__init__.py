"""The clock process: APScheduler 3 fires one job per distinct trigger and fans out to its schedules."""
