/** A row as a driver returns it. */
export type Row = Record<string, unknown>;

/**
 * The one thing an engine provides to the shared SQL store: statements with `?`
 * placeholders, and transactions that run a function with a transactional executor.
 */
export interface Executor {
  all(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  run(sql: string, params?: readonly unknown[]): Promise<number>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  transaction<T>(fn: (tx: Executor) => Promise<T>): Promise<T>;
}

/** What differs in SQL between the engines. */
export interface Dialect {
  readonly engine: 'sqlite' | 'postgres';
  /** Drivers that already decode JSON columns (pg decodes jsonb). */
  readonly decodesJson: boolean;
  /** Row-level lock for claims (FOR UPDATE SKIP LOCKED on PostgreSQL). */
  readonly claimLock: string;
  /** Row-level lock for a read-then-write in one transaction (FOR UPDATE on PostgreSQL). */
  readonly rowLock: string;
  /** Column that orders inserts (FIFO within a priority). */
  readonly insertOrder: string;
  /** A condition: the JSON array in `column` has an element whose name is the next parameter. */
  jsonArrayHasName(column: string): string;
  /** The parameter value for jsonArrayHasName. */
  jsonArrayHasNameParam(name: string): unknown;
  /**
   * A condition: every required capability in the JSON array `column` is met by
   * the next parameter, an object of capability name to the best proficiency on offer.
   */
  capabilitiesMet(column: string): string;
  /** The ON CONFLICT target of the idempotency key's unique index. */
  readonly idempotencyConflict: string;
  /** A boolean as a parameter (SQLite has no boolean type). */
  bool(value: boolean): unknown;
  /** Rows {key, n}: how many tasks matching `holding` carry each concurrency key. */
  keysHeld(holding: string): string;
  /** A condition: the JSON array of keys in `column` (or NULL) has none of the next parameter's keys. */
  noKeyIn(column: string): string;
  /** The parameter value for noKeyIn. */
  keysParam(keys: readonly string[]): unknown;
  /** A condition: `column` is one of the ids in the next parameter (one parameter however many ids). */
  idIn(column: string): string;
  idsParam(ids: readonly string[]): unknown;
  /** A JSON object column's field as text (NULL when absent). */
  jsonText(column: string, field: string): string;
  /** Statement that serialises fair claims across nodes (none needed on SQLite). */
  readonly flowLock: string | undefined;
  /** Statement that serialises concurrent migrators (none needed on SQLite). */
  readonly migrationLock: string | undefined;
}
