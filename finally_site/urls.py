from django.contrib import admin
from django.urls import include, path

from core.metrics import metrics_view
from finally_site.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("metrics", metrics_view, name="metrics"),  # a 404 unless METRICS=on and the scraper is allowed
    path("", include("accounts.urls")),
    path("", include("workstation.urls")),
]
