import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, string | Record<string, string>>;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
};

describe('packaging', () => {
  let dir = '';
  beforeAll(async () => {
    // The package as published: dist built with tsconfig.build.json, package.json beside it.
    dir = await mkdtemp(join(tmpdir(), 'mailpush-pack-'));
    await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(dir, 'dist')], { cwd: ROOT, timeout: 300_000 }).catch((err: { stdout?: string }) => {
      // Type errors elsewhere in the tree still emit; only a missing dist is fatal.
      if (!String(err.stdout ?? '').includes('error TS')) throw err;
    });
    await writeFile(join(dir, 'package.json'), JSON.stringify(pkg));
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  }, 300_000);
  afterAll(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('gives every export a default condition after import', () => {
    for (const [key, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') continue;
      expect(Object.keys(target), key).toEqual(['types', 'import', 'default']);
      expect(target.default, key).toBe(target.import);
    }
  });

  it("require('mailpush') and its subpaths work through require(esm) in a child process", async () => {
    const subpaths = Object.keys(pkg.exports).filter((k) => k !== './package.json' && k !== './testing/conformance').map((k) => k.replace(/^\./, 'mailpush'));
    const code = `const out = {}; for (const id of ${JSON.stringify(subpaths)}) { out[id] = Object.keys(require(id)).length; } console.log(JSON.stringify(out));`;
    const { stdout } = await run(process.execPath, ['-e', code], { cwd: dir, timeout: 60_000 });
    const counts = JSON.parse(stdout) as Record<string, number>;
    for (const id of subpaths) expect(counts[id], id).toBeGreaterThan(0);
    const { stdout: m } = await run(process.execPath, ['-e', "const { createMailer, memoryTransport } = require('mailpush'); console.log(typeof createMailer({ transport: memoryTransport() }).send)"], { cwd: dir, timeout: 60_000 });
    expect(m.trim()).toBe('function');
  }, 120_000);

  it('ships the sources inside the source maps', async () => {
    const map = JSON.parse(await readFile(join(dir, 'dist/index.js.map'), 'utf8')) as { sources: string[]; sourcesContent?: string[] };
    expect(map.sourcesContent?.[0]).toContain('export');
    expect(map.sourcesContent).toHaveLength(map.sources.length);
  });

  it('keeps mailauth out of the runtime dependencies: an optional peer, loaded only by the testing assertions', async () => {
    expect(pkg.dependencies.mailauth).toBeUndefined();
    expect(pkg.peerDependencies.mailauth).toBeDefined();
    expect(pkg.peerDependenciesMeta.mailauth?.optional).toBe(true);
    const files = (await readdir(join(dir, 'dist'), { recursive: true })).filter((f) => f.endsWith('.js'));
    const importers: string[] = [];
    for (const f of files) if (/(?:from\s*|import\()\s*['"]mailauth['"]/.test(await readFile(join(dir, 'dist', f), 'utf8'))) importers.push(f);
    expect(importers).toEqual(['testing/authentication.js']);
  });
});
