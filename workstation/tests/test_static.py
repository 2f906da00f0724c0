"""Vendored browser libraries are the ones scripts/vendor_js.sh fetched, and the pipeline serves hashed names."""

import hashlib
import re
from pathlib import Path

import pytest
from django.conf import settings

VENDOR = Path(settings.BASE_DIR) / "static" / "vendor"


def test_vendored_files_match_their_checksums():
    lines = (VENDOR / "SHA256SUMS").read_text().split("\n")
    entries = [line.split() for line in lines if line.strip()]
    assert {name for _, name in entries} == {
        "htmx-2.0.11.min.js", "htmx-ext-sse-2.2.4.min.js", "lightweight-charts-5.2.1.min.js"
    }
    for digest, name in entries:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name


def test_every_vendored_file_is_listed():
    listed = {line.split()[1] for line in (VENDOR / "SHA256SUMS").read_text().splitlines() if line.strip()}
    assert {p.name for p in VENDOR.glob("*.js")} == listed


def test_vendor_script_pins_the_versions():
    script = (Path(settings.BASE_DIR) / "scripts" / "vendor_js.sh").read_text()
    assert "HTMX=2.0.11" in script and "HTMX_SSE=2.2.4" in script and "npm pack" in script
    assert "LIGHTWEIGHT_CHARTS=5.2.1" in script


@pytest.mark.django_db
def test_hashed_static_served_compressed_with_far_future_cache(client):
    html = client.get("/").content.decode()
    url = re.search(r'src="(/static/vendor/htmx-2\.0\.11\.min\.[0-9a-f]{12}\.js)"', html).group(1)
    response = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response["Content-Encoding"] in ("gzip", "br")
    assert "immutable" in response["Cache-Control"] and "max-age=315360000" in response["Cache-Control"]
