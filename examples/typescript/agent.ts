/**
 * A remote agent in TypeScript with the hub's SDK: upper-cases payload.text.
 * Run: npx tsx examples/typescript/agent.ts 127.0.0.1:50051
 * (with security on: HIVE_API_KEY=hive_... an API key of role agent)
 */
import { runAgent } from '../../src/grpc/client/index.js';

const agent = runAgent(
  (task, { signal }) => {
    if (signal.aborted) throw new Error('cancelled');
    const text = (task.payload as { text?: unknown } | null)?.text;
    if (typeof text !== 'string')
      throw Object.assign(new Error('payload.text is required'), { code: 'INVALID_PAYLOAD', retryable: false });
    return { text: text.toUpperCase() };
  },
  {
    address: process.argv[2] ?? '127.0.0.1:50051',
    name: 'ts-upper',
    capabilities: [{ name: 'text', proficiency: 0.9 }],
    maxConcurrency: 8,
    auth: { apiKey: process.env['HIVE_API_KEY'] },
  },
);
console.log(`registered as ${await agent.registered}`);
process.on('SIGINT', () => void agent.stop().then(() => process.exit(0)));
