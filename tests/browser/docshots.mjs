// docshots.mjs - copy the best screenshots of a test run into docs/ui/,
// scaled down with chromium itself (no image tools needed).
//   make test-browser && node tests/browser/docshots.mjs
import { readFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { launch, SHOTS, ROOT } from './harness.mjs';

const PICK = ['signin', 'customers-zh', 'search', 'customer', 'conflict', 'pipeline', 'ticket', 'import'];
const WIDTH = 800, MAX_HEIGHT = 1000;
const out = join(ROOT, 'docs', 'ui');
mkdirSync(out, { recursive: true });
const chrome = await launch();
const page = await chrome.browser.newPage({ viewport: { width: WIDTH, height: 600 } });
for (const name of PICK) {
  const src = join(SHOTS, `${name}.png`);
  if (!existsSync(src)) { console.log(`skip ${name} (no screenshot)`); continue; }
  const data = readFileSync(src).toString('base64');
  await page.setContent(`<style>body{margin:0}img{width:${WIDTH}px;display:block}</style><img src="data:image/png;base64,${data}">`);
  await page.locator('img').evaluate(img => img.decode());
  const box = await page.locator('img').boundingBox();
  await page.screenshot({ path: join(out, `${name}.png`), fullPage: true, clip: { x: 0, y: 0, width: WIDTH, height: Math.min(box.height, MAX_HEIGHT) } });
  console.log(`docs/ui/${name}.png`);
}
await chrome.close();
