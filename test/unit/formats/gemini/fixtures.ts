import { formatFixtures } from '../fixtures.js';

export const { fixture, fixtureStream } = formatFixtures('gemini');
export { collect, fromArray, ssePayloads } from '../fixtures.js';
