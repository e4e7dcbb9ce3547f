// Show only the extra questions of the chosen category (without JS every category's questions show).
(function () {
  var form = document.querySelector("form [data-category-attributes]");
  form = form && form.closest("form");
  if (!form) return;
  function update() {
    var chosen = form.querySelector('input[name="category"]:checked');
    form.querySelectorAll("[data-category-attributes]").forEach(function (box) {
      box.hidden = !chosen || box.getAttribute("data-category-attributes") !== chosen.value;
    });
  }
  form.addEventListener("change", function (e) { if (e.target.name === "category") update(); });
  update();
})();
