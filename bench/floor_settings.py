"""The app's settings, serving bench/floor_urls.py's extra routes beside the app's own (bench/floor.py)."""

from finally_site.settings import *

ROOT_URLCONF = "bench.floor_urls"
