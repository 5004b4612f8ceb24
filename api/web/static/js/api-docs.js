// The API documentation page (/api/docs): Swagger UI, served by callcard, over callcard's own OpenAPI document.
// validatorUrl: null keeps Swagger UI from asking its public validator about the schema (an outside request).
window.ui = window.SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  validatorUrl: null,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [window.SwaggerUIBundle.presets.apis],
});
