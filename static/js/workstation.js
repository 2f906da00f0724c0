/* FinAlly workstation: what htmx does not do by itself.
 *
 * htmx swaps each tick's HTML (rendered once per web process, the same for every user) into the hidden
 * #tick element. This script places each quote where the page shows it: price text and its flash, change %,
 * sparklines and the P&L line (extended from the server-drawn SVG), the main chart's bar in progress (chart.js),
 * and the numbers that depend on this
 * page's portfolio (header total, position value and P&L, heatmap colors), computed here from the streamed
 * prices and the quantities and costs the server rendered as data-* attributes; the trade ticket's preview
 * (ticket.js has its rules) and the open orders' lines on the main chart (chart.js draws them) come from the same. It also keeps the
 * connection dot honest, selects a ticker on a watchlist click, focuses the command line on "/", and gives the
 * assistant's panel its chat manners (Enter sends; the question shows at once with a thinking line).
 * No eval, no inline styles: the Content-Security-Policy allows neither.
 */
(function () {
  "use strict";

  var W = 1000, H = 100;
  var SPARK_LIMIT = 80;
  var body = document.body;
  var historySeconds = Number(body.dataset.historySeconds) || 1800;
  var quotes = new Map(); // ticker -> {p, o}
  var lines = new WeakMap(); // svg -> {pts: [[t, v]], limit}

  // --- formatting: static/js/format.js, the mirror of core/formatting.py ------------------------------
  var fmt = window.FinallyFormat;
  var cents = fmt.cents, money = fmt.money, signedMoney = fmt.signedMoney, signedPercent = fmt.signedPercent;
  var tone = fmt.tone;
  function setTone(el, v) {
    el.classList.remove("up", "down", "flat");
    el.classList.add(tone(v));
  }
  function byTicker(attr, ticker) {
    return document.querySelectorAll("[" + attr + '="' + CSS.escape(ticker) + '"]');
  }

  function flash(el, dir) {
    el.classList.remove("flash-up", "flash-down");
    void el.offsetWidth; // restart the animation
    el.classList.add("flash-" + dir);
  }

  // --- line charts: read back the server's SVG, extend it, redraw ------------------------------------
  function readLine(svg) {
    var s = lines.get(svg);
    if (s) return s;
    var d = svg.dataset;
    var t0 = Number(d.t0), t1 = Number(d.t1), lo = Number(d.lo), hi = Number(d.hi), n = Number(d.n) || 0;
    var pts = [];
    if (n > 0) {
      var raw = svg.querySelector("polyline").getAttribute("points").trim().split(/\s+/);
      raw.forEach(function (pair) {
        var xy = pair.split(",");
        pts.push([t0 + (Number(xy[0]) / W) * (t1 - t0), hi - (Number(xy[1]) / H) * (hi - lo)]);
      });
      if (n === 1 && pts.length === 2) pts.shift(); // the server drew one point as a short segment
    }
    s = { pts: pts, limit: SPARK_LIMIT };
    lines.set(svg, s);
    return s;
  }

  function drawLine(svg, pts) {
    var poly = svg.querySelector("polyline");
    if (!pts.length) return null;
    var lo = Infinity, hi = -Infinity;
    pts.forEach(function (p) { if (p[1] < lo) lo = p[1]; if (p[1] > hi) hi = p[1]; });
    // workstation/charts.py value_range: 8% room each side, and no narrower than the chart's data-min-span.
    var pad = (hi - lo) * 0.08 || Math.max(Math.abs(hi) * 0.001, 0.01);
    lo -= pad; hi += pad;
    var minSpan = Number(svg.dataset.minSpan) || 0;
    if (hi - lo < minSpan) { var mid = (hi + lo) / 2; lo = mid - minSpan / 2; hi = mid + minSpan / 2; }
    var t0 = pts[0][0], t1 = pts[pts.length - 1][0], span = t1 - t0 || 1;
    var out = pts.map(function (p) {
      var x = t1 === t0 ? W : ((p[0] - t0) / span) * W;
      return x.toFixed(1) + "," + (((hi - p[1]) / (hi - lo)) * H).toFixed(2);
    });
    if (out.length === 1) out.unshift("0," + out[0].split(",")[1]);
    poly.setAttribute("points", out.join(" "));
    svg.dataset.last = pts[pts.length - 1][1].toFixed(6);
    return { lo: lo, hi: hi };
  }

  function extendLine(svg, t, v) {
    var s = readLine(svg), pts = s.pts;
    if (pts.length && t <= pts[pts.length - 1][0]) return null; // a resent tick after a reconnect
    pts.push([t, v]);
    while (pts.length > 2 && pts[0][0] < t - historySeconds) pts.shift();
    if (pts.length > 2 * s.limit) {
      // Halve the older points, keep the newest: the same shape at the server's resolution.
      var kept = [];
      for (var i = 0; i < pts.length - 1; i += 2) kept.push(pts[i]);
      kept.push(pts[pts.length - 1]);
      s.pts = pts = kept;
    }
    return drawLine(svg, pts);
  }

  // --- each tick ---------------------------------------------------------------------------------------
  function applyTick() {
    var ol = document.querySelector("#tick > ol");
    if (!ol) return;
    var at = Number(ol.dataset.at);
    feed.tick(at);
    var fresh = !feed.stale();
    Array.prototype.forEach.call(ol.children, function (li) {
      var t = li.dataset.t, p = Number(li.dataset.p), o = Number(li.dataset.o);
      var prev = quotes.get(t);
      quotes.set(t, { p: p, o: o });
      var text = li.querySelector("b").textContent;
      var change = li.querySelector("i");
      // Only a change seen here flashes: the first tick after the page loads (or a panel appears) would flash every
      // price at once for moves the page never showed.
      var dir = prev ? (p > prev.p ? "up" : p < prev.p ? "down" : null) : null;
      byTicker("data-px", t).forEach(function (el) {
        if (el.textContent.trim() === text) return;
        el.textContent = text;
        if (dir) flash(el, dir);
      });
      // A ticker whose source stopped sending its price (the server marks it, market/quotes.py is_live). Only a
      // fresh tick can say a price is live again: an old one (the hub replays the last tick to a new stream, the
      // feed stalled) is no news, and its quotes stay as stale as they were.
      if (li.hasAttribute("data-s")) staleQuotes.set(t, Number(li.dataset.s)); else if (fresh) staleQuotes.delete(t);
      byTicker("data-chg", t).forEach(function (el) {
        el.textContent = change.textContent;
        el.classList.remove("up", "down", "flat");
        el.classList.add(change.className || "flat");
      });
      byTicker("data-series", t).forEach(function (svg) {
        extendLine(svg, at, p);
        svg.classList.remove("up", "down", "flat");
        svg.classList.add(change.className || "flat");
      });
      // The chart's trouble stays the chart's: the totals, the marks and the ticket below still take the tick.
      // A price the tick repeats is no news for the chart (Massive repeats the last trade all night): only a
      // change, or the first price this page sees, grows a bar.
      try { if (window.FinallyChart && (!prev || p !== prev.p)) FinallyChart.tick(t, at, p); } catch (err) { console.error(err); }
    });
    updatePortfolio(at);
    markStale();
    followStream(ol);
    updateTicket();
  }

  // --- the open orders of the charted ticker, drawn as lines on the main chart (chart.js). Read from the
  // open-orders panel's rows (data-order-*), so the page holds one copy of them; again when either is swapped. ---
  function chartOrders() {
    if (!window.FinallyChart || !FinallyChart.mount()) return;
    var ticker = FinallyChart.ticker();
    var rows = document.querySelectorAll('#orders tr[data-order-ticker="' + CSS.escape(ticker) + '"]');
    FinallyChart.orders(Array.prototype.map.call(rows, function (row) {
      return { side: row.dataset.orderSide, price: Number(row.dataset.orderPrice), label: row.dataset.orderLabel };
    }));
  }

  // The stream carries every watched or held ticker: a watchlist row it carried before and no longer does (not
  // held) was removed by another client (the API, another tab). The watchlist panel is re-rendered, once per
  // disappearance: a row the stream never carried (just added, unknown to the source) is left as it is.
  var streamed = new Set(); // the watched tickers the last frame carried
  function followStream(ol) {
    var now = new Set(), next = new Set(), gone = false;
    Array.prototype.forEach.call(ol.children, function (li) { now.add(li.dataset.t); });
    document.querySelectorAll("#watchlist tr[data-row]").forEach(function (row) {
      var t = row.dataset.row;
      if (now.has(t)) next.add(t); else if (streamed.has(t) && !held(t)) gone = true;
    });
    streamed = next;
    if (gone && window.htmx) htmx.trigger(body, "watchlist-changed");
  }

  // A watchlist row is marked stale while its own quote is (the stream says so) or the whole feed is (the dot
  // says so): the server marks them alike on a first paint (workstation.html), and a stalled feed sends no tick.
  // A stale row says how old its price is: since its source last sent it (the stream's data-s), or, when the
  // whole feed stalled, since the last tick.
  var staleQuotes = new Map(); // ticker -> when its price was last received (epoch s, server clock; 0 unknown)
  document.querySelectorAll("#watchlist tr[data-row][data-stale]").forEach(function (row) {
    staleQuotes.set(row.dataset.row, Number(row.dataset.since) || 0);
  });
  function ageText(seconds) {
    if (!(seconds >= 0)) return "";
    if (seconds < 90) return Math.round(seconds) + "s";
    if (seconds < 5400) return Math.round(seconds / 60) + "m";
    if (seconds < 172800) return Math.round(seconds / 3600) + "h";
    return Math.round(seconds / 86400) + "d";
  }
  function markStale() {
    var all = feed.stale();
    document.querySelectorAll("#watchlist tr[data-row]").forEach(function (row) {
      var stale = all || staleQuotes.has(row.dataset.row);
      var cell = row.querySelector("td.px");
      if (stale && cell) {
        var since = staleQuotes.get(row.dataset.row) || feed.lastTick();
        cell.dataset.age = since ? ageText(feed.serverNow() - since) : "";
      }
      if (stale === row.hasAttribute("data-stale")) return;
      row.toggleAttribute("data-stale", stale);
      if (stale) row.title = row.closest("table").dataset.staleTitle || "stale"; else row.removeAttribute("title");
    });
  }

  // Portfolio numbers from the streamed prices and the rendered quantities and costs (data-*).
  var HEAT_STEPS = [0.005, 0.25, 1, 3]; // as workstation/panels.py
  function heatClass(pct) {
    var a = Math.abs(pct), step = 0;
    while (step < HEAT_STEPS.length && a >= HEAT_STEPS[step]) step++;
    return step === 0 ? "hm-0" : "hm-" + (pct > 0 ? "p" : "n") + step;
  }

  function valued(ticker, qty, cost, fallback) {
    var q = quotes.get(ticker);
    var p = q ? q.p : fallback;
    if (p === null || p === undefined || isNaN(p)) return { value: cost, priced: false };
    return { value: cents(qty * p), priced: true };
  }

  function updatePortfolio(at) {
    var summary = document.getElementById("summary");
    if (!summary) return;
    var invested = 0, unrealized = 0, costs = 0;
    document.querySelectorAll("#positions tr[data-position]").forEach(function (row) {
      var qty = Number(row.dataset.qty), cost = Number(row.dataset.cost);
      var v = valued(row.dataset.position, qty, cost, row.dataset.p === "" ? null : Number(row.dataset.p));
      invested += v.value;
      unrealized += v.value - cost;
      costs += cost;
      if (!v.priced) return;
      var pnl = v.value - cost, pct = cost ? (pnl / cost) * 100 : 0;
      var valueEl = row.querySelector("[data-value]"), pnlEl = row.querySelector("[data-pnl]"), pctEl = row.querySelector("[data-pnl-pct]");
      if (valueEl) valueEl.textContent = money(v.value);
      if (pnlEl) { pnlEl.textContent = signedMoney(pnl); setTone(pnlEl, pnl); }
      if (pctEl) { pctEl.textContent = signedPercent(pct); setTone(pctEl, pct); }
    });
    var totals = document.querySelector("#positions [data-totals]");
    if (totals) {
      var pctAll = costs ? (unrealized / costs) * 100 : 0;
      totals.querySelector("[data-total-value]").textContent = money(invested);
      var totalPnl = totals.querySelector("[data-total-pnl]"), totalPct = totals.querySelector("[data-total-pnl-pct]");
      totalPnl.textContent = signedMoney(unrealized); setTone(totalPnl, unrealized);
      totalPct.textContent = signedPercent(pctAll); setTone(totalPct, pctAll);
    }
    var totalValue = cents(Number(summary.dataset.cash) + invested);
    var total = summary.querySelector("[data-total]");
    if (total) total.textContent = money(totalValue);
    updatePnl(totalValue, at);
    var day = summary.querySelector("[data-day-pnl]");
    if (day && day.dataset.dayStart) {
      var dayPnl = totalValue - Number(day.dataset.dayStart);
      day.textContent = signedMoney(dayPnl); setTone(day, dayPnl);
    }
    var unrl = summary.querySelector("[data-unrealized]");
    if (unrl) { unrl.textContent = signedMoney(unrealized); setTone(unrl, unrealized); }
    document.querySelectorAll("#heatmap [data-tile]").forEach(function (tile) {
      var qty = Number(tile.dataset.qty), cost = Number(tile.dataset.cost);
      var v = valued(tile.dataset.tile, qty, cost, null);
      if (!v.priced) return;
      var pct = cost ? ((v.value - cost) / cost) * 100 : 0;
      tile.setAttribute("class", "tile " + heatClass(pct));
      var label = tile.querySelector("[data-tile-pct]");
      if (label) label.textContent = signedPercent(pct);
    });
  }

  // The P&L panel ends at the value now: its figure, its change and its line's last point are the header's total.
  function updatePnl(totalValue, at) {
    var panel = document.getElementById("pnl");
    if (!panel) return;
    var last = panel.querySelector("[data-pnl-last]");
    if (last) last.textContent = money(totalValue);
    var change = panel.querySelector("[data-pnl-change]");
    if (change && change.dataset.first !== "") {
      var delta = totalValue - Number(change.dataset.first);
      change.textContent = signedMoney(delta);
      setTone(change, delta);
    }
    var svg = panel.querySelector("svg.pnl");
    if (!svg) return;
    var pts = readLine(svg).pts;
    if (!pts.length) return;
    var end = pts[pts.length - 1];
    pts[pts.length - 1] = [at && at > end[0] ? at : end[0], totalValue];
    var range = drawLine(svg, pts);
    var hiEl = panel.querySelector("[data-axis-hi]"), loEl = panel.querySelector("[data-axis-lo]");
    if (range && hiEl) hiEl.textContent = money(range.hi);
    if (range && loEl) loEl.textContent = money(range.lo);
    var start = svg.querySelector("line.start");
    if (range && start) { // the span's first value, on the scale now
      var y = (((range.hi - Number(start.dataset.start)) / (range.hi - range.lo)) * H).toFixed(2);
      start.setAttribute("y1", y); start.setAttribute("y2", y);
    }
  }

  // --- the connection dot: green live, yellow reconnecting, stale or not live by nature, red disconnected -
  var feed = (function () {
    var el = document.getElementById("conn");
    var text = el.querySelector(".conn-text");
    // The server's one freshness rule (market.quotes.stale_after), always rendered: no second rule here.
    var staleAfter = Number(el.dataset.staleAfter);
    // Browser clock minus server clock, so a tick's age is right even if the two disagree.
    var skew = Date.now() / 1000 - Number(el.dataset.serverNow);
    var lastTick = Number(el.dataset.lastTick) || 0;
    var notice = el.dataset.notice || "";
    var stream = "connecting", errorSince = 0;

    function age() { return lastTick ? Date.now() / 1000 - skew - lastTick : null; }
    function render() {
      var now = Date.now() / 1000, state, words;
      var age = lastTick ? now - skew - lastTick : null;
      if (stream === "error") {
        if (now - errorSince > 10) { state = "down"; words = "disconnected"; }
        else { state = "reconnecting"; words = "reconnecting…"; }
      } else if (age === null) {
        state = "stale"; words = "waiting for prices";
      } else if (age > staleAfter) {
        state = "stale"; words = "prices delayed " + Math.round(age) + " s";
      } else if (notice) {
        state = "notice"; words = notice; // e.g. end-of-day closes: current for the source, not live quotes
      } else {
        state = "live"; words = "live";
      }
      if (el.dataset.state !== state || text.textContent !== words) {
        el.className = "conn " + state;
        el.dataset.state = state;
        text.textContent = words;
      }
      markStale();
    }
    setInterval(render, 500);
    return {
      // No tick for longer than the dot allows (or none yet): every price on the page is old news.
      stale: function () { var a = age(); return a === null || a > staleAfter; },
      lastTick: function () { return lastTick; },
      serverNow: function () { return Date.now() / 1000 - skew; }, // the browser's clock put on the server's
      tick: function (at) { lastTick = at; stream = "open"; render(); },
      open: function () { stream = "open"; render(); },
      error: function () {
        if (stream !== "error") errorSince = Date.now() / 1000;
        stream = "error";
        render();
      },
    };
  })();

  // Signing out of a shared browser: the next account starts from the page's own choices, not this one's.
  var signingOut = false; // then leaving the page keeps none of this account's choices
  body.addEventListener("submit", function (e) {
    if (!e.target.closest || !e.target.closest(".who")) return;
    signingOut = true;
    try { localStorage.removeItem(SELECTED_KEY); localStorage.removeItem("finally.assistant"); } catch (err) { /* storage disabled */ }
  });

  body.addEventListener("htmx:sseMessage", function (e) {
    if (e.target && e.target.id === "tick") applyTick();
    // A fill made elsewhere (another tab, the assistant, a script with a token): as if made here.
    else if (e.target && e.target.id === "book") htmx.trigger(body, "portfolio-changed");
  });
  body.addEventListener("htmx:sseOpen", feed.open);
  body.addEventListener("htmx:sseError", feed.error);
  // A panel re-rendered by the server (after a trade, on its timer) gets the latest streamed prices at once.
  body.addEventListener("htmx:afterSettle", function (e) {
    var id = e.target && e.target.id;
    if (id === "positions" || id === "heatmap" || id === "summary" || id === "pnl") updatePortfolio();
    if (id === "watchlist") { followWatchlist(); markStale(); }
    if (id === "tradebar" || id === "summary" || id === "positions" || id === "orders") updateTicket();
    if (id === "chart" || id === "orders") chartOrders();
  });

  // --- the blotter's times: the server writes UTC; here they read as date and time on the browser's clock ----
  var localTime = new Intl.DateTimeFormat([], { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
                                                second: "2-digit", hourCycle: "h23" });
  function localTimes(id) {
    var panel = document.getElementById(id || "blotter");
    if (!panel) return;
    var t = {};
    localTime.formatToParts(new Date()).forEach(function (part) { t[part.type] = part.value; });
    var today = t.month + "-" + t.day;
    panel.querySelectorAll("time[datetime]").forEach(function (el) {
      var p = {};
      localTime.formatToParts(new Date(el.getAttribute("datetime"))).forEach(function (part) { p[part.type] = part.value; });
      // Today's trades by their time alone; an older one by its date and minute.
      var when = p.month + "-" + p.day;
      el.textContent = when === today ? p.hour + ":" + p.minute + ":" + p.second : when + " " + p.hour + ":" + p.minute;
      el.title = when + " " + p.hour + ":" + p.minute + ":" + p.second;
    });
    var zone = id ? null : document.querySelector(".blotter [data-times]");
    if (zone) zone.textContent = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
  }
  // The P&L chart's start: date and minute on the browser's clock.
  function pnlClock() {
    var el = document.querySelector("#pnl time[data-clock]");
    if (!el) return;
    var p = {};
    localTime.formatToParts(new Date(el.getAttribute("datetime"))).forEach(function (part) { p[part.type] = part.value; });
    el.textContent = p.month + "-" + p.day + " " + p.hour + ":" + p.minute;
  }
  // The conversation's times: the browser's clock, as the blotter's (each once: an answer appends its messages).
  function chatTimes() {
    document.querySelectorAll("#chat-log time[datetime]:not([data-local])").forEach(function (el) {
      var p = {};
      localTime.formatToParts(new Date(el.getAttribute("datetime"))).forEach(function (part) { p[part.type] = part.value; });
      el.textContent = p.hour + ":" + p.minute + ":" + p.second;
      el.title = p.month + "-" + p.day + " " + el.textContent;
      el.dataset.local = "";
    });
  }
  // The alert form's ticker: the charted one, until the user types another.
  var alertTickerFilled = null;
  function fillAlertTicker() {
    var box = document.getElementById("alert-ticker");
    var chart = document.getElementById("chart");
    if (!box || !chart || (box.value && box.value !== alertTickerFilled)) return;
    box.value = alertTickerFilled = chart.dataset.ticker || "";
  }
  document.addEventListener("DOMContentLoaded", function () {
    localTimes(); localTimes("alerts"); pnlClock(); chatTimes(); fillAlertTicker();
  });
  body.addEventListener("htmx:afterSettle", function (e) {
    if (e.target && e.target.id === "blotter") localTimes();
    if (e.target && e.target.id === "alerts") { localTimes("alerts"); fillAlertTicker(); }
    if (e.target && e.target.id === "chart") fillAlertTicker();
    if (e.target && e.target.id === "pnl") pnlClock();
    if (e.target && e.target.closest && e.target.closest("#chat-log, #assistant")) chatTimes();
  });

  // --- selecting a ticker: the main chart loads through htmx, the trade bar gets the ticker ----------
  var SELECTED_KEY = "finally.ticker";
  // In simulator mode, the symbols it knows; a ticker typed into the trade bar that it does not is marked.
  var seeded = body.dataset.seeded ? body.dataset.seeded.split(" ") : null;

  function markTradeTicker() {
    var input = document.getElementById("trade-ticker");
    var mark = document.querySelector("[data-trade-invented]");
    if (!input || !mark || !seeded) return;
    var ticker = input.value.trim().toUpperCase();
    mark.hidden = !ticker || seeded.indexOf(ticker) >= 0;
  }

  // B or S armed the ticket on one ticker (keys.js): once its ticker is another (a row clicked, the assistant
  // removing the charted ticker, a ticker typed), the side goes with the hint, so Enter never trades what it did
  // not name.
  function dropArmedSide(form) {
    if (!form || !form.dataset.side) return;
    var input = form.elements.namedItem("ticker");
    if (input && input.value.trim().toUpperCase() === form.dataset.armed) return;
    delete form.dataset.side;
    delete form.dataset.armed;
    var armed = document.getElementById("trade-armed");
    if (armed) armed.remove();
  }

  function select(ticker) {
    var input = document.getElementById("trade-ticker");
    if (input) input.value = ticker;
    if (input) dropArmedSide(input.form);
    markTradeTicker();
    updateTicket();
    document.querySelectorAll("#watchlist tr[data-row]").forEach(function (row) {
      var on = row.dataset.row === ticker;
      row.classList.toggle("selected", on);
      if (on) row.setAttribute("aria-selected", "true"); else row.removeAttribute("aria-selected");
    });
    try { if (ticker) localStorage.setItem(SELECTED_KEY, ticker); } catch (err) { /* storage disabled */ }
  }

  function watched(ticker) {
    return !!ticker && !!document.querySelector('#watchlist tr[data-row="' + CSS.escape(ticker) + '"]');
  }

  // Chart a ticker (or none), as a click on its row does.
  function chartTicker(ticker) {
    var chart = document.getElementById("chart");
    if (!chart || !window.htmx) return;
    htmx.ajax("GET", chart.dataset.url + "?ticker=" + encodeURIComponent(ticker || ""),
              { target: "#chart", swap: "outerHTML" });
    select(ticker || "");
  }

  // The watchlist changed (from any door: its form, the command line, the assistant): a charted ticker that is no
  // longer on it gives the chart and the trade bar to the first one left; an empty chart takes the first one added.
  function followWatchlist() {
    var chart = document.getElementById("chart");
    if (!chart) return;
    var charted = chart.dataset.ticker;
    if (watched(charted)) return;
    var first = document.querySelector("#watchlist tr[data-row]");
    if (!first && !charted) return;
    chartTicker(first ? first.dataset.row : "");
  }

  function held(ticker) {
    return !!ticker && !!document.querySelector('#positions tr[data-position="' + CSS.escape(ticker) + '"]');
  }

  // The selected ticker survives a reload, if it is still on the watchlist or held (a position's row selects it
  // too), after htmx has set up the page.
  // --- fills of orders that waited, and alerts that fired: told once each, as their panel first lists them after
  // this page loaded (those it listed at load are history, not news). A click or TOAST_MS takes the toast away. ---
  var TOAST_MS = 8000;
  var NEWS = {
    orders: { items: "#orders [data-recent-fills] li[data-fill]", id: "fill", told: null,
              kind: function (text) { return / sell /.test(text) ? " sell" : ""; },
              tip: "Filled while it waited. Click to dismiss." },
    alerts: { items: "#alerts [data-recent-alerts] li[data-alert]", id: "alert", told: null,
              kind: function () { return " alert"; }, tip: "A price alert fired. Click to dismiss." },
  };
  function tellNews(panel) {
    var news = NEWS[panel];
    var items = document.querySelectorAll(news.items);
    if (news.told === null) {
      news.told = new Set(Array.prototype.map.call(items, function (li) { return li.dataset[news.id]; }));
      return;
    }
    var box = document.getElementById("toasts");
    items.forEach(function (li) {
      var id = li.dataset[news.id];
      if (news.told.has(id) || !box) return;
      news.told.add(id);
      var toast = document.createElement("p");
      toast.className = "toast" + news.kind(li.textContent);
      toast.dataset[news.id] = id;
      toast.textContent = li.textContent;
      toast.title = news.tip;
      toast.addEventListener("click", function () { toast.remove(); });
      box.appendChild(toast);
      setTimeout(function () { toast.remove(); }, TOAST_MS);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { tellNews("orders"); tellNews("alerts"); });
  body.addEventListener("htmx:afterSettle", function (e) {
    if (e.target && NEWS[e.target.id]) tellNews(e.target.id);
  });

  document.addEventListener("finally:chart-library", chartOrders); // the library came after DOMContentLoaded
  document.addEventListener("DOMContentLoaded", function () {
    chartOrders();
    var chart = document.getElementById("chart");
    var stored = null;
    try { stored = localStorage.getItem(SELECTED_KEY); } catch (err) { /* storage disabled */ }
    if (chart && stored && stored !== chart.dataset.ticker && (watched(stored) || held(stored))) chartTicker(stored);
  });
  body.addEventListener("click", function (e) {
    var target = e.target;
    var button = target.closest("[data-select]");
    if (button) { select(button.dataset.select); return; }
    var row = target.closest("#watchlist tr[data-row]");
    if (row && !target.closest("button, a, input")) {
      var sym = row.querySelector("[data-select]");
      if (sym) sym.click();
    }
  });

  // --- a position's Close: the first click shows what the whole position brings at the live price, the second
  // (within CLOSE_ARMED_MS) sells it, through htmx as the button says (hx-trigger="confirmed"). ---
  var CLOSE_ARMED_MS = 5000;
  var armedClose = null; // {ticker, qty, until}: survives the panel being re-rendered, if the position did not change
  function disarmClose(button) {
    clearTimeout(Number(button.dataset.timer));
    delete button.dataset.armed;
    button.textContent = "Close";
    armedClose = null;
  }
  function armClose(button, until) {
    var row = button.closest("tr[data-position]");
    var q = quotes.get(row.dataset.position);
    var live = q && !feed.stale() && !staleQuotes.has(row.dataset.position) ? q.p : null;
    button.dataset.armed = "true";
    // What the sale brings, rounded as the server's proceeds are (down to the cent); the ticker's open sell orders
    // go with it (the server cancels them in the same transaction), and the button says so.
    var brings = live === null ? "at market" : money(window.FinallyTicket.proceedsOf(row.dataset.qty, String(live)));
    var sells = document.querySelectorAll('#orders tr[data-order-ticker="' + CSS.escape(row.dataset.position) +
                                          '"][data-order-side="sell"]').length;
    button.textContent = "Sell " + brings + "?";
    if (sells) { // a line of its own under the price: the narrow layouts keep the button inside its panel
      var note = document.createElement("span");
      note.className = "close-note";
      note.textContent = "cancels " + sells + " sell order" + (sells > 1 ? "s" : "");
      button.appendChild(note);
    }
    button.dataset.timer = String(setTimeout(function () { disarmClose(button); }, until - Date.now()));
    armedClose = { ticker: row.dataset.position, qty: row.dataset.qty, until: until };
  }
  body.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("button[data-close]");
    if (!button) return;
    if (button.dataset.armed) { disarmClose(button); htmx.trigger(button, "confirmed"); return; }
    document.querySelectorAll("button[data-close][data-armed]").forEach(disarmClose);
    armClose(button, Date.now() + CLOSE_ARMED_MS);
  });
  body.addEventListener("focusout", function (e) {
    var button = e.target.closest && e.target.closest("button[data-close][data-armed]");
    // Leaving it disarms it; a re-render that replaced it (the button left the page) does not.
    if (button && e.relatedTarget && document.contains(button)) disarmClose(button);
  });
  // The positions panel was re-rendered (a tick of the book): the armed Close stays armed, on the same shares only.
  body.addEventListener("htmx:afterSettle", function (e) {
    if (!armedClose || !e.target || e.target.id !== "positions") return;
    var row = document.querySelector('#positions tr[data-position="' + CSS.escape(armedClose.ticker) + '"]');
    var button = row && row.querySelector("button[data-close]");
    if (!button || row.dataset.qty !== armedClose.qty || Date.now() >= armedClose.until) { armedClose = null; return; }
    armClose(button, armedClose.until);
    button.focus();
  });

  // --- the trade bar: the side is always a click. Enter in a box does not submit (the form's default button is
  // disabled); it says what to do instead. ---
  function tradeHint() {
    var form = document.querySelector("#tradebar form");
    if (!form) return;
    var old = document.getElementById("trade-msg");
    if (old) old.remove();
    var hint = document.createElement("p");
    hint.id = "trade-msg";
    hint.className = "form-hint";
    hint.setAttribute("role", "alert");
    hint.textContent = "Choose Buy or Sell: Enter does not pick a side.";
    form.appendChild(hint);
  }
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || e.isComposing) return;
    var t = e.target;
    if (!t || !/^(INPUT|SELECT)$/.test(t.tagName) || !t.closest("#tradebar form")) return;
    e.preventDefault();
    // B or S chose the side (keys.js): Enter places the order by a click on that side's button (htmx sends the
    // button it saw clicked; a requestSubmit(button) would go without the side).
    var form = t.closest("form");
    dropArmedSide(form);
    var side = form.dataset.side;
    if (!side) { tradeHint(); return; }
    // A box the form needs is empty: the browser says which, and the side stays armed (htmx would send nothing).
    if (!form.checkValidity()) { form.reportValidity(); return; }
    document.getElementById("trade-" + side).click();
  });
  body.addEventListener("input", function (e) {
    if (e.target && e.target.id === "trade-ticker") { markTradeTicker(); dropArmedSide(e.target.form); }
    if (e.target && e.target.closest && e.target.closest("#tradebar")) updateTicket();
  });
  body.addEventListener("change", function (e) {
    if (e.target && e.target.closest && e.target.closest("#tradebar")) updateTicket();
  });

  // --- the ticket's preview: what the order costs or brings at the live price, a line per side (the side is
  // the click), and the buying power left; ticket.js has the rules. Redrawn on typing, each tick, and when the
  // book's panels change (buying power, holdings, resting sells). Only a live price counts: a stale one (the
  // feed, or this ticker's quote) is no price to trade at, as the server says. ---
  function updateTicket() {
    var form = document.querySelector("#tradebar form"), out = document.getElementById("trade-preview");
    if (!form || !out || !window.FinallyTicket) return;
    var el = form.elements;
    var ticker = el.namedItem("ticker").value.trim().toUpperCase();
    var q = quotes.get(ticker);
    var live = q && !feed.stale() && !staleQuotes.has(ticker) ? q.p : null;
    var summary = document.getElementById("summary");
    var position = ticker && document.querySelector('#positions tr[data-position="' + CSS.escape(ticker) + '"]');
    var resting = 0;
    if (ticker) {
      document.querySelectorAll('#orders tr[data-order-side="sell"][data-order-ticker="' + CSS.escape(ticker) + '"]')
        .forEach(function (row) { resting += Number(row.dataset.orderQty); });
    }
    var book = {
      ticker: ticker, price: live, margin: out.dataset.stopMargin,
      buyingPower: summary ? Number(summary.dataset.buyingPower) : 0,
      freeShares: Math.max((position ? Number(position.dataset.qty) : 0) - resting, 0),
    };
    var lines = [];
    ["buy", "sell"].forEach(function (side) {
      var order = { side: side, type: el.namedItem("type").value, qty: el.namedItem("quantity").value,
                    limit: el.namedItem("limit_price").value, stop: el.namedItem("stop_price").value };
      var said = window.FinallyTicket.describe(order, book);
      if (said) lines.push({ side: side, text: (side === "buy" ? "Buy: " : "Sell: ") + said.text, warn: said.warn });
    });
    var key = JSON.stringify(lines);
    if (out.dataset.key === key) return; // unchanged: no repaint each tick
    out.dataset.key = key;
    out.textContent = "";
    lines.forEach(function (line) {
      var span = document.createElement("span");
      span.className = "pv pv-" + line.side + (line.warn ? " warn" : "");
      span.textContent = line.text;
      out.appendChild(span);
    });
  }

  // --- a refused order's message in the trade bar is about that order: once another order has filled (from the
  // command line or the assistant) it no longer describes the book, so it goes. A fill's own message stays. ---
  body.addEventListener("portfolio-changed", function () {
    var refused = document.querySelector("#tradebar .form-error");
    if (!refused) return;
    refused.remove();
    var quantity = document.getElementById("trade-quantity");
    if (quantity) { quantity.removeAttribute("aria-invalid"); quantity.removeAttribute("aria-describedby"); }
  });

  // --- the assistant: Enter sends; the question shows at once, with a thinking line, until the turn arrives ---
  // The server renders the turn (the question, the reply and its actions) and htmx appends it to the log;
  // the stand-ins made here are text nodes only, so nothing typed can run as HTML.
  var chatForm = document.getElementById("chat-form");
  var chatInput = document.getElementById("chat-input");
  var chatLog = document.getElementById("chat-log");

  function chatBubble(role, text) {
    var article = document.createElement("article");
    article.className = "msg msg-" + role;
    var header = document.createElement("header");
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = role === "user" ? "You" : "FinAlly";
    header.appendChild(who);
    var p = document.createElement("p");
    p.className = "text";
    p.textContent = text;
    article.appendChild(header);
    article.appendChild(p);
    return article;
  }
  function scrollChat() { chatLog.scrollTop = chatLog.scrollHeight; }

  if (chatForm && chatInput && chatLog) {
    scrollChat();
    var sendWhenAnswered = false; // Enter during a turn: the box is sent as soon as the answer arrives
    function busy() { return chatForm.classList.contains("htmx-request"); }
    chatInput.addEventListener("keydown", function (e) {
      if (e.key !== "Enter" || e.shiftKey || e.isComposing) return;
      e.preventDefault();
      if (!chatInput.value.trim()) return;
      if (busy()) {
        sendWhenAnswered = true;
        chatForm.dataset.queued = "true"; // says "sends when the answer arrives" (CSS)
        return;
      }
      chatForm.requestSubmit();
    });
    chatForm.addEventListener("htmx:beforeRequest", function () {
      // htmx has read the form by now: clear it for the next message.
      var empty = chatLog.querySelector("[data-chat-empty]");
      if (empty) empty.remove();
      var pending = document.createElement("div");
      pending.id = "chat-pending";
      pending.appendChild(chatBubble("user", chatInput.value.trim()));
      var thinking = chatBubble("assistant", "Thinking…");
      thinking.classList.add("thinking");
      thinking.setAttribute("aria-busy", "true");
      pending.appendChild(thinking);
      chatLog.appendChild(pending);
      pending.dataset.text = chatInput.value;
      chatInput.value = "";
      scrollChat();
    });
    chatLog.addEventListener("htmx:beforeSwap", function (e) { // fired on the target, the log
      var pending = document.getElementById("chat-pending");
      if (pending && e.detail.shouldSwap) pending.remove(); // the server's turn takes the stand-ins' place
    });
    chatForm.addEventListener("htmx:afterRequest", function (e) {
      var pending = document.getElementById("chat-pending");
      if (pending) {
        // No turn came back (the server is down or refused the request): say so, and give the text back.
        var thinking = pending.querySelector(".thinking");
        thinking.classList.remove("thinking");
        thinking.classList.add("failed");
        thinking.removeAttribute("aria-busy");
        var status = e.detail.xhr && e.detail.xhr.status;
        thinking.querySelector(".text").textContent = "No answer from the server" +
          (status ? " (HTTP " + status + ")" : "") + ". Your message is back in the box: sending it again is safe (if it was answered, you get that answer).";
        if (!chatInput.value) chatInput.value = pending.dataset.text || "";
        pending.removeAttribute("id");
      }
      scrollChat();
    });
    // The command line hands a question to the assistant: sent from the open panel, after the turn under way
    // if there is one (the form sends one message at a time), and without losing what is typed in the box.
    var asked = [];
    function askNext() {
      if (busy()) return;
      if (sendWhenAnswered) {
        sendWhenAnswered = false;
        delete chatForm.dataset.queued;
        if (chatInput.value.trim()) { chatForm.requestSubmit(); return; }
      }
      if (!asked.length) return;
      var draft = chatInput.value;
      chatInput.value = asked.shift();
      chatForm.requestSubmit(); // htmx reads the box and clears it (beforeRequest) before this returns
      chatInput.value = draft;
    }
    // Open or collapsed, the panel stays as the user left it across reloads.
    var dock = document.getElementById("assistant");
    try {
      if (localStorage.getItem("finally.assistant") === "closed") dock.open = false;
      var keepDock = function () { if (!signingOut) localStorage.setItem("finally.assistant", dock.open ? "open" : "closed"); };
      dock.addEventListener("toggle", keepDock);
      // "toggle" is queued after the click: a reload straight after it can come first (CI saw it), so leaving
      // the page records the state too.
      window.addEventListener("pagehide", keepDock);
    } catch (err) { /* storage disabled: the panel starts open */ }
    body.addEventListener("assistant-ask", function (e) {
      var message = e.detail && e.detail.message;
      if (!message) return;
      document.getElementById("assistant").open = true;
      asked.push(message);
      askNext();
    });
    chatForm.addEventListener("htmx:afterRequest", function () { setTimeout(askNext, 0); });
  }

  // --- "/" focuses the command line (unless typing somewhere already) --------------------------------
  document.addEventListener("keydown", function (e) {
    if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    var cmd = document.getElementById("command");
    if (cmd) { e.preventDefault(); cmd.focus(); }
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && e.target && e.target.id === "command") e.target.blur();
  });
})();
