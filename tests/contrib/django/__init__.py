"""Tests of the Django integration (real Redis, real servers, Django test client)."""
