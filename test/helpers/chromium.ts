/**
 * @module
 * Launches Debian's Chromium (`/usr/bin/chromium`) headless through `playwright-core`
 * (which never downloads browsers). When the binary is missing: in CI (`CI=true`) this
 * throws (.ci/run installs it); elsewhere it runs `apt-get install -y chromium` once and
 * then launches. Tests that need a browser fail loudly instead of skipping.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

const run = promisify(execFile);

export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

let installing: Promise<void> | undefined;

async function aptInstallChromium(): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    run('apt-get', ['install', '-y', '-o', 'DPkg::Lock::Timeout=300', 'chromium'], { env, timeout: 300_000, maxBuffer: 64 * 1024 * 1024 });
  try {
    await install();
  } catch {
    // Usually empty package lists in a fresh container: refresh them and try again.
    await run('apt-get', ['update'], { env, timeout: 300_000, maxBuffer: 64 * 1024 * 1024 });
    await install();
  }
}

/** Makes sure /usr/bin/chromium exists (installing it once outside CI) or throws why not. */
export async function ensureChromium(): Promise<string> {
  if (existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH;
  if (process.env.CI === 'true') {
    throw new Error(`${CHROMIUM_PATH} not found. CI must install it (apt-get install -y chromium, in .ci/run); browser tests do not skip.`);
  }
  installing ??= aptInstallChromium();
  try {
    await installing;
  } catch (e) {
    installing = undefined;
    throw new Error(`${CHROMIUM_PATH} not found and \`apt-get install -y chromium\` failed: ${(e as Error).message}`, { cause: e });
  }
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`apt-get install -y chromium finished but ${CHROMIUM_PATH} is still missing`);
  return CHROMIUM_PATH;
}

/**
 * Launches headless Chromium. playwright-core gives every `launch()` a fresh
 * `--user-data-dir` (a `playwright_chromiumdev_profile-*` temp dir it removes on
 * `close()`) and refuses that flag in `args`, so none is passed here. Each
 * `browser.newContext()` has its own isolated storage (IndexedDB, cookies, caches).
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = await ensureChromium();
  try {
    return await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
  } catch (e) {
    throw new Error(`cannot launch ${executablePath}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Launches headless Chromium with a persistent profile in `userDataDir` (which the caller
 * creates and removes), for tests that look at what the browser writes to disk. Closing
 * the returned context ends the browser.
 */
export async function launchPersistentChromium(userDataDir: string): Promise<BrowserContext> {
  const executablePath = await ensureChromium();
  try {
    return await chromium.launchPersistentContext(userDataDir, { executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
  } catch (e) {
    throw new Error(`cannot launch ${executablePath} with profile ${userDataDir}: ${(e as Error).message}`, { cause: e });
  }
}
