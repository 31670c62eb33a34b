"""Views the tests call through Django's test client: publishing and fetching as a view would."""

import json

from django.http import HttpRequest, JsonResponse
from django.urls import path

from wsredis_middleware import SELF, RedisPublisher


def publish_to_self(request: HttpRequest) -> JsonResponse:
    publisher = RedisPublisher(facility="chat", users=[SELF], groups=[SELF], sessions=[SELF], request=request)
    return JsonResponse({"receivers": publisher.publish_message(request.POST["message"]),
                         "session": request.session.session_key})


def fetch(request: HttpRequest, audience: str) -> JsonResponse:
    message = RedisPublisher().fetch_message(request, "chat", audience)
    return JsonResponse({"message": None if message is None else message.decode()})


def publish_to(request: HttpRequest) -> JsonResponse:
    target = json.loads(request.body)
    publisher = RedisPublisher(facility="chat", users=target.get("users", ()), groups=target.get("groups", ()))
    return JsonResponse({"receivers": publisher.publish_message(target["message"])})


urlpatterns = [
    path("self/", publish_to_self),
    path("fetch/<str:audience>/", fetch),
    path("to/", publish_to),
]
