/* FinAlly: numbers as the terminal writes them, in the browser.
 *
 * The mirror of core/formatting.py (the server's template filters, which are the rule): the page recomputes
 * portfolio figures on every tick (workstation.js), so it formats them here, the same way the server rendered
 * them. Loaded before workstation.js; one global, window.FinallyFormat.
 */
(function () {
  "use strict";

  var usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });

  function cents(v) { return Math.round(v * 100) / 100; }
  function money(v) { v = cents(v); return (v < 0 ? "-" : "") + usd.format(Math.abs(v)); }
  function signedMoney(v) { v = cents(v); return (v > 0 ? "+" : v < 0 ? "-" : "") + usd.format(Math.abs(v)); }
  function signedPercent(v) { v = cents(v); return (v > 0 ? "+" : v < 0 ? "-" : "") + Math.abs(v).toFixed(2) + "%"; }
  function price(v) { return Math.abs(v) >= 1 ? v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }) : v.toFixed(4); }
  function tone(v) { v = cents(v); return v > 0 ? "up" : v < 0 ? "down" : "flat"; }

  window.FinallyFormat = {
    cents: cents, money: money, signedMoney: signedMoney, signedPercent: signedPercent, price: price, tone: tone,
  };
})();
