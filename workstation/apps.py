from django.apps import AppConfig


class WorkstationConfig(AppConfig):
    """The browser UI: one page composing every app's panels, its htmx fragments and the command line."""

    name = "workstation"
