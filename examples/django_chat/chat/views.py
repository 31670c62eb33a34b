"""The chat rooms. Server code publishes with RedisPublisher; settings give it the connection."""

import json

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from wsredis_middleware import SELF, RedisPublisher

MAX_LENGTH = 500


def index(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/index.html")


def broadcast_chat(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/broadcast.html")


@login_required
def user_chat(request: HttpRequest) -> HttpResponse:
    others = get_user_model().objects.exclude(pk=request.user.pk).order_by("username")
    return render(request, "chat/user.html", {"others": [u.get_username() for u in others]})


@login_required
def group_chat(request: HttpRequest) -> HttpResponse:
    groups = request.user.groups.order_by("name").values_list("name", flat=True)
    return render(request, "chat/group.html", {"groups": list(groups)})


def _message(request: HttpRequest, **fields: str) -> tuple[str, JsonResponse | None]:
    text = request.POST.get("text", "").strip()
    if not text or len(text) > MAX_LENGTH:
        return "", JsonResponse({"error": f"Write 1 to {MAX_LENGTH} characters."}, status=400)
    return json.dumps({"sender": request.user.get_username(), "text": text, **fields}), None


@login_required
@require_POST
def send_to_user(request: HttpRequest) -> JsonResponse:
    recipient = request.POST.get("recipient", "")
    if not get_user_model().objects.filter(username=recipient).exists():
        return JsonResponse({"error": f"There is no user {recipient!r}."}, status=400)
    message, error = _message(request, recipient=recipient)
    if error:
        return error
    # To the recipient, and to the sender's own sockets (SELF) so every tab of theirs shows it.
    receivers = RedisPublisher(facility="userchat", users=[recipient, SELF], request=request).publish_message(message)
    return JsonResponse({"receivers": receivers})


@login_required
@require_POST
def send_to_group(request: HttpRequest) -> JsonResponse:
    group = request.POST.get("group", "")
    if not request.user.groups.filter(name=group).exists():
        return JsonResponse({"error": f"You are not a member of {group!r}."}, status=403)
    message, error = _message(request, group=group)
    if error:
        return error
    receivers = RedisPublisher(facility="groupchat", groups=[group]).publish_message(message)
    return JsonResponse({"receivers": receivers})
