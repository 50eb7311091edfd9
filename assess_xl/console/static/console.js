// The console's only script (no build step): progress of a running job by server-sent events,
// then on to the page the job leads to; the drop zone shows what was chosen.
(function () {
  "use strict";
  function follow(section) {
    var lines = section.querySelector(".lines");
    var busy = section.querySelector(".busy");
    var after = section.querySelector(".after");
    var shown = lines.children.length;
    var source = new EventSource("/jobs/" + section.dataset.job + "/events");
    var seen = 0;
    source.onmessage = function (event) {
      seen += 1;
      if (seen <= shown) { return; }
      var item = document.createElement("li");
      item.textContent = event.data;
      lines.appendChild(item);
    };
    source.addEventListener("done", function (event) {
      source.close();
      busy.hidden = true;
      if (event.data) { window.location.assign(event.data); } else { after.hidden = false; }
    });
  }
  function start() {
    document.querySelectorAll("[data-job]").forEach(function (section) {
      if (section.dataset.done === "yes") {
        if (section.dataset.then) { window.location.assign(section.dataset.then); }
        return;
      }
      follow(section);
    });
    document.querySelectorAll(".dropzone input[type=file]").forEach(function (input) {
      var zone = input.closest(".dropzone");
      ["dragenter", "dragover"].forEach(function (name) {
        zone.addEventListener(name, function () { zone.classList.add("over"); });
      });
      ["dragleave", "drop"].forEach(function (name) {
        zone.addEventListener(name, function () { zone.classList.remove("over"); });
      });
      input.addEventListener("change", function () {
        var names = Array.prototype.map.call(input.files, function (f) { return f.name; });
        zone.dataset.chosen = names.length ? "已选择" + names.length + "个文件：" + names.join("、") : "";
      });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
