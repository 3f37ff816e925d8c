import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.USHER_TEST_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots for people to look at (kept by CI as artifacts; git ignores the folder). */
export const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'board');

export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Debian's Chromium with the flags DESIGN §4 lists, in a throwaway profile. */
export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: npm test installs it (apt-get install -y chromium), or set USHER_TEST_CHROMIUM`);
  const profile = mkdtempSync(join(tmpdir(), 'usher-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
    viewport: { width: 1024, height: 768 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A page with a fresh cookie jar is not possible in one persistent context: sign out between users. */
export async function signIn(page: Page, baseUrl: string, token: string): Promise<void> {
  await page.goto(`${baseUrl}/board`);
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor();
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  for (const [size, viewport] of [
    ['tablet', { width: 1024, height: 768 }],
    ['wall', { width: 1920, height: 1080 }],
  ] as const) {
    await page.setViewportSize(viewport);
    await page.waitForTimeout(100); // one frame for the layout to settle at the new size
    await page.screenshot({ path: join(ARTIFACTS, `${name}-${size}.png`) });
  }
  await page.setViewportSize({ width: 1024, height: 768 });
}
