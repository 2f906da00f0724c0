from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app shares and no app knows of: the data layer's conventions and threads, the fast path, the API's
    error contract, formatting, start-up and the commands that serve it (`serve`, a `migrate` safe to start twice)."""

    name = "core"
