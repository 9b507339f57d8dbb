/** The dependency rules of ARCHITECTURE.md, checked on every import in the tree. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers/cli.js';

function files(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir)).flatMap((name) => {
    const rel = path.join(dir, name);
    return statSync(path.join(ROOT, rel)).isDirectory() ? files(rel) : rel.endsWith('.ts') ? [rel] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm)].map((m) => {
    const spec = m[1] ?? '';
    return spec.startsWith('.') ? path.normalize(path.join(path.dirname(file), spec)) : spec;
  });
}

const rules: Array<{ from: string; forbidden: RegExp; why: string }> = [
  {
    from: 'actors',
    forbidden: /^(src\/edge|src\/grpc|src\/main|uWebSockets\.js|@grpc\/grpc-js|pg$)/,
    why: 'an actor does not know how a message arrived',
  },
  { from: 'cluster', forbidden: /^actors\//, why: 'cluster hands refs to actors, never imports them' },
  {
    from: 'src/domain',
    forbidden: /^(src\/(storage|runtime|edge|grpc|neural)|actors|pg$|better-sqlite3)/,
    why: 'the domain is pure',
  },
  {
    from: 'src/config',
    forbidden: /^(src\/(storage|runtime|edge|grpc|neural)|actors)/,
    why: 'config depends on nothing of ours',
  },
  {
    from: 'src/errors',
    forbidden: /^(src\/(storage|runtime|edge|grpc|neural|config)|actors)/,
    why: 'errors depend on nothing of ours',
  },
  {
    from: 'src/storage',
    forbidden: /^(src\/(runtime|edge|grpc)|actors)/,
    why: 'storage sits below actors and adapters',
  },
  {
    from: 'src/runtime',
    forbidden: /^(src\/(storage|edge|grpc)|actors|nact$)/,
    why: 'runtime is generic; nact only through nact-bindings',
  },
];

describe('dependency rules', () => {
  for (const rule of rules) {
    it(`${rule.from} respects: ${rule.why}`, () => {
      let dirExists = true;
      try {
        statSync(path.join(ROOT, rule.from));
      } catch {
        dirExists = false;
      }
      if (!dirExists) return;
      const bad = files(rule.from).flatMap((f) =>
        imports(f)
          .filter((i) => rule.forbidden.test(i))
          .map((i) => `${f} imports ${i}`),
      );
      assert.deepEqual(bad, []);
    });
  }

  it('nothing imports src/main.ts or test/', () => {
    const all = [...files('src'), ...files('actors')];
    const bad = all.flatMap((f) =>
      imports(f)
        .filter((i) => /^src\/main|^test\//.test(i))
        .map((i) => `${f} imports ${i}`),
    );
    assert.deepEqual(bad, []);
  });

  it('only src/config reads process.env', () => {
    const bad = [...files('src'), ...files('actors')].filter(
      (f) => !f.startsWith('src/config/') && readFileSync(path.join(ROOT, f), 'utf8').includes('process.env'),
    );
    assert.deepEqual(bad, []);
  });
});
