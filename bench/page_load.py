"""Cold page load of the workstation in headless Chromium (Debian's), median of N runs.

    .venv/bin/python bench/page_load.py --runs 5

Each run is a fresh browser context (empty cache) loading / from a throwaway FinAlly (worker + uvicorn).
Measured: bytes over the wire (encoded, headers included; the endless price stream counted up to the first live
change) and requests, in one run of their own with DevTools' network events on (they slow the browser: a chunk is
an event sent to this process, 50-140 ms in all on this machine); then per timed run, time to the first visible
price (first contentful paint: the prices are in the first HTML, and the run checks a price is in the DOM at that
moment), and time to the first live change
(the first price text that changes after load, seen by a MutationObserver), and time to the main chart
interactive (Lightweight Charts has drawn the page's bars: its canvas is there and static/js/chart.js holds
them). Times are from navigation start. --bars seeds a day of minute bars (1,500) for the charted ticker first, so
the chart and the page carry what a trader's would (issue 23's budget).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import ROOT, BenchStack
from market.tests.day_of_bars import SEED_SCRIPT

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Runs before any page script (injected by the browser, not subject to the page's CSP).
OBSERVE = """
window.__firstChange = null;
window.__chartReady = null;
(function chartReady() {
  const state = window.FinallyChart && window.FinallyChart.state();
  if (state && state.bars > 0 && document.querySelector('#chart canvas')) {
    window.__chartReady = performance.now();
    return;
  }
  requestAnimationFrame(chartReady);
})();
document.addEventListener('DOMContentLoaded', () => {
  const first = document.querySelector('[data-px]');
  window.__priceAtDcl = first ? first.textContent.trim() : null;
  const seen = new Map([...document.querySelectorAll('#watchlist [data-px]')].map(e => [e, e.textContent.trim()]));
  new MutationObserver(() => {
    if (window.__firstChange !== null) return;
    for (const [el, text] of seen) {
      if (el.isConnected && el.textContent.trim() !== text) { window.__firstChange = performance.now(); return; }
    }
  }).observe(document.getElementById('watchlist'), {subtree: true, childList: true, characterData: true});
});
"""


def one_run(browser, base_url: str, *, count_bytes: bool) -> dict:
    """One cold load (a new context: an empty cache). With `count_bytes`, DevTools' network events count what came
    over the wire; they cost the browser time of their own (every chunk is an event sent to this process), so the
    timed runs go without them and the bytes come from a run of their own."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.add_init_script(OBSERVE)
    requests: dict[str, str] = {}
    received: dict[str, int] = {}
    if count_bytes:
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        cdp.on("Network.requestWillBeSent", lambda e: requests.setdefault(e["requestId"], e["request"]["url"]))
        cdp.on("Network.dataReceived", lambda e: received.__setitem__(
            e["requestId"], received.get(e["requestId"], 0) + e.get("encodedDataLength", 0)))
        cdp.on("Network.loadingFinished", lambda e: received.__setitem__(e["requestId"], e["encodedDataLength"]))
        cdp.on("Network.responseReceived", lambda e: received.__setitem__(
            e["requestId"], received.get(e["requestId"], 0) + e["response"].get("encodedDataLength", 0)))

    page.goto(base_url + "/", wait_until="load")
    page.wait_for_function("() => window.__firstChange !== null && window.__chartReady !== null", timeout=30_000)
    timings = page.evaluate("""() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const fcp = performance.getEntriesByName('first-contentful-paint')[0];
        return {fcp: fcp ? fcp.startTime : null, ttfb: nav.responseStart, html_done: nav.responseEnd,
                dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, change: window.__firstChange,
                price_at_dcl: window.__priceAtDcl, chart: window.__chartReady,
                bars: window.FinallyChart.state().bars};
    }""")
    context.close()
    assert timings["price_at_dcl"], "no price in the first HTML"
    return {
        "bytes": sum(received.values()),
        "requests": len(requests),
        "ttfb_ms": timings["ttfb"],
        "first_price_ms": timings["fcp"],
        "first_change_ms": timings["change"],
        "load_ms": timings["load"],
        "chart_ms": timings["chart"],
        "bars": timings["bars"],
        "urls": sorted(set(requests.values())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--server", default="uvicorn")
    parser.add_argument("--bars", action="store_true", help="a day of minute bars on the charted ticker (AAPL)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    # Hashed, compressed static files, as `make run` serves them.
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"], cwd=ROOT, check=True)
    with BenchStack(server=args.server) as stack, sync_playwright() as playwright:
        if args.bars:
            subprocess.run(
                [sys.executable, "manage.py", "shell", "-c", SEED_SCRIPT], cwd=ROOT, env=stack.env, check=True
            )
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        one_run(browser, stack.base_url, count_bytes=False)  # warm the server (templates, connections), not the browser
        counted = one_run(browser, stack.base_url, count_bytes=True)
        runs = [one_run(browser, stack.base_url, count_bytes=False) for _ in range(args.runs)]
        browser.close()
    for r in runs:
        r["bytes"], r["requests"], r["urls"] = counted["bytes"], counted["requests"], counted["urls"]
    for r in runs:
        print(f"bytes {r['bytes']:7d}  requests {r['requests']}  ttfb {r['ttfb_ms']:6.1f} ms  "
              f"first price {r['first_price_ms']:6.1f} ms  first change {r['first_change_ms']:7.1f} ms  "
              f"load {r['load_ms']:6.1f} ms  chart {r['chart_ms']:6.1f} ms ({r['bars']} bars)")
    print("requests:", ", ".join(u.replace(stack.base_url, "") for u in runs[0]["urls"]))
    med = {k: statistics.median(r[k] for r in runs) for k in ("bytes", "requests", "ttfb_ms", "first_price_ms",
                                                                "first_change_ms", "load_ms", "chart_ms")}
    print(f"median of {args.runs}: {med['bytes'] / 1024:.1f} KB over the wire, {med['requests']:.0f} requests, "
          f"first visible price {med['first_price_ms']:.0f} ms (TTFB {med['ttfb_ms']:.0f} ms), "
          f"first live change {med['first_change_ms']:.0f} ms, load {med['load_ms']:.0f} ms, "
          f"chart interactive {med['chart_ms']:.0f} ms")


if __name__ == "__main__":
    main()
