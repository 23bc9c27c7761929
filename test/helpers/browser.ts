/**
 * A real headless Chromium for page tests: Debian's `chromium` package driven by playwright-core
 * (browser downloads fail here, so `.ci/run` installs the package). A missing browser fails the
 * test with the install command; it is never skipped.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext } from 'playwright-core';

/** Where Debian puts the browser; `CHROMIUM_PATH` overrides. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The flags this machine needs: no sandbox as root, and no background calls to a closed network. */
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A launched browser with its own profile folder; `close()` removes both. */
export interface TestBrowser {
  readonly browser: BrowserContext;
  close(): Promise<void>;
}

/** Starts headless Chromium with a fresh profile. */
export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`No Chromium at ${CHROMIUM_PATH}: install it with \`apt-get install -y chromium\` (bash .ci/run does) or set CHROMIUM_PATH`);
  }
  const profile = await mkdtemp(join(tmpdir(), 'mailpush-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM_PATH, headless: true, args: FLAGS });
  return {
    browser: context,
    async close() {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}

export type { Browser, BrowserContext };
