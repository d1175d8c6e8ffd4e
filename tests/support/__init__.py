"""Fake external services for tests: real servers on loopback."""
