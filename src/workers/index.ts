export { checkWorkersConfig, runWorker, startPrimary, workerCount, type PrimaryNode } from './node-processes.js';
export { IpcChannel, primaryUnavailable, type IpcPort } from './ipc-channel.js';
export { PrimaryHub } from './primary-hub.js';
export { PrimaryState, tokenReplica } from './worker-state.js';
export { RESTART_LIMIT, RESTART_WINDOW_MS } from './worker-pool.js';
