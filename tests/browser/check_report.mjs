// Opens a regionsim report in headless Chromium and checks what a person would see: every chart
// drawn with a real size and text, no broken images, no console errors, no network fetches.
// Usage: node check_report.mjs REPORT.html SCREENSHOT.png [MIN_CHARTS]
import { chromium } from 'playwright-core';
import path from 'node:path';
import fs from 'node:fs';

const [, , report, shot, minChartsArg] = process.argv;
if (!report || !shot) {
  console.error('usage: node check_report.mjs REPORT.html SCREENSHOT.png [MIN_CHARTS]');
  process.exit(2);
}
const minCharts = Number(minChartsArg ?? 7);
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';

const browser = await chromium.launch({
  executablePath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let passed = 0;
let failed = 0;
const check = (ok, what) => {
  if (ok) { passed++; console.log(`ok   ${what}`); } else { failed++; console.log(`FAIL ${what}`); }
};
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors = [];
  const fetches = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => { if (!r.url().startsWith('file:')) fetches.push(r.url()); });
  await page.goto('file://' + path.resolve(report), { waitUntil: 'load' });

  const figures = await page.evaluate(() => [...document.querySelectorAll('figure')].map((f) => {
    const svg = f.querySelector('svg');
    const r = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
    return { id: f.id, width: r.width, height: r.height, texts: svg ? svg.querySelectorAll('text').length : 0,
      shapes: svg ? svg.querySelectorAll('rect, polyline, path, line, circle').length : 0 };
  }));
  check(figures.length >= minCharts, `${figures.length} charts present (at least ${minCharts})`);
  for (const f of figures) {
    check(f.width > 200 && f.height > 150, `chart ${f.id} has a visible size (${Math.round(f.width)}x${Math.round(f.height)})`);
    check(f.texts >= 3, `chart ${f.id} has text (${f.texts} labels)`);
    check(f.shapes >= 3, `chart ${f.id} has drawn shapes (${f.shapes})`);
  }
  const broken = await page.evaluate(() => [...document.images].filter((i) => !i.complete || i.naturalWidth === 0).map((i) => i.src));
  check(broken.length === 0, `no broken images${broken.length ? ': ' + broken.join(', ') : ''}`);
  check(errors.length === 0, `no console errors${errors.length ? ': ' + errors.join(' | ') : ''}`);
  check(fetches.length === 0, `no network fetches${fetches.length ? ': ' + fetches.join(', ') : ''}`);
  const verdict = await page.evaluate(() => document.querySelector('.verdict')?.textContent ?? '');
  check(verdict === 'PASS' || verdict === 'FAIL', `verdict shown (${verdict})`);
  await page.screenshot({ path: shot, fullPage: true });
  check(fs.statSync(shot).size > 10000, `screenshot saved to ${shot}`);
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
