// The query page of `medspa-graph serve`: YASGUI against this server's /sparql, offline.
// No autocompleter that asks another site (YASGUI's class and property completers ask LOV),
// no endpoint catalogue but this server, and the named queries as examples.
(function () {
  "use strict";
  var endpoint = new URL("sparql", document.baseURI).href;
  var examples = JSON.parse(document.getElementById("examples").textContent);
  Yasgui.Yasqe.defaults.autocompleters = ["prefixes", "variables"];
  var yasgui = new Yasgui(document.getElementById("yasgui"), {
    requestConfig: { endpoint: endpoint, method: "POST" },
    endpointCatalogueOptions: { getData: function () { return [{ endpoint: endpoint }]; } },
    copyEndpointOnNewTab: true,
    populateFromUrl: false,
    persistenceId: null,
    tabName: "Query"
  });
  var select = document.getElementById("example");
  examples.forEach(function (q, i) {
    var option = document.createElement("option");
    option.value = String(i);
    option.textContent = q.name + ": " + q.question;
    select.appendChild(option);
  });
  select.addEventListener("change", function () {
    var q = examples[Number(select.value)];
    if (q) { yasgui.getTab().setQuery(q.sparql); }
  });
  window.medspaYasgui = yasgui;
})();
