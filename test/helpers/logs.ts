import { Writable } from 'node:stream';
import { parseStrictJson } from './strict-json.js';
import { createLogger, type Logger } from '../../src/log/logger.js';

/** A logger that keeps its JSON records in memory, for assertions. */
export function memoryLogger(level = 'debug'): { log: Logger; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n'))
        if (line.trim() !== '') records.push(parseStrictJson(line) as Record<string, unknown>);
      cb();
    },
  });
  return { log: createLogger({ level, nodeId: 'test-node', destination }), records };
}
