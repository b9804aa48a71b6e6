// Bokeh draws Tabler icons (the chat's buttons, any widget's `icon=`) with a stylesheet and a webfont it links
// from a public CDN (TablerIconView._url). Point it at the copy the app serves beside this script, before any
// document renders, so a page load asks no third party and icons show offline.
(function () {
  const local = new URL("tabler-icons", document.currentScript.src).href;
  const view = Bokeh.Models.get("TablerIcon").prototype.default_view;
  view._url = local;
  view._fonts.replace(
    `@font-face{font-family:"tabler-icons";font-style:normal;font-weight:400;` +
    `src:url("${local}/fonts/tabler-icons.woff2") format("woff2")}`);
})();
