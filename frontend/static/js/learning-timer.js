/* The competition page's countdown. The server keeps the real deadline (an answer after it scores
   nothing); this only shows the seconds left and sends the form when they run out. Without this script
   the page still works: the member answers, and a late answer is recorded as timed out. */
(function () {
  "use strict";
  var box = document.querySelector("[data-timer]");
  var form = document.querySelector("[data-timer-form]");
  if (!box || !form) return;
  var value = box.querySelector("[data-timer-value]");
  var left = parseFloat(box.getAttribute("data-seconds-left") || "0");
  var deadline = Date.now() + left * 1000;
  var sent = false;
  form.addEventListener("submit", function () { sent = true; });
  function tick() {
    var s = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    if (value) value.textContent = String(s);
    box.classList.toggle("timer-low", s <= 10);
    if (s <= 0 && !sent) {
      sent = true;
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
      return;
    }
    if (!sent) window.setTimeout(tick, 250);
  }
  tick();
})();
