import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { MailErrorCode } from '../../src/index.js';
import { importOptionalAll, isNotInstalled } from '../../src/deps/optional.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REGISTER = fileURLToPath(new URL('./fixtures/register-hide.mjs', import.meta.url));

/** Runs `code` in a child Node with `hide` resolving as not installed; returns what it printed. */
async function withoutPackages(hide: string, code: string): Promise<{ code?: string; message?: string; ok?: boolean }> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--import', REGISTER, '--input-type=module', '-e', code], {
    cwd: ROOT,
    env: { ...process.env, MAILPUSH_HIDE_PACKAGES: hide },
    timeout: 60_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as { code?: string; message?: string };
}

const report = (body: string) => `try { ${body}; console.log(JSON.stringify({ ok: true })); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;

describe('missing optional packages are named at once', () => {
  it('mailpush/testing/conformance without vitest: MISSING_DEPENDENCY with the install command', async () => {
    const out = await withoutPackages('vitest', report(`await import(${JSON.stringify(`${ROOT}src/testing/conformance.ts`)})`));
    expect(out.code).toBe(MailErrorCode.MISSING_DEPENDENCY);
    expect(out.message).toContain('npm install --save-dev vitest');
  }, 60_000);

  it('the SMTP sink without smtp-server and mailparser names both in one error', async () => {
    const out = await withoutPackages('smtp-server,mailparser', report(`const t = await import(${JSON.stringify(`${ROOT}src/testing/index.ts`)}); await t.startSmtpSink()`));
    expect(out.code).toBe(MailErrorCode.MISSING_DEPENDENCY);
    expect(out.message).toMatch(/"smtp-server" and "mailparser"/);
    expect(out.message).toContain('npm install --save-dev smtp-server mailparser');
  }, 60_000);

  it('tells a missing package from one that fails inside', async () => {
    const notFound = (spec: string, from = '/app/x.js') => Object.assign(new Error(`Cannot find package '${spec}' imported from ${from}`), { code: 'ERR_MODULE_NOT_FOUND' });
    expect(isNotInstalled(notFound('vitest'), 'vitest')).toBe(true);
    expect(isNotInstalled(notFound('left-pad', '/node_modules/smtp-server/lib/x.js'), 'smtp-server')).toBe(false);
    const both = importOptionalAll('X', [{ pkg: 'a', load: () => Promise.reject(notFound('a')) }, { pkg: 'b', load: () => Promise.reject(notFound('b')) }]);
    await expect(both).rejects.toMatchObject({ code: MailErrorCode.MISSING_DEPENDENCY, message: expect.stringContaining('npm install a b') });
    const broken = importOptionalAll('X', [{ pkg: 'a', load: () => Promise.reject(new SyntaxError('bad')) }]);
    await expect(broken).rejects.toMatchObject({ code: MailErrorCode.INTERNAL });
    await expect(importOptionalAll('X', [{ pkg: 'a', load: async () => 1 }, { pkg: 'b', load: async () => 'two' }])).resolves.toEqual([1, 'two']);
  });
});
