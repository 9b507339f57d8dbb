/** Concurrency measured from stored times: the most [start, end) spans open at one instant. */
export function maxOverlap(spans: ReadonlyArray<readonly [number, number]>): number {
  const edges = spans.flatMap(([s, e]) => [
    [s, 1],
    [e, -1],
  ]);
  // At a tie an end comes before a start: a slot freed and taken at the same millisecond is not two at once.
  edges.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let open = 0;
  let most = 0;
  for (const [, d] of edges) most = Math.max(most, (open += d!));
  return most;
}
