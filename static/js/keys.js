/* FinAlly's keyboard: a terminal a trader drives without the mouse.
 *
 *   ↑ / ↓   move through the watchlist, charting each ticker (its row's own button: select and chart)
 *   B / S   the ticket on the charted ticker with that side, the quantity focused; Enter places, Esc backs out
 *   ?       the list of shortcuts (a <dialog>; Esc closes it)
 *   /       the command line (workstation.js)
 *
 * No shortcut fires while typing in a field, with Ctrl, Alt or Meta held, or while the list is open. The side a
 * B or S chose is the form's data-side until Esc or the order: workstation.js places it on Enter. No eval, no
 * inline style.
 */
(function () {
  "use strict";

  var MOVE_SETTLE_MS = 120; // a held ↓ charts the row it stops on, not every row it passes

  function typing(t) {
    return !!t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#watchlist tr[data-row]")); }

  var settle = null;
  function move(step) {
    var all = rows();
    if (!all.length) return;
    var focused = document.activeElement && document.activeElement.closest && document.activeElement.closest("#watchlist tr[data-row]");
    var at = all.indexOf(focused || document.querySelector("#watchlist tr[data-row].selected"));
    var next = all[at < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(Math.max(at + step, 0), all.length - 1)];
    var sym = next.querySelector("[data-select]");
    if (!sym) return;
    sym.focus(); // the focus ring shows where the chart is going at once
    clearTimeout(settle);
    settle = setTimeout(function () { if (!next.classList.contains("selected")) sym.click(); }, MOVE_SETTLE_MS);
  }

  function form() { return document.querySelector("#tradebar form"); }

  function hint(f, text) {
    var old = document.getElementById("trade-armed");
    if (old) old.remove();
    if (!text) return;
    var p = document.createElement("p");
    p.id = "trade-armed";
    p.className = "form-hint";
    p.setAttribute("role", "status");
    p.textContent = text;
    f.appendChild(p);
  }

  function arm(side) {
    var f = form(), chart = document.getElementById("chart");
    var ticker = (window.FinallyChart && FinallyChart.ticker()) || (chart && chart.dataset.ticker);
    if (!f || !ticker) return;
    var input = f.elements.namedItem("ticker");
    if (input.value !== ticker) {
      input.value = ticker;
      input.dispatchEvent(new Event("input", { bubbles: true })); // the preview and the invented mark follow
    }
    f.dataset.side = side;
    f.dataset.armed = ticker; // workstation.js drops the side once the ticket's ticker is another
    hint(f, (side === "buy" ? "Buy " : "Sell ") + ticker + ": Enter places the order, Esc backs out.");
    var qty = f.elements.namedItem("quantity");
    qty.focus();
    qty.select();
  }

  // Out of the ticket, back to the charted row, where the arrows and B and S work again.
  function toWatchlist() {
    var selected = document.querySelector("#watchlist tr[data-row].selected [data-select]");
    if (selected) selected.focus(); else if (document.activeElement) document.activeElement.blur();
  }

  function disarm() {
    var f = form();
    if (!f) return false;
    if (f.dataset.side) {
      delete f.dataset.side;
      delete f.dataset.armed;
      hint(f, "");
    }
    toWatchlist();
    return true;
  }

  function help() {
    var dialog = document.getElementById("keys-help");
    if (dialog && !dialog.open) dialog.showModal();
  }

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.isComposing || e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    if (document.querySelector("dialog[open]")) return; // the list of shortcuts: only Esc, its own
    if (e.key === "Escape") {
      if (t && t.closest && t.closest("#tradebar") && disarm()) e.preventDefault();
      return;
    }
    if (typing(t)) return;
    var key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    if (key === "ArrowDown" || key === "ArrowUp") { e.preventDefault(); move(key === "ArrowDown" ? 1 : -1); }
    else if (key === "b" || key === "s") { e.preventDefault(); arm(key === "b" ? "buy" : "sell"); }
    else if (key === "?") { e.preventDefault(); help(); }
  });
  document.addEventListener("click", function (e) {
    if (e.target.closest && e.target.closest("[data-keys-help]")) help();
  });
  // A click on Buy or Sell is a side chosen by the mouse: the keyboard's choice goes. Enter's own click (not a
  // person's: workstation.js clicks the armed side) is remembered until the answer comes back (below).
  var placing = null;
  document.addEventListener("click", function (e) {
    var f = form();
    var button = e.target.closest && e.target.closest("#trade-buy, #trade-sell");
    if (!f || !f.dataset.side || !button) return;
    placing = !e.isTrusted && button.id === "trade-" + f.dataset.side ? f.dataset.side : null;
    delete f.dataset.side;
    delete f.dataset.armed;
    hint(f, "");
  });
  // The answer to an order placed from the keyboard: refused, the ticket stays armed on that side with the
  // quantity focused, to put right and Enter again; placed, the keys go back to the watchlist for the next one.
  // No answer to settle (an error status, the network): nothing is remembered for a later, unrelated swap.
  document.addEventListener("htmx:responseError", function () { placing = null; });
  document.addEventListener("htmx:sendError", function () { placing = null; });
  document.addEventListener("htmx:afterSettle", function (e) {
    if (!placing || !e.target || e.target.id !== "tradebar") return;
    var side = placing;
    placing = null;
    if (document.querySelector("#tradebar .form-error")) arm(side); else toWatchlist();
  });
})();
