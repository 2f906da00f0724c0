"""The floor under the page's first paint on this machine: how soon a cold Chromium paints the workstation's HTML
when nothing else is in the way. Median of N cold loads per variant, the variants interleaved.

    .venv/bin/python bench/paint_floor.py --runs 9

A throwaway FinAlly renders the page once (with a day of minute bars, as `page_load.py --bars`); a bare Python
HTTP server then serves frozen copies of it, so no Django, no static files and no scripts are timed:

- `one line`: a one-paragraph page, the browser's own floor (a new renderer process, its first layout and paint);
- `page, no css`: the workstation's HTML with its scripts and stylesheet taken out;
- `page, css inline`: the same with the stylesheet inlined, what a trader sees first, with nothing to fetch;
- `page, generic fonts`: as above, the font stacks reduced to `monospace` / `sans-serif` (no font lookups);
- `page, css inline, no bars`: as `page, css inline` without the day of bars the chart is drawn from.

First visible price is first contentful paint, as in `page_load.py`. Whatever the first-price budget asks of the
real page, the page cannot beat `page, css inline` here: that is its layout and paint alone.
"""

from __future__ import annotations

import argparse
import http.server
import re
import statistics
import subprocess
import sys
import threading
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.page_load import ARGS, CHROMIUM
from bench.stack import ROOT, BenchStack
from market.tests.day_of_bars import SEED_SCRIPT

CSS = ROOT / "static" / "css" / "workstation.css"


def variants(html: str) -> dict[str, bytes]:
    css = CSS.read_text()
    bare = re.sub(r"<script\b.*?</script>", "", html, flags=re.S)
    bare = re.sub(r"<link\b[^>]*>", "", bare)
    inline = bare.replace("</head>", f"<style>{css}</style></head>", 1)
    generic = re.sub(r"--mono:[^;]*;", "--mono: monospace;", inline)
    generic = re.sub(r"--sans:[^;]*;", "--sans: sans-serif;", generic)
    return {
        "one line": b"<!doctype html><title>x</title><p>AAPL 190.00</p>",
        "page, no css": bare.encode(),
        "page, css inline": inline.encode(),
        "page, generic fonts": generic.encode(),
        "page, css inline, no bars": re.sub(r'data-bars="[^"]*"', 'data-bars="[]"', inline).encode(),
    }


def serve(pages: list[bytes]) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the standard library's name)
            index = self.path.strip("/")
            body = pages[int(index)] if index.isdigit() and int(index) < len(pages) else b""
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with BenchStack() as stack:
        subprocess.run([sys.executable, "manage.py", "shell", "-c", SEED_SCRIPT], cwd=ROOT, env=stack.env, check=True)
        html = httpx.get(stack.base_url + "/").text
    pages = variants(html)
    names = list(pages)
    server = serve([pages[name] for name in names])
    paints: dict[str, list[float]] = {name: [] for name in names}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for run in range(args.runs + 1):  # the first round warms the server and the browser process
            for index, name in enumerate(names):
                context = browser.new_context(viewport={"width": 1440, "height": 900})
                page = context.new_page()
                page.goto(f"http://127.0.0.1:{server.server_port}/{index}", wait_until="load")
                page.wait_for_function("() => performance.getEntriesByName('first-contentful-paint').length > 0")
                fcp = page.evaluate("() => performance.getEntriesByName('first-contentful-paint')[0].startTime")
                context.close()
                if run:
                    paints[name].append(fcp)
        browser.close()
    server.shutdown()
    for name in names:
        print(f"{name:22s} {len(pages[name]) / 1024:6.1f} KB  "
              f"first paint median {statistics.median(paints[name]):5.0f} ms"
              f"  (min {min(paints[name]):.0f}, max {max(paints[name]):.0f})")


if __name__ == "__main__":
    main()
