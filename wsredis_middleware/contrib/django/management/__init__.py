"""Management commands of the wsredis app."""
