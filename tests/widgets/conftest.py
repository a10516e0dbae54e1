"""The crowd fixtures (a real server over 127.0.0.1 with its people) for these tests."""

from crowd import crowd, shared_crowd  # noqa: F401
