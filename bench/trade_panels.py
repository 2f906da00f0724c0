"""A trade from the trade bar to every panel showing the new numbers, in headless Chromium (Debian's), A/B.

    .venv/bin/python bench/trade_panels.py --root ../before --root . [--trades 40] [--rounds 2]

For each checkout (`--root`; in turn, round after round in alternating order): a throwaway FinAlly (its own
bench/stack.py: worker + uvicorn), the workstation loaded once, then `--trades` orders of 1 AAPL from the trade bar,
buy and sell in turn. Each is timed from the click on Buy/Sell to the moment the last of the panels a fill
refreshes (summary, positions, heat map, P&L, blotter) has been swapped in by htmx (its new HTML is in the page:
htmx:afterSwap), and checked: the blotter has one trade more and the header's cash is the one the fill left (the
database's). Median and p90 per checkout.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import load_stack  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PANELS = ["summary", "positions", "heatmap", "pnl", "blotter"]

# Runs before any page script (injected by the browser, not subject to the page's CSP): when each panel was last
# swapped in.
OBSERVE = """
window.__swapped = {};
document.addEventListener('htmx:afterSwap', (e) => {
  const id = e.detail.target && e.detail.target.id;
  if (id) window.__swapped[id] = performance.now();
});
"""

ONE_TRADE = """async ([side, panels]) => {
  const before = document.querySelectorAll('#blotter tr[data-trade]').length;
  window.__swapped = {};
  const start = performance.now();
  document.getElementById('trade-' + side).click();
  await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('panels not all refreshed: ' + JSON.stringify(window.__swapped))), 10000);
    (function check() {
      if (panels.every(id => window.__swapped[id] > start)) { clearTimeout(timer); resolve(); }
      else requestAnimationFrame(check);
    })();
  });
  const last = Math.max(...panels.map(id => window.__swapped[id]));
  return {ms: last - start, trades: document.querySelectorAll('#blotter tr[data-trade]').length - before,
          cash: document.getElementById('summary').dataset.cash};
}"""


def run_checkout(playwright, root: Path, trades: int) -> list[float]:
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"], cwd=root, check=True)
    with load_stack(root)() as stack:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.add_init_script(OBSERVE)
        page.goto(stack.base_url + "/", wait_until="load")
        page.fill("#trade-ticker", "AAPL")
        timings = []
        for n in range(trades + 3):  # the first three warm the server and the browser, not counted
            page.fill("#trade-ticker", "AAPL")
            page.fill("#trade-quantity", "1")
            result = page.evaluate(ONE_TRADE, ["buy" if n % 2 == 0 else "sell", PANELS])
            cash = stack.query("SELECT cash_balance FROM users_profile")[0][0]
            if result["trades"] != 1 or float(result["cash"]) != float(cash):
                raise SystemExit(f"{root}: trade {n} left the page wrong: {result}, database cash {cash}")
            if n >= 3:
                timings.append(result["ms"])
            time.sleep(0.05)
        browser.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, action="append", help="a checkout to measure (repeat for A/B)")
    parser.add_argument("--trades", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    roots = args.root or [Path(".")]
    timings: dict[str, list[list[float]]] = {str(root): [] for root in roots}
    with sync_playwright() as playwright:
        for n in range(args.rounds):
            for root in roots if n % 2 == 0 else roots[::-1]:
                timings[str(root)].append(run_checkout(playwright, root, args.trades))
    for root, rounds in timings.items():
        for n, values in enumerate(rounds):
            ordered = sorted(values)
            print(f"{root} round {n + 1}: trade -> all five panels: median {statistics.median(values):.1f} ms, "
                  f"p90 {ordered[int(0.9 * len(ordered))]:.1f} ms, min {ordered[0]:.1f} ms, max {ordered[-1]:.1f} ms "
                  f"({len(values)} trades)")


if __name__ == "__main__":
    main()
