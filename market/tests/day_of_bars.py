"""A day and more of minute bars for AAPL (1,500, ending a couple of minutes ago), as a `manage.py shell -c` script
run against a stack's database: the main chart's 1m view is then a full day. Used by the browser tests and by
bench/page_load.py --bars."""

SEED_SCRIPT = """
import math, time
from market import bars
from market.bars import Bar
end = (int(time.time()) // 60 - 2) * 60
rows, price = [], 190.0
for i in range(1500):
    o = price
    price = round(price * (1 + 0.002 * math.sin(i / 17) + 0.001 * math.cos(i / 5)), 2)
    rows.append(("AAPL", Bar(end - (1499 - i) * 60, o, max(o, price) + 0.05, min(o, price) - 0.05, price)))
bars.save(rows)
"""
