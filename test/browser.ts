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

/** How one size of a view laid out: the page's height against the window's, and its width. */
export interface LayoutAtSize {
  size: 'tablet' | 'wall' | 'small-wall';
  viewport: { width: number; height: number };
  scrollHeight: number;
  scrollWidth: number;
}

/**
 * The view at tablet size (1024×768) and on the two wall displays (1920×1080, 1280×720), kept as
 * artifacts to look at; answers how each size laid out, for tests that the wall needs no scrolling.
 */
export async function screenshot(page: Page, name: string): Promise<LayoutAtSize[]> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const layouts: LayoutAtSize[] = [];
  for (const [size, viewport] of [
    ['tablet', { width: 1024, height: 768 }],
    ['wall', { width: 1920, height: 1080 }],
    ['small-wall', { width: 1280, height: 720 }],
  ] as const) {
    await page.setViewportSize(viewport);
    await page.waitForTimeout(100); // one frame for the layout to settle at the new size
    await page.screenshot({ path: join(ARTIFACTS, `${name}-${size}.png`) });
    const { scrollHeight, scrollWidth } = await page.evaluate(() => ({
      scrollHeight: document.documentElement.scrollHeight,
      scrollWidth: document.documentElement.scrollWidth,
    }));
    layouts.push({ size, viewport, scrollHeight, scrollWidth });
  }
  await page.setViewportSize({ width: 1024, height: 768 });
  return layouts;
}

/** The sizes at which the page would need scrolling that a wall display cannot do, or is wider than the window. */
export function unfit(layouts: readonly LayoutAtSize[]): string[] {
  return layouts.flatMap((l) => [
    ...(l.size !== 'tablet' && l.scrollHeight > l.viewport.height ? [`${l.size}: ${l.scrollHeight} px tall in ${l.viewport.height}`] : []),
    ...(l.scrollWidth > l.viewport.width ? [`${l.size}: ${l.scrollWidth} px wide in ${l.viewport.width}`] : []),
  ]);
}

/**
 * axe-core's serious and critical findings on the page as it is now (a dialog open included), as
 * "rule: what — where" lines; an empty list is the bar every view and dialog must meet.
 */
export async function accessibilityFaults(page: Page): Promise<string[]> {
  const { AxeBuilder } = await import('@axe-core/playwright');
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.id}: ${v.help} — ${v.nodes
          .map((n) => n.target.join(' '))
          .slice(0, 3)
          .join('; ')}`,
    );
}

/**
 * Text cut short on screen (wider than its box, hidden by an ellipsis or overflow) with no way to
 * read it whole: neither it nor an ancestor carries a title or an accessible label.
 */
export async function truncatedWithoutWayToRead(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const found: string[] = [];
    for (const el of Array.from(document.querySelectorAll<HTMLElement>('body *'))) {
      if (el.children.length > 0 || !el.textContent?.trim()) continue;
      const style = getComputedStyle(el);
      const clips = style.overflow !== 'visible' || style.textOverflow === 'ellipsis' || style.overflowX !== 'visible';
      if (!clips || el.scrollWidth <= el.clientWidth + 1) continue;
      let readable = false;
      for (let a: HTMLElement | null = el; a && !readable; a = a.parentElement) readable = !!(a.title || a.getAttribute('aria-label'));
      if (!readable) found.push(`${el.tagName.toLowerCase()}.${el.className}: "${el.textContent.trim().slice(0, 40)}"`);
    }
    return found;
  });
}
