from django.contrib import admin
from django.urls import include, path

from finally_site.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("accounts.urls")),
    path("", include("workstation.urls")),
]
