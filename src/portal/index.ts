export { portalRoutes, portalDocs, loadPortalAssets, PORTAL_CSP } from './portal-routes.js';
