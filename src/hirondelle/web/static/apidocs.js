// Starts Swagger UI on /api/docs (a file, not an inline script: the page's policy is
// default-src 'self'). The document's URL comes from the element's data-openapi attribute.
"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: root.dataset.openapi,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null,
  });
})();
