#!/usr/bin/env node
// Checks Grafana dashboards against Grafana's published schema: the TypeScript types of the
// dashboard JSON model and of each panel's options in the npm package @grafana/schema (pinned
// in fleet-dashboard-schema/package-lock.json), with the TypeScript compiler (pinned too).
//
// For each dashboard a TypeScript module is generated that assigns the dashboard JSON to
// `Dashboard`, and each panel's `options` and `fieldConfig.defaults.custom` to that panel
// type's `Options`/`FieldConfig`. Object literals get excess-property checks, so an unknown or
// misspelt key fails as well as a wrong type or enum value. Grafana's export envelope
// (`__inputs`, `__requires`, `__elements`) is not part of the model and is checked apart: every
// `${DS_…}` input a dashboard uses must be declared there.
//
// Usage: node scripts/fleet-dashboard-schema.mjs [DASHBOARD.json ...]
//   default: config/grafana/dashboards/*.json. Installs the pinned packages with `npm ci` into
//   target/fleet-dashboard-schema/ the first time (needs the npm registry once).
// Exit codes: 0 all dashboards valid, 1 schema problems (listed with dashboard, panel and the
// compiler's message), 2 setup failure (npm, node, unreadable file).

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const pinDir = path.join(here, "fleet-dashboard-schema");
const work = path.join(root, "target", "fleet-dashboard-schema");

// Panel types with published option types: type -> module under @grafana/schema.
const PANEL_TYPES = {
  timeseries: "TimeSeriesPanelCfg",
  stat: "StatPanelCfg",
  table: "TablePanelCfg",
  bargauge: "BarGaugePanelCfg",
  geomap: "GeomapPanelCfg",
  gauge: "GaugePanelCfg",
  barchart: "BarChartPanelCfg",
  piechart: "PieChartPanelCfg",
  text: "TextPanelCfg",
  heatmap: "HeatmapPanelCfg",
  histogram: "HistogramPanelCfg",
  statetimeline: "StateTimelinePanelCfg",
  statushistory: "StatusHistoryPanelCfg",
};

function die(msg) {
  console.error(`fleet-dashboard-schema: ${msg}`);
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
  patchEnums(path.join(work, "node_modules/@grafana/schema/dist/types"));
  fs.writeFileSync(stamp, lock);
}

/**
 * Dashboard JSON spells enum values as plain strings/numbers ("list", 1), which TypeScript does
 * not accept for an enum type. Each `declare enum` of the schema's declarations becomes the
 * union of its values plus a namespace of the members, so `LegendDisplayMode` means exactly the
 * JSON values it allows and `LegendDisplayMode.List` still names one of them.
 */
function patchEnums(dir) {
  const re = /export declare enum (\w+) \{([^}]*)\}/g;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".d.ts")) continue;
    const file = path.join(entry.parentPath ?? entry.path, entry.name);
    const text = fs.readFileSync(file, "utf8");
    if (!text.includes("declare enum")) continue;
    const patched = text.replace(re, (_, name, body) => {
      const members = body
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .split(",")
        .map((m) => m.trim())
        .filter(Boolean)
        .map((m) => {
          const [k, v] = m.split("=").map((s) => s.trim());
          return [k, v];
        });
      let next = 0;
      const values = members.map(([k, v]) => {
        if (v === undefined) return [k, String(next++)];
        if (/^-?\d+$/.test(v)) next = Number(v) + 1;
        return [k, v];
      });
      const union = values.map(([, v]) => v).join(" | ") || "never";
      const ns = values.map(([k, v]) => `type ${k} = ${v};`).join(" ");
      return `export type ${name} = ${union};\nexport declare namespace ${name} { ${ns} }`;
    });
    fs.writeFileSync(file, patched);
  }
}

function ident(s) {
  return s.replace(/[^A-Za-z0-9_]/g, "_");
}

/** Every panel, rows' nested panels included, with a readable location. */
function panels(d) {
  const out = [];
  for (const p of d.panels ?? []) {
    out.push(p);
    for (const q of p.panels ?? []) out.push(q);
  }
  return out;
}

