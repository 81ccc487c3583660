"""Application services: what views, jobs and CLI commands call. No request globals in here."""
