/* FinAlly: numbers as the terminal writes them, in the browser.
 *
 * The mirror of core/formatting.py (the server's template filters, which are the rule): the page recomputes
 * portfolio figures on every tick (workstation.js), so it formats them here, the same way the server rendered
 * them. workstation/tests/test_format_js.py compares the two in Chromium: change one, change the other.
 * Loaded before workstation.js; one global, window.FinallyFormat.
 *
 * The server formats Decimal(str(value)), so this works on the same decimal digits (a number's shortest
 * round-trip form, which JS's String() and Python's str() of a float both give) and rounds them as decimals:
 * float arithmetic (Math.round(v * 100), toFixed) rounds the binary value, so 1.005 read 1.00, not 1.01,
 * and Intl rounds ties away from zero where Decimal's format rounds them to even.
 */
(function () {
  "use strict";

  var DASH = "—"; // what the server shows for no number (None, NaN, an infinity)

  // A finite number as {neg, digits, exp} (its value is ±digits × 10^exp); null for anything else.
  function decimal(v) {
    if (typeof v !== "number" || !isFinite(v)) return null;
    var m = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(Math.abs(v)));
    var frac = m[2] || "";
    // -0 keeps its sign, as Decimal("-0.0") does (price shows it; the others drop a zero's sign).
    return { neg: v < 0 || Object.is(v, -0), digits: m[1] + frac, exp: Number(m[3] || 0) - frac.length };
  }

  function increment(digits) { // "199" -> "200", "99" -> "100"
    var i = digits.length - 1;
    while (i >= 0 && digits.charAt(i) === "9") i--;
    if (i < 0) return "1" + "0".repeat(digits.length);
    return digits.slice(0, i) + (Number(digits.charAt(i)) + 1) + "0".repeat(digits.length - 1 - i);
  }

  // |value| × 10^places rounded to an integer, as a digit string. A tie goes away from zero (ROUND_HALF_UP, the
  // quantize in core/formatting.py) or, with halfEven, to the even digit (the default context's ROUND_HALF_EVEN,
  // which Python's format() of a Decimal uses: the price filter).
  function scaled(d, places, halfEven) {
    var shift = d.exp + places;
    if (shift >= 0) return d.digits + "0".repeat(shift);
    var cut = d.digits.length + shift; // how many digits stay
    var kept = cut > 0 ? d.digits.slice(0, cut) : "0";
    var dropped = cut >= 0 ? d.digits.slice(cut) : "0".repeat(-cut) + d.digits;
    var first = dropped.charAt(0), beyond = /[1-9]/.test(dropped.slice(1));
    var odd = Number(kept.charAt(kept.length - 1)) % 2 === 1;
    var up = first > "5" || (first === "5" && (beyond || !halfEven || odd));
    return up ? increment(kept) : kept;
  }

  function isZero(digits) { return !/[1-9]/.test(digits); }

  // A scaled digit string as text with `places` decimals; grouped puts thousands commas in (Python's ",").
  function fixed(digits, places, grouped) {
    digits = digits.replace(/^0+(?=\d)/, "");
    while (digits.length <= places) digits = "0" + digits;
    var whole = digits.slice(0, digits.length - places), frac = digits.slice(digits.length - places);
    if (grouped) whole = whole.replace(/\B(?=(\d{3})+$)/g, ",");
    return places ? whole + "." + frac : whole;
  }

  // To the cent, half-up, as a number: what the server values a position at (portfolio/money.py to_cents),
  // and the hundredth every figure below is shown at.
  function cents(v) {
    var d = decimal(v);
    if (!d) return NaN;
    return Number((d.neg ? "-" : "") + fixed(scaled(d, 2, false), 2, false));
  }

  // $10,000.00; -$5.25 (a figure that shows as 0.00 has no sign).
  function money(v) {
    var d = decimal(v);
    if (!d) return DASH;
    var n = scaled(d, 2, false);
    return (d.neg && !isZero(n) ? "-" : "") + "$" + fixed(n, 2, true);
  }

  // To the hundredth, with a sign that says which way it went (none for a figure shown as zero).
  function signed(v, unit, suffix) {
    var d = decimal(v);
    if (!d) return DASH;
    var n = scaled(d, 2, false);
    return (isZero(n) ? "" : d.neg ? "-" : "+") + unit + fixed(n, 2, true) + suffix;
  }
  function signedMoney(v) { return signed(v, "$", ""); } // +$12.34, -$5.00, $0.00
  function signedPercent(v) { return signed(v, "", "%"); } // +0.79%, -1.20%, 0.00%

  // 191.50, 0.4321: sub-dollar prices keep four decimals. Ties to even, and the sign kept even when the figure
  // rounds to zero, because that is what the server's f"{Decimal:,.2f}" does.
  function price(v) {
    var d = decimal(v);
    if (!d) return DASH;
    var places = Math.abs(v) >= 1 ? 2 : 4;
    return (d.neg ? "-" : "") + fixed(scaled(d, places, true), places, true);
  }

  // CSS class for a signed number as shown (to the hundredth): a red 0.00% would say a loss the figure does not.
  function tone(v) {
    var d = decimal(v);
    if (!d) return "flat";
    return isZero(scaled(d, 2, false)) ? "flat" : d.neg ? "down" : "up";
  }

  window.FinallyFormat = {
    cents: cents, money: money, signedMoney: signedMoney, signedPercent: signedPercent, price: price, tone: tone,
  };
})();
