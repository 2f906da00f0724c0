from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Data-layer conventions every app shares, and the `migrate` that is safe to start twice at once."""

    name = "core"
