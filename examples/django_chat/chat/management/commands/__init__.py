"""``run``: set up the example and start the server in one command."""
