from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    path("broadcast/", views.broadcast_chat, name="broadcast_chat"),
    path("user/", views.user_chat, name="user_chat"),
    path("user/send/", views.send_to_user, name="send_to_user"),
    path("group/", views.group_chat, name="group_chat"),
    path("group/send/", views.send_to_group, name="send_to_group"),
]