/** The generated module for one dashboard and the line -> location map of its parts. */
function generate(name, d) {
  const problems = [];
  const used = new Set(JSON.stringify(d).match(/\$\{DS_[A-Z0-9_]+\}/g) ?? []);
  const declared = new Set((d.__inputs ?? []).map((i) => `\${${i.name}}`));
  for (const u of used) if (!declared.has(u)) problems.push(`${name}: ${u} is used but not declared in __inputs`);
  const model = { ...d };
  delete model.__inputs;
  delete model.__requires;
  delete model.__elements;
  // Stored dashboards may omit any key (Grafana fills in the panel plugin's defaults on load), so
  // every type is checked deeply partial: missing keys pass, unknown keys and wrong types fail.
  const lines = [
    `// Generated from ${name} by scripts/fleet-dashboard-schema.mjs`,
    `import type { Dashboard } from "@grafana/schema";`,
    `type DeepPartial<T> = T extends (infer U)[] ? DeepPartial<U>[] : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;`,
  ];
  const imports = new Set();
  const body = [];
  const where = [];
  const emit = (label, text) => {
    const start = body.length;
    body.push(...text.split("\n"));
    where.push([start, body.length, label]);
  };
  emit("dashboard", `export const dashboard: DeepPartial<Dashboard> = ${JSON.stringify(model, null, 2)};`);
  for (const p of panels(d)) {
    const mod = PANEL_TYPES[p.type];
    const label = `panel ${JSON.stringify(p.title ?? "?")} (id ${p.id}, ${p.type})`;
    if (p.type === "row") continue;
    if (!mod) {
      problems.push(`${name}: ${label}: no published option types for panel type ${p.type}; add it to PANEL_TYPES`);
      continue;
    }
    const ns = `P_${ident(p.type)}`;
    imports.add(`import type * as ${ns} from "@grafana/schema/dist/esm/raw/composable/${p.type}/panelcfg/x/${mod}_types.gen";`);
    if (p.options !== undefined) emit(`${label} options`, `export const options_${p.id}: DeepPartial<${ns}.Options> = ${JSON.stringify(p.options, null, 2)};`);
    const custom = p.fieldConfig?.defaults?.custom;
    if (custom !== undefined) {
      const t = /export interface FieldConfig\b/.test(readTypes(p.type, mod)) ? `${ns}.FieldConfig` : "Record<string, never>";
      emit(`${label} fieldConfig.defaults.custom`, `export const custom_${p.id}: DeepPartial<${t}> = ${JSON.stringify(custom, null, 2)};`);
    }
  }
  const head = [...lines, ...imports];
  const offset = head.length;
  return {
    text: [...head, ...body].join("\n") + "\n",
    locate: (line) => {
      const i = line - 1 - offset;
      const w = where.find(([a, b]) => i >= a && i < b);
      return w ? w[2] : "?";
    },
    problems,
  };
}

function readTypes(type, mod) {
  const f = path.join(work, "node_modules/@grafana/schema/dist/types/raw/composable", type, "panelcfg/x/types.gen.d.ts");
  return fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "";
}

function main() {
  let files = process.argv.slice(2);
  if (files.length === 0) {
    const dir = path.join(root, "config/grafana/dashboards");
    files = fs.readdirSync(dir).filter((f) => f.endsWith(".json")).sort().map((f) => path.join(dir, f));
  }
  install();
  const src = path.join(work, "src");
  fs.rmSync(src, { recursive: true, force: true });
  fs.mkdirSync(src);
  const generated = new Map();
  const problems = [];
  for (const f of files) {
    let d;
    try {
      d = JSON.parse(fs.readFileSync(f, "utf8"));
    } catch (e) {
      die(`${f}: ${e.message}`);
    }
    const name = path.relative(root, path.resolve(f));
    const g = generate(name, d);
    problems.push(...g.problems);
    const ts = `${ident(path.basename(f, ".json"))}.ts`;
    fs.writeFileSync(path.join(src, ts), g.text);
    generated.set(ts, { name, locate: g.locate, lines: g.text.split("\n") });
  }
  fs.writeFileSync(
    path.join(work, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: "es2022",
        module: "esnext",
        moduleResolution: "bundler",
        skipLibCheck: true,
        types: [],
      },
      include: ["src/*.ts"],
    }),
  );
  const tsc = spawnSync(process.execPath, [path.join(work, "node_modules/typescript/bin/tsc"), "-p", work, "--pretty", "false"], {
    cwd: work,
    encoding: "utf8",
  });
  // Compiler lines: src/overview.ts(12,5): error TS2353: ...
  for (const l of (tsc.stdout + tsc.stderr).split("\n")) {
    const m = l.match(/^src\/([^()]+)\((\d+),(\d+)\): (.*)$/);
    if (m && generated.has(m[1])) {
      const g = generated.get(m[1]);
      const text = g.lines[Number(m[2]) - 1]?.trim() ?? "";
      problems.push(`${g.name}: ${g.locate(Number(m[2]))}: at \`${text.slice(0, 120)}\`: ${m[4]}`);
    } else if (l.trim()) {
      problems.push(l);
    }
  }
  if (tsc.status !== 0 && problems.length === 0) die(`tsc exited ${tsc.status}`);
  if (problems.length) {
    for (const p of problems) console.log(p);
    console.log(`${problems.length} schema problem(s) in ${files.length} dashboard(s)`);
    process.exit(1);
  }
  const version = JSON.parse(fs.readFileSync(path.join(work, "node_modules/@grafana/schema/package.json"), "utf8")).version;
  console.log(`${files.length} dashboard(s) valid against @grafana/schema ${version}`);
}

main();
