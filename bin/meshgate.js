#!/usr/bin/env node
// meshgate command-line entry. Runs the TypeScript sources through tsx, so a fresh clone needs no build step.
const [major] = process.versions.node.split('.').map(Number);
if (major < 22) {
  console.error(
    `meshgate needs Node.js 22 or newer (this is ${process.version}).\n` +
      'In a clone of the repository, `npm install` puts Node 24 in node_modules/.bin, which `npx meshgate` and `npm start` use.',
  );
  process.exit(1);
}
const { register } = await import('tsx/esm/api');
register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
