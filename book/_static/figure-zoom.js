// A click on a notebook figure shows it at its full size over the page (wide figures are
// scaled down to the column); a click or Escape closes it. jupyter-book loads every .js here.
document.addEventListener("DOMContentLoaded", () => {
  for (const img of document.querySelectorAll(".cell_output img")) {
    img.classList.add("zoomable");
    img.title = "Click to see the figure at full size";
    img.addEventListener("click", () => {
      const overlay = document.createElement("div");
      overlay.className = "figure-zoom";
      overlay.appendChild(img.cloneNode());
      const close = () => { overlay.remove(); document.removeEventListener("keydown", onKey); };
      const onKey = (event) => { if (event.key === "Escape") close(); };
      overlay.addEventListener("click", close);
      document.addEventListener("keydown", onKey);
      document.body.appendChild(overlay);
    });
  }
});
