/**
 * Model-name variants to try, most specific first, when looking a price up: the name as given, without a routing
 * prefix (`openai/gpt-4o`, `models/gemini-2.5-pro` as Gemini names them), then without a dated snapshot suffix
 * (`gpt-4o-2024-08-06`, `claude-3-5-sonnet-20241022`, Vertex's `claude-3-5-sonnet@20240620`, Gemini's `-001`) or a
 * `-latest` alias. A snapshot is priced like its family only when no price for the snapshot itself exists, so a
 * snapshot with its own price (gpt-4o-2024-05-13) is never charged at the family rate.
 */
const SNAPSHOT_SUFFIXES: readonly RegExp[] = [
  /[-@](?:19|20)\d{2}-\d{2}-\d{2}$/, // OpenAI: -2024-08-06
  /[-@](?:19|20)\d{6}$/, // Anthropic: -20241022, Vertex: @20240620
  /-\d{3}$/, // Gemini stable versions: -001, -002
  /-latest$/, // aliases: claude-3-5-sonnet-latest, gemini-1.5-pro-latest
];

export function modelNameCandidates(model: string): string[] {
  const candidates: string[] = [];
  const add = (name: string) => {
    if (name && !candidates.includes(name)) candidates.push(name);
  };
  const given = model.trim().toLowerCase();
  add(given);
  const bare = given.includes('/') ? given.slice(given.lastIndexOf('/') + 1) : given;
  add(bare);
  for (const suffix of SNAPSHOT_SUFFIXES) {
    if (suffix.test(bare)) {
      add(bare.replace(suffix, ''));
      break;
    }
  }
  return candidates;
}
