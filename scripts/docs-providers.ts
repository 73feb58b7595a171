/**
 * The README's table of named OpenAI-compatible presets, generated from src/core-config/provider-presets.ts:
 * `npm run docs:providers` rewrites the part of README.md between the two markers below;
 * test/unit/providers/presets-readme.test.ts fails when the README and the data differ.
 */
import { fileURLToPath } from 'node:url';
import { PROVIDER_PRESETS, type ProviderPreset } from '../src/core-config/index.js';
import { rewriteReadme, withSection } from './readme-section.js';

export { README } from './readme-section.js';
export const START = '<!-- provider-presets:start — generated from src/core-config/provider-presets.ts by `npm run docs:providers`; do not edit -->';
export const END = '<!-- provider-presets:end -->';

const code = (text: string) => `\`${text}\``;

function envCell(preset: ProviderPreset): string {
  const key = preset.keyEnv ? `${code(preset.keyEnv)}${preset.keyRequired ? '' : ' (optional)'}` : '';
  const address = preset.baseUrlEnv ? `address: ${code(preset.baseUrlEnv)}` : '';
  return [key, address].filter(Boolean).join('; ') || '—';
}

function quirksCell(preset: ProviderPreset): string {
  const quirks = [`${code(preset.maxTokensField)}`];
  const leftOut = [...preset.unsupported, ...(preset.unsupportedMessageFields ?? []).map((field) => `messages[].${field}`)];
  if (leftOut.length) quirks.push(`left out: ${leftOut.map(code).join(', ')}`);
  if (!preset.streamOptions && !preset.unsupported.includes('stream_options')) quirks.push(`no ${code('stream_options')}`);
  for (const [from, to] of Object.entries(preset.renamed ?? {})) quirks.push(`${code(from)} → ${code(to)}`);
  if (!preset.discovery) quirks.push('no model list: needs `models`');
  return quirks.join('; ');
}

/** The markdown table: one row per preset, in the order of the data. */
export function presetTable(): string {
  const rows = Object.entries(PROVIDER_PRESETS).map(([name, preset]: [string, ProviderPreset]) =>
    `| ${code(name)} | [${preset.title}](${preset.docs}) | ${code(preset.baseUrl)} | ${envCell(preset)} | ${quirksCell(preset)} |`);
  return ['| `type` | provider | base URL | variables | quirks (output limit named; fields left out or renamed) |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}

/** The README with the generated table between the markers (which must be there, once each). */
export const withPresetTable = (readme: string): string => withSection(readme, START, END, presetTable());

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) rewriteReadme(withPresetTable, 'preset table');
