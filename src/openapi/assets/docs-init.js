// Starts Swagger UI on the node's own OpenAPI document. A file, not an inline script: /docs is served with a
// Content-Security-Policy that allows scripts from this origin only.
window.addEventListener('load', () => {
  window.ui = window.SwaggerUIBundle({
    url: 'openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    // The admin key typed into "Authorize" stays in this page's memory only.
    persistAuthorization: false,
    tryItOutEnabled: false,
  });
});
