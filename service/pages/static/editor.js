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
