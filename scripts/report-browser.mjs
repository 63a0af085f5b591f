// Opens a planner report.html in Debian's headless Chromium (through the pinned playwright-core
// in report-browser/package-lock.json) with the network disabled, and checks what a reader gets:
// no console errors, no request leaving the page, the interactive map rendered (layers,
// heatmap image), layer and heatmap toggles, tooltips, zoom, scale bar, the print stylesheet.
// Keeps screenshots at 1400 px and A4 print (PNG and PDF) in OUTDIR.
//
// Usage: node scripts/report-browser.mjs REPORT.html OUTDIR
// Prints one JSON line with the measured facts; exits 0 when every check passes, 1 when one
// fails (the failures are listed on stderr), 2 on a usage or setup problem.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const pinDir = path.join(here, "report-browser");
const work = path.join(root, "target", "report-browser");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

function die(msg) {
  console.error(`report-browser: ${msg}`);
  process.exit(2);
}

/** Installs the pinned packages unless the installed ones already match the lock file. */
function install() {
  const lock = fs.readFileSync(path.join(pinDir, "package-lock.json"), "utf8");
  const stamp = path.join(work, ".installed-lock");
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8") === lock) return;
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  for (const f of ["package.json", "package-lock.json"]) {
    fs.copyFileSync(path.join(pinDir, f), path.join(work, f));
  }
  const r = spawnSync("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund"], {
    cwd: work,
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (r.status !== 0) die(`npm ci in ${work} failed (exit ${r.status}): is the npm registry reachable?`);
  fs.writeFileSync(stamp, lock);
}

const [reportArg, outArg] = process.argv.slice(2);
if (!reportArg || !outArg) die("usage: node scripts/report-browser.mjs REPORT.html OUTDIR");
const report = path.resolve(reportArg);
if (!fs.existsSync(report)) die(`${report} does not exist`);
if (!fs.existsSync(CHROMIUM)) die(`${CHROMIUM} not found: install Debian's chromium (scripts/bootstrap.sh)`);
fs.mkdirSync(outArg, { recursive: true });
install();
const { chromium } = await import(pathToFileURL(path.join(work, "node_modules/playwright-core/index.mjs")).href);

const failures = [];
const check = (ok, what) => {
  if (!ok) failures.push(what);
};
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "report-browser-profile-"));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  offline: true,
  viewport: { width: 1400, height: 900 },
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
});
const facts = {};
try {
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  const pageUrl = pathToFileURL(report).href;
  const consoleErrors = [];
  const requests = [];
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => consoleErrors.push(`uncaught: ${e.message}`));
  // Every request other than the page itself and inline data: URIs would leave the page: it is
  // recorded and refused.
  await ctx.route("**/*", (route) => {
    const u = route.request().url();
    if (u === pageUrl || u.startsWith("data:")) return route.continue();
    requests.push(u);
    return route.abort();
  });
  page.on("request", (r) => {
    const u = r.url();
    if (u !== pageUrl && !u.startsWith("data:") && !requests.includes(u)) requests.push(u);
  });
  await page.goto(pageUrl, { waitUntil: "load", timeout: 120_000 });
  await page.waitForFunction(() => window.reportMap && document.querySelector("#map .leaflet-pane"), null, {
    timeout: 60_000,
  });
  // Heatmap image decoded and drawn.
  await page.waitForFunction(
    () => [...document.querySelectorAll("#map img.heatmap")].some((i) => i.complete && i.naturalWidth > 0),
    null,
    { timeout: 60_000 },
  );
  const state = () =>
    page.evaluate(() => {
      const m = window.reportMap;
      let layers = 0;
      m.map.eachLayer(() => layers++);
      const on = Object.keys(m.overlays).filter((k) => m.map.hasLayer(m.overlays[k]));
      const heat = [...document.querySelectorAll("#map img.heatmap")].map((i) => ({
        alt: i.alt,
        w: i.naturalWidth,
        h: i.naturalHeight,
      }));
      return { layers, overlays: Object.keys(m.overlays), on, heat, zoom: m.map.getZoom() };
    });
  const s0 = await state();
  facts.overlays = s0.overlays;
  facts.layers_on_map = s0.layers;
  facts.heatmap_images = s0.heat;
  facts.heatmap_choices = await page.evaluate(() => Object.keys(window.reportMap.base));
  const need = [
    "Neighbouring countries",
    "Regions",
    "Roads with mobile Internet",
    "Roads without mobile Internet",
    "Proposed sites",
    "Fixed nodes",
  ];
  for (const n of need) check(s0.overlays.includes(n), `overlay "${n}" missing`);
  check(
    s0.overlays.some((n) => n.startsWith("Settlements: ")),
    "no settlement signal-class overlay",
  );
  check(
    s0.overlays.some((n) => n.startsWith("Existing ") && n.includes("sites")),
    "no existing-site overlay",
  );
  check(s0.heat.length === 1 && s0.heat[0].w > 0, `one heatmap image expected, got ${JSON.stringify(s0.heat)}`);
  check(s0.layers > 100, `only ${s0.layers} Leaflet layers on the map`);
  const box = (name) =>
    page.locator(".leaflet-control-layers-overlays label").filter({ hasText: name }).locator("input");
  check(s0.on.includes("Neighbouring countries"), "the neighbouring countries are not shown by default");
  // Neighbouring countries: one feature per country, drawn under the regions (first in the
  // canvas renderer's drawing order), a name tooltip each; still under them after a re-tick.
  const ctxState = () =>
    page.evaluate(() => {
      const m = window.reportMap;
      if (!m.context) return null;
      const codes = m.context.getLayers().map((l) => l.feature.properties.code).sort();
      const r = m.overlays["Regions"].getLayers()[0];
      const c = m.context.getLayers()[0];
      // Canvas renderer: a layer drawn earlier sits under the ones drawn after it.
      let under = null;
      const rend = c._renderer;
      if (rend && rend._drawFirst) {
        let order = [];
        for (let o = rend._drawFirst; o; o = o.next) order.push(o.layer);
        under = order.indexOf(c) >= 0 && order.indexOf(r) >= 0 && order.indexOf(c) < order.indexOf(r);
      }
      c.openTooltip();
      const t = document.querySelector(".leaflet-tooltip");
      const tip = t ? t.textContent : null;
      c.closeTooltip();
      return { codes, under, tip };
    });
  const c0 = await ctxState();
  facts.context = c0;
  check(c0 && c0.codes.length > 0, `no neighbouring countries on the map (${JSON.stringify(c0)})`);
  check(c0 && c0.under === true, `neighbouring countries not drawn under the regions (${JSON.stringify(c0)})`);
  check(c0 && c0.tip && /\([A-Z]{2}\)/.test(c0.tip), `no country tooltip (${c0 && c0.tip})`);
  await box("Neighbouring countries").click();
  check(!(await state()).on.includes("Neighbouring countries"), "unticking Neighbouring countries left the layer on");
  await box("Neighbouring countries").click();
  check((await state()).on.includes("Neighbouring countries"), "ticking Neighbouring countries did not add it back");
  const c1 = await ctxState();
  check(c1 && c1.under === true, "neighbouring countries drawn over the regions after re-ticking");
  // Toggle an overlay off and on through its checkbox in the layer control.
  await box("Proposed sites").click();
  const s1 = await state();
  check(!s1.on.includes("Proposed sites"), "unticking Proposed sites left the layer on the map");
  await box("Proposed sites").click();
  const s2 = await state();
  check(s2.on.includes("Proposed sites"), "ticking Proposed sites did not add the layer back");
  await box("Fixed nodes").click();
  check((await state()).on.includes("Fixed nodes"), "ticking Fixed nodes did not add the layer");
  // Heatmap radio buttons: none, then another one.
  const radio = (name) =>
    page.locator(".leaflet-control-layers-base label").filter({ hasText: name }).locator("input");
  await radio("No heatmap").click();
  check((await state()).heat.length === 0, "No heatmap left a heatmap image on the map");
  const afterChoice = facts.heatmap_choices.find((n) => n.includes("after the plan"));
  if (afterChoice) {
    await radio(afterChoice).click();
    const s3 = await state();
    check(s3.heat.length === 1 && s3.heat[0].alt === afterChoice, `choosing "${afterChoice}" did not show it`);
  } else {
    failures.push("no heatmap after the plan");
  }
  // Tooltip on hover over a proposed site.
  const tip = await page.evaluate(() => {
    const m = window.reportMap;
    const l = m.overlays["Proposed sites"].getLayers()[0];
    if (!l) return null;
    l.openTooltip();
    const t = document.querySelector(".leaflet-tooltip");
    return t ? t.textContent : null;
  });
  facts.tooltip = tip;
  check(tip && tip.includes("Proposed site #"), `no tooltip on a proposed site (${tip})`);
  // Zoom and scale bar.
  const z0 = (await state()).zoom;
  await page.locator(".leaflet-control-zoom-in").click();
  // A click during the zoom animation is ignored by Leaflet: wait for it to end.
  const settled = (z, dir) =>
    page.waitForFunction(
      ([z, dir]) => {
        const m = window.reportMap.map;
        return !m._animatingZoom && (dir > 0 ? m.getZoom() > z : m.getZoom() < z);
      },
      [z, dir],
      { timeout: 20_000 },
    );
  await settled(z0, 1);
  const z1 = (await state()).zoom;
  await page.locator(".leaflet-control-zoom-out").click();
  await settled(z1, -1);
  facts.zoom = [z0, z1, (await state()).zoom];
  const scale = await page.locator(".leaflet-control-scale-line").first().textContent();
  facts.scale_bar = scale;
  check(/\d+ (k?m)/.test(scale ?? ""), `scale bar reads "${scale}"`);
  const attribution = await page.locator(".leaflet-control-attribution").textContent();
  check(attribution.includes("OpenStreetMap"), `map attribution lacks OpenStreetMap: "${attribution}"`);
  // Back to today's heatmap for the screenshots.
  const todayChoice =
    facts.heatmap_choices.find((n) => n.startsWith("4G") && n.includes("today")) ??
    facts.heatmap_choices.find((n) => n.includes("today"));
  if (todayChoice) await radio(todayChoice).click();
  await page.locator("#map").screenshot({ path: path.join(outArg, "map-1400.png") });
  await page.screenshot({ path: path.join(outArg, "report-1400.png"), fullPage: true });
  // Print: the interactive map is hidden, the static SVG maps stay.
  await page.emulateMedia({ media: "print" });
  await page.setViewportSize({ width: 794, height: 1123 });
  const printed = await page.evaluate(() => ({
    map: getComputedStyle(document.getElementById("map-section")).display,
    svgMaps: [...document.querySelectorAll("figure svg")].filter((s) => s.getBoundingClientRect().width > 0).length,
  }));
  facts.print = printed;
  check(printed.map === "none", `interactive map shown in print (display ${printed.map})`);
  check(printed.svgMaps >= 2, `only ${printed.svgMaps} static maps in print`);
  await page.screenshot({ path: path.join(outArg, "report-a4-print.png"), fullPage: true });
  await page.pdf({ path: path.join(outArg, "report-a4.pdf"), format: "A4", printBackground: true });
  facts.console_errors = consoleErrors;
  facts.requests = requests;
  check(consoleErrors.length === 0, `console errors: ${consoleErrors.join(" | ")}`);
  check(requests.length === 0, `requests left the page: ${requests.join(", ")}`);
} catch (e) {
  failures.push(`browser run failed: ${e.stack ?? e}`);
} finally {
  await ctx.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(JSON.stringify(facts));
if (failures.length) {
  for (const f of failures) console.error(`report-browser: FAILED: ${f}`);
  process.exit(1);
}
console.error(`report-browser: all checks passed (${facts.overlays.length} overlays, ${facts.layers_on_map} layers)`);
