// web_page.mjs: the chat page of chirp serve in headless Chromium, driven by
// playwright-core (Debian's /usr/bin/chromium; nothing downloaded). Started by
// tests/test_serve_http.c with PORT and API_KEY set. Checks: the page loads
// and shows the model panel, a message gets a streamed reply, Esc / Stop
// ends a reply mid-stream, New chat clears, and a phone-sized viewport has
// no horizontal scrolling. Saves screenshots to build/serve-page*.png.
// Exits 0 when all pass, 1 on a failure, 77 when Chromium or the package is
// missing.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { assert, check, finish, requirePackage, root } from '../npm/harness.mjs';

const chromiumPath = '/usr/bin/chromium';
const { chromium } = requirePackage('playwright-core');
if (!existsSync(chromiumPath)) {
  console.log(`skipping: ${chromiumPath} not found (Debian package chromium; scripts/setup installs it)`);
  process.exit(77);
}

const { PORT, API_KEY } = process.env;
const base = `http://127.0.0.1:${PORT}`;
const shots = path.join(root, 'build');
mkdirSync(shots, { recursive: true });
const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  timeout: 60000,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
page.setDefaultTimeout(20000);
const consoleErrors = [];
page.on('console', (m) => { if (m.type() === 'error' && !/401|Unauthorized/.test(m.text())) consoleErrors.push(m.text()); });
page.on('pageerror', (e) => consoleErrors.push(String(e)));

await check('the page loads, and with the API key shows what the model is', async () => {
  const r = await page.goto(base);
  assert(r.status() === 200, `status ${r.status()}`);
  assert((await page.title()) === 'chirp', 'title');
  await page.click('#toggle-about');
  await page.fill('#api-key', API_KEY);
  await page.dispatchEvent('#api-key', 'change');
  await page.waitForFunction(() => document.querySelector('#model-info').textContent.includes('Parameters'));
  const info = await page.textContent('#model-info');
  assert(/Context\s*2,048 tokens/.test(info), info);
  await page.click('#toggle-about');
});

await check('a message gets a streamed reply', async () => {
  await page.fill('#input', 'Good morning!');
  await page.press('#input', 'Enter');
  await page.waitForSelector('.message.user');
  await page.waitForFunction(() => document.querySelector('.message.assistant .text')?.textContent.length > 0);
  await page.waitForFunction(() => !document.querySelector('#send').disabled, null, { timeout: 30000 });
  const reply = await page.textContent('.message.assistant .text');
  assert(reply.length > 0, 'empty reply');
  assert(!(await page.$('.message.error')), await page.textContent('.messages'));
  assert(/tokens in/.test(await page.textContent('#status')), await page.textContent('#status'));
  await page.screenshot({ path: path.join(shots, 'serve-page.png') });
});

await check('Stop ends a reply mid-stream', async () => {
  // A slow link keeps the reply streaming long enough to stop it.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 50, downloadThroughput: 1500, uploadThroughput: -1 });
  // A new chat: after long earlier replies the next prompt can outgrow the
  // 2,048-token context, and the page's retry after the server's 400 (it
  // drops the oldest turns) shows in the console as a failed load.
  await page.click('#new-chat');
  await page.click('#toggle-about');
  await page.fill('#max-tokens', '1500');
  await page.click('#toggle-about');
  // The model samples (temperature 0.8): a reply may end on its own before
  // the click lands, so a reply that finished is followed by another try.
  let stopped = false;
  for (let attempt = 0; attempt < 5 && !stopped; attempt++) {
    const before = (await page.$$('.message.assistant')).length;
    await page.fill('#input', 'Tell me a long story');
    await page.press('#input', 'Enter');
    await page.waitForFunction((n) => document.querySelectorAll('.message.assistant')[n]?.querySelector('.text').textContent.length > 0,
      before, { timeout: 30000 });
    try {
      await page.click('#stop', { timeout: 2000 });
      stopped = true;
    } catch {
      await page.waitForFunction(() => !document.querySelector('#send').disabled, null, { timeout: 30000 });
    }
  }
  assert(stopped, 'every reply ended before Stop could be clicked');
  await page.waitForFunction(() => document.querySelector('#status').textContent === 'Stopped.');
  assert(await page.isHidden('#stop'), 'stop button still shown');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  // The server let the slot go (the page aborted the fetch).
  let busy = 1;
  for (let i = 0; i < 100 && busy; i++) {
    busy = (await (await fetch(`${base}/health`)).json()).slots_processing;
    if (busy) await new Promise((r) => setTimeout(r, 20));
  }
  assert(busy === 0, 'slot still busy after Stop');
});

await check('New chat clears the conversation', async () => {
  await page.click('#new-chat');
  assert((await page.$$('.message')).length === 0, 'messages left');
  assert(await page.isVisible('#empty'), 'empty note hidden');
  assert(await page.evaluate(() => document.activeElement.id === 'input'), 'focus not in the input');
});

await check('a phone-sized viewport fits without horizontal scrolling', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.fill('#input', 'Hi');
  await page.press('#input', 'Enter');
  await page.waitForFunction(() => !document.querySelector('#send').disabled, null, { timeout: 30000 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert(overflow <= 0, `${overflow}px too wide`);
  await page.screenshot({ path: path.join(shots, 'serve-page-phone.png') });
});

await check('no script errors', async () => {
  assert(consoleErrors.length === 0, consoleErrors.join('\n'));
});

await browser.close();
finish();
