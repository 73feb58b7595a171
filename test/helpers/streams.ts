/**
 * Reads a client SDK's stream to its end and says how many chunks arrived before it ended and what it threw (if
 * anything): the shape of every "an error after the first byte" test.
 */
export async function readUntilError(stream: AsyncIterable<unknown>): Promise<{ received: number; error: unknown }> {
  let received = 0;
  try {
    for await (const _chunk of stream) received++;
    return { received, error: undefined };
  } catch (error) {
    return { received, error };
  }
}
