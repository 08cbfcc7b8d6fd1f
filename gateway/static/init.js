// Starts Swagger UI on the gateway's own OpenAPI document (served from the same origin, no CDN).
window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi-3.0.json", // Swagger UI 4 reads OpenAPI 3.0; /openapi.json is 3.1
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
    validatorUrl: null,
    tryItOutEnabled: false
  });
};
