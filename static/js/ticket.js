/* FinAlly: what an order on the trade ticket will cost or bring, before the click.
 *
 * The mirror of the server's rules, which decide: portfolio/money.py (a buy's cost rounds up to the cent, a
 * sell's proceeds round down) and portfolio/orders.py (`reservation`: what a resting buy holds back; `reached`:
 * a limit the live price already reaches fills at once, a stop already reached is refused).
 * workstation/tests/test_ticket_js.py runs this file in Chromium against those functions: change one, change the
 * other. The arithmetic is exact (BigInt on decimal digits): qty × price in binary floats reads 10 × 180.1 as
 * 1801.0000000000002, which rounds up to a cent too many.
 * Loaded before workstation.js, which reads the ticket and the page and writes the text; one global,
 * window.FinallyTicket.
 */
(function () {
  "use strict";

  // A positive decimal (a number, or text as typed: "10", "2.5", ".5") as {n, e}: its value is n × 10^e exactly;
  // null for anything else. A number is read through its shortest round-trip text, as the server's Decimal(str()).
  function exact(v) {
    if (typeof v === "number" && !isFinite(v)) return null;
    var m = /^\s*(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?\s*$/i.exec(String(v));
    if (!m || !(m[1] || m[2])) return null;
    var frac = (m[2] || "").replace(/0+$/, ""); // 1.50 is 1.5: a trailing zero is no finer a step
    var digits = ((m[1] || "") + frac).replace(/^0+(?=\d)/, "");
    var n = BigInt(digits || "0");
    if (n <= 0n) return null;
    return { n: n, e: Number(m[3] || 0) - frac.length };
  }

  function times(a, b) { return { n: a.n * b.n, e: a.e + b.e }; }

  function pow10(k) { return 10n ** BigInt(k); }

  // To whole cents (a BigInt), up (a buy's cost) or down (a sell's proceeds).
  function toCents(x, up) {
    var shift = x.e + 2;
    if (shift >= 0) return x.n * pow10(shift);
    var d = pow10(-shift), q = x.n / d;
    return up && q * d !== x.n ? q + 1n : q;
  }

  function dollars(cents) { return Number(cents) / 100; }

  // The quantity as the server takes it: more than zero, to 1/10,000 of a share (portfolio/money.py QUANTITY_STEP).
  function quantity(raw) {
    if (!/^\s*\d*(?:\.\d*)?\s*$/.test(String(raw))) return null; // written plainly, as the server asks
    var q = exact(raw);
    return q && q.e >= -4 ? q : null;
  }

  // portfolio.services.price_problem: a price written plainly, above zero, in whole cents from $1.00 up and to
  // 1/10,000 below (as quotes are). Text for the preview, or null when the price is one the server takes.
  function priceProblem(raw) {
    if (!/^\s*\d*(?:\.\d*)?\s*$/.test(String(raw))) return "must be a number written plainly, such as 182.50";
    var p = exact(raw);
    if (!p) return "must be greater than zero";
    if (p.e < -2 && Number(raw) >= 1) return "must be in whole cents at $1.00 or more";
    if (p.e < -4) return "must have at most 4 decimals under $1.00";
    return null;
  }

  // portfolio.money.cost_of(qty × price) and proceeds_of(qty × price), in dollars.
  function costOf(qty, price) { return dollars(toCents(times(exact(qty), exact(price)), true)); }
  function proceedsOf(qty, price) { return dollars(toCents(times(exact(qty), exact(price)), false)); }

  // portfolio.orders.reservation: a limit or stop-limit buy holds qty × limit; a stop buy qty × stop × (1 + margin).
  function reservation(side, type, qty, limit, stop, margin) {
    if (side === "sell") return 0;
    if (type === "limit" || type === "stop_limit") return costOf(qty, limit);
    var m = exact(margin);
    var one = { n: pow10(-m.e), e: m.e }; // 1 in the margin's scale
    var factor = { n: one.n + m.n, e: m.e };
    return dollars(toCents(times(times(exact(qty), exact(stop)), factor), true));
  }

  // portfolio.orders.reached: a buy limit acts at or below its price, a sell limit at or above; a stop the other way.
  function reached(side, level, live, isStop) {
    var atOrBelow = (side === "buy") !== isStop;
    return atOrBelow ? live <= level : live >= level;
  }

  /* What the ticket says under the order for one side (the page shows both: the side is the click), as
   * {text, warn}, or null when there is nothing to say yet (no ticker, no quantity).
   *   order: {side, type, qty, limit, stop} as typed (text);
   *   book: {ticker, price (the live price, or null), buyingPower, freeShares (held less resting sells), margin}.
   */
  function describe(order, book) {
    var fmt = window.FinallyFormat, money = fmt.money, px = function (v) { return "$" + fmt.price(v); };
    var side = order.side, type = order.type;
    if (!book.ticker || !order.qty.trim()) return null;
    var qty = quantity(order.qty);
    if (!qty) return { text: "the quantity must be a number of shares written plainly, such as 10 or 0.5", warn: true };
    var qtyText = order.qty.trim();
    var needsLimit = type === "limit" || type === "stop_limit", needsStop = type === "stop" || type === "stop_limit";
    var prices = [];
    if (needsStop) prices.push(["stop", order.stop]);
    if (needsLimit) prices.push(["limit", order.limit]);
    for (var i = 0; i < prices.length; i++) {
      if (!prices[i][1].trim()) return { text: "enter the " + prices[i][0] + " price", warn: false };
      var problem = priceProblem(prices[i][1]);
      if (problem) return { text: "the " + prices[i][0] + " price " + problem, warn: true };
    }
    if (side === "sell" && !(book.freeShares > 0)) {
      return { text: "no " + book.ticker + " shares free to sell", warn: true };
    }
    var live = book.price;
    if (live === null || live === undefined) {
      return { text: "no live price for " + book.ticker + " yet", warn: true };
    }
    var limitV = needsLimit ? Number(order.limit) : null, stopV = needsStop ? Number(order.stop) : null;
    var bp = book.buyingPower, spend = null, text;

    if (needsStop && reached(side, stopV, live, true)) {
      return { text: "the stop " + px(stopV) + " is already reached (live " + px(live) + "): that is a market order",
               warn: true };
    }
    var fillsNow = type === "market" || (type === "limit" && reached(side, limitV, live, false));
    if (fillsNow) {
      var amount = side === "buy" ? costOf(qtyText, live) : proceedsOf(qtyText, live);
      text = (side === "buy" ? "costs ≈ " : "brings ≈ ") + money(amount) + " at " + px(live) +
        (type === "limit" ? ", now (the limit is reached)" : "");
      if (side === "buy") spend = amount;
    } else if (side === "buy") {
      spend = reservation(side, type, qtyText, order.limit, order.stop, book.margin);
      var when = type === "limit" ? "at " + px(limitV) + " or lower" : type === "stop" ?
        "at market once " + px(stopV) + " trades" : "at " + px(limitV) + " or lower once " + px(stopV) + " trades";
      text = "rests, buys " + when + " (live " + px(live) + ") · holds " + money(spend) +
        (type === "stop" ? " (stop + " + Math.round(Number(book.margin) * 100) + "%)" : "");
    } else {
      var at = type === "stop" ? stopV : limitV;
      var brings = proceedsOf(qtyText, String(at));
      var how = type === "limit" ? "at " + px(limitV) + " or higher" : type === "stop" ?
        "at market once " + px(stopV) + " trades" : "at " + px(limitV) + " or higher once " + px(stopV) + " trades";
      text = "rests, sells " + how + " (live " + px(live) + ") · brings " + (type === "stop" ? "≈ " : "at least ") +
        money(brings);
    }
    if (side === "buy") {
      var left = Math.round((bp - spend) * 100) / 100;
      if (left < 0) return { text: text + " · more than the buying power " + money(bp), warn: true };
      return { text: text + " · buying power left " + money(left), warn: false };
    }
    var free = book.freeShares;
    if (Number(qtyText) > free) {
      return { text: text + " · only " + String(free) + " share" + (free === 1 ? "" : "s") + " of " + book.ticker +
               (free === 1 ? " is" : " are") + " free to sell", warn: true };
    }
    return { text: text, warn: false };
  }

  window.FinallyTicket = {
    exact: exact, quantity: quantity, costOf: costOf, proceedsOf: proceedsOf, reservation: reservation,
    reached: reached, priceProblem: priceProblem, describe: describe,
  };
})();
