/* FinAlly's main chart: Lightweight Charts (vendored, static/vendor) over the bars the server put in the page.
 *
 * The chart panel carries its bars (data-bars: "t,o,h,l,c" per bar, oldest first), so the chart is
 * full as soon as this script runs, with no request. From then on workstation.js hands it each streamed price of
 * the charted ticker (tick): the bar in progress grows, a new one starts when its bucket ends. A timeframe
 * button swaps the panel for one with that timeframe's bars (the server remembers the choice); candles or line
 * is this browser's choice (localStorage) and redraws the same bars.
 *
 * Times: intraday bars are handed to Lightweight Charts in UTC and its axis and crosshair formatters read them on
 * the browser's own clock (see chartTime); a day bar is its US Eastern calendar date
 * (market/bars.py). The open orders' prices are price lines (orders), read by workstation.js from the open-orders
 * panel's rows; one within ORDER_NEAR of the price widens the chart's range, a farther one is listed at the edge.
 * One global, window.FinallyChart. No eval, no inline style (the library sets styles through the DOM, which the
 * CSP allows).
 */
(function () {
  "use strict";

  // The library loads async (it does not hold up DOMContentLoaded, so the page's stream connects without waiting
  // for its 62 KB): read when a chart is mounted, and a mount that came too early is made again once it loads.
  var LWC = window.LightweightCharts;
  if (!LWC) {
    var tag = document.querySelector("script[data-chart-library]");
    if (tag) tag.addEventListener("load", function () {
      LWC = window.LightweightCharts;
      document.dispatchEvent(new Event("finally:chart-library"));
    });
  }
  var fmt = window.FinallyFormat;
  var STYLE_KEY = "finally.chartStyle";
  var ORDER_NEAR = 0.02;
  var SHORT_HISTORY = 60; // bars: fewer are spread over the chart's width
  var MIN_RANGE = 0.01; // of the price: the price axis's smallest span
  var current = null; // the chart on the page now: see mount()

  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

  function chosenStyle() {
    try { return localStorage.getItem(STYLE_KEY) === "line" ? "line" : "candles"; } catch (err) { return "candles"; }
  }

  // --- time ----------------------------------------------------------------------------------------------
  var eastern = new Intl.DateTimeFormat("en-US", {
    timeZone: "America/New_York", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  function easternParts(t) {
    var out = {};
    eastern.formatToParts(new Date(t * 1000)).forEach(function (p) { out[p.type] = p.value; });
    return out;
  }
  // The start of the US Eastern calendar day holding t (market/bars.py _day_start). The wall clock's hours since
  // midnight are not the seconds since it on the days the clocks change: the first guess is put right by the hour
  // it lands on (23:00 the day before in spring, 01:00 in autumn).
  function easternDayStart(t) {
    t = Math.floor(t);
    var p = easternParts(t);
    var guess = t - (Number(p.hour) * 3600 + Number(p.minute) * 60 + Number(p.second));
    var q = easternParts(guess);
    if (q.day !== p.day) return guess + (24 - Number(q.hour)) * 3600;
    return guess - Number(q.hour) * 3600;
  }
  function bucketOf(t, seconds) {
    if (seconds === 86400) return easternDayStart(t);
    return Math.floor(t / seconds) * seconds;
  }
  // Intraday bars keep their UTC time (no two minutes share one, whatever the clocks do: a time shifted into the
  // browser's zone repeats an hour each autumn, which Lightweight Charts refuses); the formatters below read it on
  // the browser's clock. A day bar is its US Eastern calendar date.
  function chartTime(t, seconds) {
    if (seconds === 86400) {
      var p = easternParts(t + 3600); // an hour in: clear of the day's first second whatever the clocks did
      return p.year + "-" + p.month + "-" + p.day;
    }
    return t;
  }
  function timeText(t, seconds) {
    var d = new Date(t * 1000);
    if (seconds === 86400) {
      var p = easternParts(t + 3600);
      return p.year + "-" + p.month + "-" + p.day;
    }
    return d.toLocaleDateString([], { month: "short", day: "numeric" }) + " " + clockText(d);
  }
  function clockText(d) {
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
  }
  // The crosshair's time label: a business day ({year, month, day}) or "YYYY-MM-DD" is a day bar's date as it is.
  function crosshairTime(time) {
    if (typeof time === "number") return timeText(time, 60);
    if (typeof time === "string") return time;
    return time.year + "-" + String(time.month).padStart(2, "0") + "-" + String(time.day).padStart(2, "0");
  }
  // The axis's marks on the browser's clock. The library places a day's mark at a UTC midnight, which is no
  // midnight here: it reads as the date and the time it is here ("Nov 26 19:00"), a date alone at this midnight.
  function tickMark(time, type) {
    if (typeof time !== "number") {
      var day = crosshairTime(time);
      return type === 0 ? day.slice(0, 4) : day.slice(5);
    }
    var d = new Date(time * 1000);
    if (type === 0) return String(d.getFullYear());
    if (type === 1) return d.toLocaleDateString([], { month: "short", year: "numeric" }); // "Dec 2026", no day read into it
    var date = d.toLocaleDateString([], { month: "short", day: "numeric" });
    if (d.getHours() === 0 && d.getMinutes() === 0) return date;
    return type === 2 ? date + " " + clockText(d) : clockText(d); // a day's mark, at a UTC midnight: its date too
  }

  // --- the series ----------------------------------------------------------------------------------------
  function point(bar, c) {
    var time = chartTime(bar.t, c.seconds);
    if (c.style === "line") return { time: time, value: bar.c };
    return { time: time, open: bar.o, high: bar.h, low: bar.l, close: bar.c };
  }

  function addSeries(c) {
    var up = cssVar("--up"), down = cssVar("--down");
    var common = {
      // Steps of a cent from $1 up, of 1/10,000 below (as quotes are): no axis label repeats a rounded price.
      priceFormat: { type: "custom", formatter: fmt.price, minMove: (lastClose(c) || 1) >= 1 ? 0.01 : 0.0001 },
      // The open orders near the price are in view: the range takes them in (a far one is listed at the edge).
      autoscaleInfoProvider: function (original) {
        var res = original();
        if (!res || !res.priceRange) return res;
        var range = res.priceRange;
        near(c).forEach(function (level) {
          range.minValue = Math.min(range.minValue, level);
          range.maxValue = Math.max(range.maxValue, level);
        });
        // At least MIN_RANGE of the price from top to bottom: a first bar's 14 cents do not fill the chart as a crash
        // would (the P&L chart has the same floor, in dollars).
        var floor = (lastClose(c) || 0) * MIN_RANGE, mid = (range.minValue + range.maxValue) / 2;
        if (range.maxValue - range.minValue < floor) {
          range.minValue = mid - floor / 2;
          range.maxValue = mid + floor / 2;
        }
        return res;
      },
    };
    if (c.style === "line") {
      c.series = c.chart.addSeries(LWC.LineSeries, Object.assign({ color: cssVar("--blue"), lineWidth: 2 }, common));
    } else {
      c.series = c.chart.addSeries(LWC.CandlestickSeries, Object.assign({
        upColor: up, downColor: down, borderUpColor: up, borderDownColor: down, wickUpColor: up, wickDownColor: down,
      }, common));
    }
    c.series.setData(c.bars.map(function (b) { return point(b, c); }));
    c.lines = [];
    c.openLine = null;
    if (c.open) {
      c.openLine = c.series.createPriceLine({
        price: c.open, color: cssVar("--muted"), lineWidth: 1, lineStyle: LWC.LineStyle.Dotted,
        axisLabelVisible: true, title: "Open",
      });
    }
    drawOrders(c);
  }

  function lastClose(c) { return c.bars.length ? c.bars[c.bars.length - 1].c : null; }

  function near(c) {
    var last = lastClose(c);
    if (last === null) return [];
    return c.orders.map(function (o) { return o.price; }).filter(function (level) {
      return Math.abs(level - last) <= last * ORDER_NEAR;
    });
  }

  // --- the readout: what the crosshair points at, else the last bar -----------------------------------------
  function readout(c, bar, prev) {
    var el = c.el.querySelector("[data-readout]");
    if (!el) return;
    if (!bar) { el.textContent = ""; delete el.dataset.t; return; }
    var base = prev ? prev.c : bar.o;
    var change = bar.c - base, pct = base ? (change / base) * 100 : 0;
    el.dataset.t = String(bar.t);
    el.textContent = timeText(bar.t, c.seconds) + "  O " + fmt.price(bar.o) + "  H " + fmt.price(bar.h) +
      "  L " + fmt.price(bar.l) + "  C " + fmt.price(bar.c) + "  " + (change >= 0 ? "+" : "-") + // the hyphen, as every figure on the page
      Math.abs(change).toFixed(base >= 1 ? 2 : 4) + " (" + fmt.signedPercent(pct) + ")"; // in the price's own steps
    el.classList.remove("up", "down", "flat");
    el.classList.add(fmt.tone(change));
  }
  function readLast(c) {
    var n = c.bars.length;
    readout(c, c.bars[n - 1], c.bars[n - 2]);
  }

  // --- the open orders ---------------------------------------------------------------------------------------
  function drawOrders(c) {
    c.lines.forEach(function (line) { c.series.removePriceLine(line); });
    c.lines = [];
    var last = lastClose(c);
    var far = { above: [], below: [] };
    var placed = {}; // orders of one side at one price share a line and a label (the same order twice reads "×2")
    c.orders.forEach(function (o) {
      var edge = last === null || Math.abs(o.price - last) <= last * ORDER_NEAR ? "" : o.price > last ? "above" : "below";
      var key = o.side + " " + o.price + " " + edge;
      var d = placed[key];
      if (!d) d = placed[key] = { side: o.side, price: o.price, edge: edge, labels: [] };
      var same = d.labels.filter(function (l) { return l.text === o.label; })[0];
      if (same) same.n++; else d.labels.push({ text: o.label, n: 1 });
    });
    Object.keys(placed).forEach(function (key) {
      var d = placed[key];
      var title = d.labels.map(function (l) { return l.text + (l.n > 1 ? " ×" + l.n : ""); }).join(" · ");
      if (d.edge) { far[d.edge].push({ side: d.side, text: title }); return; }
      var line = c.series.createPriceLine({
        price: d.price, color: cssVar(d.side === "buy" ? "--up" : "--down"), lineWidth: 1,
        lineStyle: LWC.LineStyle.Dashed, axisLabelVisible: true, title: title,
      });
      line.finally = { side: d.side, price: d.price, title: title };
      c.lines.push(line);
    });
    ["above", "below"].forEach(function (edge) {
      var el = c.el.querySelector('[data-far="' + edge + '"]');
      if (!el) return;
      el.textContent = "";
      far[edge].forEach(function (d) {
        var span = document.createElement("span");
        span.className = d.side;
        span.textContent = (edge === "above" ? "↑ " : "↓ ") + d.text;
        el.appendChild(span);
      });
      el.hidden = !far[edge].length;
    });
    c.far = far;
  }

  // --- mounting ----------------------------------------------------------------------------------------------
  function unmount() {
    if (!current) return;
    current.chart.remove();
    current = null;
  }

  function mount() {
    var el = document.getElementById("chart");
    var plot = el && el.querySelector("[data-plot]");
    if (current && current.el === el) return current;
    unmount();
    LWC = LWC || window.LightweightCharts;
    if (!plot || !plot.dataset.timeframe || !LWC) return null;
    var d = plot.dataset;
    var c = {
      el: el, ticker: el.dataset.ticker, timeframe: d.timeframe, seconds: Number(d.seconds),
      open: d.open ? Number(d.open) : null, style: chosenStyle(), orders: [], lines: [], far: { above: [], below: [] },
      bars: d.bars.split(" ").filter(Boolean).map(function (text) {
        var b = text.split(",").map(Number);
        return { t: b[0], o: b[1], h: b[2], l: b[3], c: b[4] };
      }),
    };
    var complete = "complete" in d;
    var muted = cssVar("--muted"), grid = "#1c2430";
    c.chart = LWC.createChart(plot, {
      autoSize: true,
      // No logo: it injects a <style>, which the CSP forbids; the panel links the attribution instead.
      layout: { background: { type: "solid", color: "transparent" }, textColor: muted, fontSize: 11,
                fontFamily: cssVar("--mono"), attributionLogo: false },
      grid: { vertLines: { color: grid }, horzLines: { color: grid } },
      rightPriceScale: { borderColor: cssVar("--border"), scaleMargins: { top: 0.08, bottom: 0.08 } },
      timeScale: { borderColor: cssVar("--border"), timeVisible: c.seconds < 86400, secondsVisible: false, rightOffset: 4,
                   maxBarSpacing: 24, tickMarkFormatter: tickMark },
      crosshair: { mode: LWC.CrosshairMode.Normal },
      localization: { priceFormatter: fmt.price, timeFormatter: crosshairTime },
    });
    addSeries(c);
    // A short history fills the width (candles up to maxBarSpacing wide) instead of huddling at the right edge.
    if (c.bars.length && c.bars.length < SHORT_HISTORY) c.chart.timeScale().fitContent();
    // The history begins where this server began pricing the ticker: said, not drawn over with an invented past.
    var note = el.querySelector("[data-chart-note]");
    if (note) {
      if (!c.bars.length) note.textContent = "No history yet: it starts with the first price.";
      else if (!complete) {
        var since = timeText(d.since ? Number(d.since) : c.bars[0].t, 60);
        note.textContent = d.source === "massive"
          ? "History from " + since + ": the oldest minute FinAlly keeps of " + c.ticker + "."
          : "History from " + since + ", when FinAlly first priced " + c.ticker + ".";
      }
      note.hidden = complete;
    }
    // The crosshair's bar by its logical index: the series holds exactly c.bars, one point each, in order.
    c.chart.subscribeCrosshairMove(function (param) {
      var i = param && param.point && param.logical !== undefined ? Math.round(param.logical) : -1;
      c.hovering = i >= 0 && i < c.bars.length;
      if (c.hovering) readout(c, c.bars[i], c.bars[i - 1]); else readLast(c);
    });
    el.querySelectorAll("[data-chart-style]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.chartStyle === c.style));
    });
    current = c;
    readLast(c);
    return c;
  }

  function setStyle(style) {
    try { localStorage.setItem(STYLE_KEY, style); } catch (err) { /* storage disabled: this page only */ }
    var c = current;
    if (!c || c.style === style) return;
    c.chart.removeSeries(c.series);
    c.style = style;
    addSeries(c);
    c.el.querySelectorAll("[data-chart-style]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.chartStyle === style));
    });
  }

  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("#chart [data-chart-style]");
    if (b) setStyle(b.dataset.chartStyle);
  });

  window.FinallyChart = {
    mount: mount,
    // A streamed price of `ticker` at time `at` (seconds): the charted ticker's bar in progress takes it.
    tick: function (ticker, at, p) {
      var c = current;
      if (!c || c.ticker !== ticker || !(p > 0)) return;
      var t = bucketOf(at, c.seconds), bars = c.bars, last = bars[bars.length - 1];
      if (last && t < last.t) return; // a resent tick after a reconnect
      if (last && t === last.t) {
        if (p > last.h) last.h = p;
        if (p < last.l) last.l = p;
        last.c = p;
      } else {
        last = { t: t, o: p, h: p, l: p, c: p };
        bars.push(last);
        if (c.lines.length || c.far.above.length || c.far.below.length) drawOrders(c); // near and far move with the price
      }
      try {
        c.series.update(point(last, c));
      } catch (err) {
        // Whatever the library refuses of one tick, the page's other live figures still take it (workstation.js
        // goes on after this call): the series is drawn again from the bars.
        c.series.setData(c.bars.map(function (b) { return point(b, c); }));
      }
      if (!c.hovering) readLast(c);
    },
    // The charted ticker's open orders: [{side, price, label}], from the open-orders panel.
    orders: function (orders) {
      var c = current;
      if (!c) return;
      var key = JSON.stringify(orders);
      if (c.ordersKey === key) return;
      c.ordersKey = key;
      c.orders = orders;
      drawOrders(c);
      c.chart.priceScale("right").applyOptions({ autoScale: true });
    },
    ticker: function () { return current ? current.ticker : null; },
    // The bar a time falls in (seconds; 86400: the US Eastern day), as market/bars.py's bucket: for the tests.
    bucket: bucketOf,
    // The price axis's visible range, top and bottom: for the tests.
    range: function () {
      var c = current;
      if (!c) return null;
      var pane = c.chart.paneSize().height;
      return [c.series.coordinateToPrice(0), c.series.coordinateToPrice(pane)];
    },
    // What the chart shows, for tests and for the curious: bars, the last one, its style and its lines.
    state: function () {
      var c = current;
      if (!c) return null;
      return {
        ticker: c.ticker, timeframe: c.timeframe, style: c.style, bars: c.bars.length,
        last: c.bars[c.bars.length - 1] || null, open: c.open,
        lines: c.lines.map(function (l) { return l.finally; }), far: c.far,
      };
    },
  };
})();
