// undici's own modules, imported one by one (src/providers/undici.ts); typed there through undici's index types.
declare module 'undici/lib/dispatcher/agent.js' {
  const Agent: unknown;
  export default Agent;
}
declare module 'undici/lib/core/errors.js' {
  const errors: unknown;
  export default errors;
}
declare module 'undici/lib/api/api-request.js' {
  const request: unknown;
  export default request;
}
declare module 'undici/lib/global.js' {
  export function getGlobalDispatcher(): unknown;
}
