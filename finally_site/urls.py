from django.contrib import admin
from django.urls import include, path

from finally_site.api import api, served_plain
from portfolio.api import place_order

urlpatterns = [
    path("admin/", admin.site.urls),
    # The order path without ninja's per-request work; ninja still documents it (portfolio/api.py).
    path("api/portfolio/trade", served_plain(place_order)),
    path("api/", api.urls),
    path("", include("workstation.urls")),
]
