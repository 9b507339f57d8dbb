/**
 * The bytes written to one gRPC stream that the transport has not taken yet (the
 * peer does not read, so HTTP/2 flow control holds them here). grpc-js calls a
 * write's callback once the message is handed to the HTTP/2 stream, so bytes are
 * counted from write() to that callback. A stream past its bound is cut, never
 * buffered without limit ([grpc] max_unsent_bytes).
 */
export class SendBudget {
  private unsent = 0;

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.unsent;
  }

  /**
   * Writes `msg`, of about `sizeBytes` encoded; false (nothing written) when that
   * would pass the bound. One message is always let through on an empty stream,
   * so a bound below the largest message never blocks a reader that keeps up.
   */
  write(stream: { write(msg: unknown, cb: () => void): unknown }, msg: unknown, sizeBytes: number): boolean {
    if (this.unsent > 0 && this.unsent + sizeBytes > this.maxBytes) return false;
    this.unsent += sizeBytes;
    stream.write(msg, () => (this.unsent -= sizeBytes));
    return true;
  }
}

/** About what a message with these JSON text fields costs on the wire: the texts plus a fixed allowance for the rest. */
export function approxBytes(...texts: ReadonlyArray<string | undefined>): number {
  let n = 256;
  for (const t of texts) if (t !== undefined) n += Buffer.byteLength(t);
  return n;
}
