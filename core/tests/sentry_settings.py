"""The project's settings with core/tests/sentry_urls.py's failing view: a real web process whose request fails."""

from finally_site.settings import *  # noqa: F403 (every setting, as served)

ROOT_URLCONF = "core.tests.sentry_urls"
