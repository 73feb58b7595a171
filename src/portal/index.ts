export { portalRoutes, loadPortalAssets, PORTAL_CSP } from './portal-routes.js';
