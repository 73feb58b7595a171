export { buildOpenApiDocument, openApiPath } from './openapi-document.js';
export type { DocumentedRoute } from './openapi-document.js';
export { docsRoutes, DOCS_CSP } from './docs-routes.js';
export { errorBodySchema, listOf, OPENAPI_TAGS } from './route-doc.js';
export type { OpenApiTag, ResponseDoc, RouteAccess, RouteDoc } from './route-doc.js';
