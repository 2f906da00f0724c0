"""The app's settings, serving bench/floor_urls.py's extra routes beside the app's own (bench/floor.py)."""

from finally_site.settings import *  # noqa: F403 (Django's way to extend settings: all of them, one changed)

ROOT_URLCONF = "bench.floor_urls"
