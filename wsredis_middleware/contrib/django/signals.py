"""Receivers that keep a user's WebSocket identity current: at login and when groups change.

ws4redis stored the groups at login and never again, so a user removed from a group kept
receiving its messages until they logged in again. Here every change that alters what the
handshake would resolve (group membership from either side, a group renamed or deleted, a user
renamed, deactivated, deleted or given a new password) rewrites the user's identity record.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model, user_logged_in
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

from .identity import refresh_records, remember_login

__all__ = ["connect_receivers"]

_UID = "wsredis-identity"
_MEMBERSHIP_ACTIONS = frozenset({"post_add", "post_remove", "post_clear"})


def _on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    remember_login(request, user)


def _on_membership_change(sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any,
                          **kwargs: Any) -> None:
    if not reverse:  # user.groups.add(...) and the like: one user
        if action in _MEMBERSHIP_ACTIONS:
            refresh_records([instance.pk])
        return
    # group.user_set.add(...): the users are in pk_set, except for clear(), which names none.
    if action == "pre_clear":
        instance._wsredis_members = list(instance.user_set.values_list("pk", flat=True))
    elif action == "post_clear":
        refresh_records(getattr(instance, "_wsredis_members", ()))
    elif action in _MEMBERSHIP_ACTIONS:
        refresh_records(pk_set or ())


def _on_group_saved(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if not (created or raw):  # a renamed group changes its members' channel names
        refresh_records(instance.user_set.values_list("pk", flat=True))


def _before_group_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    # Deleting a group removes memberships without an m2m_changed signal; remember who was in it.
    instance._wsredis_members = list(instance.user_set.values_list("pk", flat=True))


def _on_group_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    refresh_records(getattr(instance, "_wsredis_members", ()))


def _on_user_saved(sender: Any, instance: Any, created: bool, update_fields: Any = None, raw: bool = False,
                   **kwargs: Any) -> None:
    if created or raw or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return  # nothing the handshake uses has changed (login itself writes the record)
    refresh_records([instance.pk])


def _on_user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    refresh_records([instance.pk])


def connect_receivers() -> None:
    """Connect every receiver once (called from the app's ``ready()``)."""
    user_model = get_user_model()
    user_logged_in.connect(_on_login, dispatch_uid=f"{_UID}-login")
    post_save.connect(_on_user_saved, sender=user_model, dispatch_uid=f"{_UID}-user-saved")
    post_delete.connect(_on_user_deleted, sender=user_model, dispatch_uid=f"{_UID}-user-deleted")
    relation = getattr(getattr(user_model, "groups", None), "rel", None)
    through = getattr(relation, "through", None)
    if through is None or getattr(relation, "model", None) is not Group:
        return  # a custom user model without Django's groups: nothing more to watch
    m2m_changed.connect(_on_membership_change, sender=through, dispatch_uid=f"{_UID}-membership")
    post_save.connect(_on_group_saved, sender=Group, dispatch_uid=f"{_UID}-group-saved")
    pre_delete.connect(_before_group_deleted, sender=Group, dispatch_uid=f"{_UID}-group-deleting")
    post_delete.connect(_on_group_deleted, sender=Group, dispatch_uid=f"{_UID}-group-deleted")
