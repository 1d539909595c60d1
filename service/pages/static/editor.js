// The SPARQL editor: YASGUI (vendored from npm, served from /static/vendor/yasgui),
// talking to this service's /sparql only. Autocompleters that fetch from outside
// services (prefix.cc, LOV) are switched off; nothing leaves this origin.
(function () {
  "use strict";
  var element = document.getElementById("yasgui");
  if (!element || typeof Yasgui === "undefined") {
    return;
  }
  Yasgui.Yasqe.defaults.autocompleters = ["variables"];
  var endpoint = new URL(element.dataset.endpoint, window.location.href).href;
  var initial = document.getElementById("initial-query").content.textContent;
  var yasgui = new Yasgui(element, {
    requestConfig: { endpoint: endpoint, method: "POST" },
    copyEndpointOnNewTab: true,
    endpointCatalogueOptions: {
      getData: function () {
        return [{ endpoint: endpoint }];
      },
    },
    persistenceId: null,
    populateFromUrl: false,
    yasqe: { value: initial, resizeable: true },
    yasr: { prefixes: {} },
  });
  var tab = yasgui.getTab();
  tab.setQuery(initial);
  // YASGUI's own markup lacks names for two controls and keyboard access to the scrolling
  // editor (axe-core, WCAG 2.1 AA); they are added here, in the page's language.
  var english = document.documentElement.lang === "en";
  var names = [
    [".CodeMirror textarea", english ? "SPARQL query" : "SPARQL-spørring"],
    ["input.autocomplete", english ? "SPARQL endpoint" : "SPARQL-endepunkt"],
  ];
  names.forEach(function (pair) {
    element.querySelectorAll(pair[0]).forEach(function (control) {
      if (!control.getAttribute("aria-label")) {
        control.setAttribute("aria-label", pair[1]);
      }
    });
  });
  element.querySelectorAll(".CodeMirror-scroll").forEach(function (scroller) {
    scroller.setAttribute("tabindex", "0");
  });
  var examples = document.getElementById("example");
  if (examples) {
    document.getElementById("examples").hidden = false; // a choice only a script can act on
    examples.addEventListener("change", function () {
      var template = document.getElementById("example-" + examples.value);
      if (template) {
        yasgui.getTab().setQuery(template.content.textContent);
      }
    });
  }
})();
