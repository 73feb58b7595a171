// Preloaded into a node under test (NODE_OPTIONS=--import=…): on SIGUSR2 it prints the built-in modules of Node's own
// undici the process has loaded (src/workers/request-forwarder.ts says why none should be).
process.on('SIGUSR2', () => {
  process.stdout.write(`builtin undici loaded: ${JSON.stringify(process.moduleLoadList.filter((m) => m.includes('internal/deps/undici')))}\n`);
});
