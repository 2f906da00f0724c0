from django.apps import AppConfig


class WorkstationConfig(AppConfig):
    """The browser UI: one page composing every app's panels, its htmx fragments and the command line."""

    name = "workstation"

    def ready(self):
        from market import sse
        from workstation import stream_html

        # The page's live prices ride market's price hub in a format of the page's own (market imports no UI).
        sse.register_format(stream_html.HTML_FORMAT, stream_html.render_html)
