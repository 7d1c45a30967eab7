// The book's own fixes for keyboard and screen-reader readers, on top of the theme and its
// extensions (whose files stay as installed). Every page loads it (_config.yml: html_js_files).
(() => {
  "use strict";

  // One polite live region per page: what it says, a screen reader reads out.
  let announcer = null;
  const announce = (text) => {
    if (!announcer) {
      announcer = document.createElement("div");
      announcer.className = "book-sr-only";
      announcer.setAttribute("role", "status");
      announcer.setAttribute("aria-live", "polite");
      document.body.appendChild(announcer);
    }
    announcer.textContent = "";
    setTimeout(() => { announcer.textContent = text; }, 50);
  };

  // Solution toggles (sphinx-togglebutton names every one "Toggle hidden content"): named after
  // what they show, after the hint they display ("Click to show: Solution to Exercise (A mail
  // queue)"), so a voice-control user can say what they see; aria-expanded (togglebutton's)
  // says whether it is open, aria-controls points at what it shows.
  const nameToggle = (button) => {
    const title = button.closest(".admonition-title");
    const text = title ? title.textContent.replace(/\s+/g, " ").trim() : "";
    if (!text) return;
    const hint = button.dataset.toggleHint;
    const name = hint ? `${hint}: ${text}` : text;
    if (button.getAttribute("aria-label") !== name) button.setAttribute("aria-label", name);
    if (button.dataset.target) button.setAttribute("aria-controls", button.dataset.target);
  };
  const hintWatcher = new MutationObserver((changes) => changes.forEach((c) => nameToggle(c.target)));
  const nameToggles = () => {
    document.querySelectorAll(".admonition.toggle button.toggle-button").forEach((button) => {
      nameToggle(button);
      if (button.dataset.bookNamed) return;
      button.dataset.bookNamed = "1";
      hintWatcher.observe(button, { attributes: true, attributeFilter: ["data-toggle-hint"] });
    });
  };

  // Copy buttons: sphinx-copybutton's clipboard library blurs the button after copying (focus
  // falls back to the top of the page) and shows "Copied!" only as a tooltip. Keep the focus on
  // the button and say the tooltip's new text out loud.
  const watchCopyButtons = () => {
    new MutationObserver((changes) => {
      for (const change of changes) {
        const button = change.target;
        if (!button.classList || !button.classList.contains("copybtn")) continue;
        const text = button.getAttribute("data-tooltip");
        if (text === change.oldValue || !button.classList.contains("success") && !/fail/i.test(text)) continue;
        announce(text);
        if (document.activeElement === document.body || document.activeElement === null) {
          button.focus({ preventScroll: true });
        }
      }
    }).observe(document.body, {
      subtree: true, attributes: true, attributeFilter: ["data-tooltip"], attributeOldValue: true,
    });
  };

  // Wide things that scroll sideways (the widgets' tables, the theme's tables): reachable and
  // scrollable from the keyboard, named, and marked so the stylesheet can show that they scroll.
  const markScrollers = () => {
    const candidates = document.querySelectorAll(
      ".widget-html-content, .pst-scrollable-table-container, div.cell_output .output.text_html");
    candidates.forEach((box) => {
      const scrolls = box.scrollWidth > box.clientWidth + 1;
      box.classList.toggle("book-scrolls", scrolls);
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", "Table, scrolls sideways");
        box.dataset.bookScroller = "1";
      } else if (!scrolls && box.dataset.bookScroller) {
        ["tabindex", "role", "aria-label", "data-book-scroller"].forEach((a) => box.removeAttribute(a));
      }
    });
  };

  // Static widgets (the page's snapshot of a live one): their buttons and menus do nothing here,
  // as the note above each says, so take them out of the tab order.
  const quietStaticWidgets = () => {
    document.querySelectorAll(".jupyter-widgets button, .jupyter-widgets select, .jupyter-widgets input")
      .forEach((control) => {
        if (control.dataset.bookStatic) return;
        control.dataset.bookStatic = "1";
        control.setAttribute("tabindex", "-1");
        control.setAttribute("aria-disabled", "true");
      });
  };

  const whenWidgetsRender = (callback) => {
    if (!document.querySelector('script[type="application/vnd.jupyter.widget-view+json"]')) return;
    let timer = null;
    new MutationObserver(() => {
      clearTimeout(timer);
      timer = setTimeout(callback, 50);
    }).observe(document.body, { childList: true, subtree: true });
  };

  const start = () => {
    nameToggles();
    watchCopyButtons();
    markScrollers();
    whenWidgetsRender(() => { quietStaticWidgets(); markScrollers(); });
    window.addEventListener("load", () => { nameToggles(); markScrollers(); });
    let resizing = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizing);
      resizing = setTimeout(markScrollers, 150);
    });
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
