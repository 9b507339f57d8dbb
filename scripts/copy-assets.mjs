// tsc emits only JavaScript: copy the SQL migrations next to the compiled stores.
import { cpSync } from 'node:fs';

for (const engine of ['sqlite', 'postgres']) {
  cpSync(`src/storage/${engine}/migrations`, `dist/src/storage/${engine}/migrations`, { recursive: true });
}
