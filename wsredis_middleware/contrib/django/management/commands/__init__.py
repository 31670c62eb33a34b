"""``runserver``, taking over Django's (and staticfiles') to serve WebSockets too."""
