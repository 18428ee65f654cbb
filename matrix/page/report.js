// Filters the full tables by group, dependency, fault, result and change, and keeps the
// count of rows shown; a cell of the grid sets the dependency and fault filters.
(function () {
  "use strict";
  var form = document.getElementById("filters");
  var shown = document.getElementById("shown");
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.row"));
  var groups = Array.prototype.slice.call(document.querySelectorAll("section.group"));

  function value(name) {
    var el = document.getElementById("filter-" + name);
    return el ? el.value : "";
  }

  function hasPair(row, dep, fault) {
    return row.dataset.pairs.split(" ").some(function (p) {
      var i = p.indexOf(":");
      return (!dep || p.slice(0, i) === dep) && (!fault || p.slice(i + 1) === fault);
    });
  }

  function matches(row) {
    var change = value("change");
    if (value("group") && row.dataset.group !== value("group")) return false;
    if (value("result") && row.dataset.result !== value("result")) return false;
    if (change === "any" && (row.dataset.change === "unchanged" || row.dataset.change === "counters")) return false;
    if (change && change !== "any" && row.dataset.change !== change) return false;
    return hasPair(row, value("dep"), value("fault"));
  }

  function apply() {
    var n = 0;
    rows.forEach(function (row) {
      var ok = matches(row);
      row.hidden = !ok;
      var detail = document.getElementById("detail-" + row.dataset.id);
      if (detail) detail.hidden = !ok;
      if (ok) n++;
    });
    groups.forEach(function (g) {
      g.hidden = !g.querySelector("tr.row:not([hidden])");
    });
    shown.textContent = String(n);
  }

  function set(name, v) {
    var el = document.getElementById("filter-" + name);
    if (el) el.value = v;
  }

  form.addEventListener("change", apply);
  document.getElementById("filter-reset").addEventListener("click", function () {
    form.reset();
    apply();
  });

  document.querySelectorAll("#grid a[data-dep]").forEach(function (a) {
    a.addEventListener("click", function () {
      form.reset();
      set("dep", a.dataset.dep);
      set("fault", a.dataset.fault);
      apply();
    });
  });

  // A link to a row shows it whatever the filters, and opens what it observed.
  document.querySelectorAll("a[data-row]").forEach(function (a) {
    a.addEventListener("click", function () {
      form.reset();
      apply();
      var detail = document.querySelector("#detail-" + CSS.escape(a.dataset.row) + " details");
      if (detail) detail.open = true;
    });
  });

  apply();
})();
