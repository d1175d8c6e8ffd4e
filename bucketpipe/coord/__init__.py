"""Coordination over Redis: events, status, locks, the shared rate limiter, data versions."""
