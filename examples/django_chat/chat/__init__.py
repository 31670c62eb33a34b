"""The chat app: broadcast, per-user and group chat rooms."""
