"""Management commands of the chat example."""
