"""The API as django-ninja alone serves it, without the plain view in front of the order path (test_api.py)."""

from django.urls import path

from finally_site.api import api

urlpatterns = [path("api/", api.urls)]
