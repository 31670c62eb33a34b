"""Framework integrations, each depending on the core and never on one another."""
