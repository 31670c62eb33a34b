"""Who may do what on the example's WebSockets (``WS4REDIS_ALLOWED_CHANNELS``)."""

from django.core.exceptions import PermissionDenied


def allowed_channels(request, channels):
    """Anyone may chat in the broadcast room; the user and group rooms need a login.

    The user and group rooms are written to by views (which stamp the sender), so their sockets
    only listen. Nothing here touches the database: ``request.user.is_authenticated`` on the
    lazy user would, so the resolved identity is used instead.
    """
    if request.facility == "broadcast":
        return set(channels) & {"subscribe-broadcast", "publish-broadcast"}
    if request.identity.user is None:
        raise PermissionDenied("Log in to join this chat.")
    return set(channels) & {"subscribe-user", "subscribe-group"}
