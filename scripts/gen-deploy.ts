/**
 * pnpm gen:deploy [--check]
 *
 * Writes the deployment files from the apps' manifests (`"coldcopy"` in apps/<app>/package.json)
 * and env schemas: docker-compose.yml, app.yaml, .env.example (compose) and apps/<app>/.env.example,
 * the generated section of scripts/worker-setup.sh, the environment section of README.md, the
 * Kubernetes manifests of the workers in deploy/kubernetes/ (a removed app's manifest is deleted)
 * and the files that repeat the Node.js version of `.node-version` (deploy/node-version.ts).
 * `--check` writes nothing and exits 1 when a committed file differs from what would be generated.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { discoverApps, ROOT, type AppInfo } from './deploy/apps.js';
import { nodeVersionFiles, readNodePin, withSetupNodeMajor } from './deploy/node-version.js';
import {
  README_ENV_BEGIN,
  README_ENV_END,
  renderAppEnvExample,
  renderAppSpec,
  renderCompose,
  renderEnvDocs,
  renderEnvExample,
  renderSetupSection,
  replaceBetween,
  UNITS_BEGIN,
  UNITS_END,
} from './deploy/render.js';
import { K8S_DIR, loadScalingRules, renderKubernetes, type ScalingRules } from './deploy/kubernetes.js';

/** Folders whose every file is generated: a file there that `generate` does not return is removed. */
export const GENERATED_DIRS = [K8S_DIR];

/** Expected content of every generated file, relative path → text. */
export function generate(apps: readonly AppInfo[], root = ROOT, rules: ScalingRules = loadScalingRules(root)): Map<string, string> {
  const files = new Map<string, string>();
  for (const [path, text] of renderKubernetes(apps, rules)) files.set(path, text);
  files.set('docker-compose.yml', renderCompose(apps));
  files.set('app.yaml', renderAppSpec(apps));
  files.set('.env.example', renderEnvExample(apps));
  for (const app of apps) files.set(`apps/${app.name}/.env.example`, renderAppEnvExample(app));
  const pin = readNodePin(root);
  for (const [path, text] of nodeVersionFiles(root, pin)) files.set(path, text);
  const setup = withSetupNodeMajor(readFileSync(join(root, 'scripts/worker-setup.sh'), 'utf8'), pin);
  files.set('scripts/worker-setup.sh', replaceBetween(setup, UNITS_BEGIN, UNITS_END, renderSetupSection(apps), 'scripts/worker-setup.sh'));
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  files.set(
    'README.md',
    replaceBetween(readme, README_ENV_BEGIN, README_ENV_END, `${README_ENV_BEGIN}\n${renderEnvDocs(apps)}\n${README_ENV_END}`, 'README.md'),
  );
  return files;
}

/** Files in the generated folders that are no longer generated (their app was removed). */
export function orphans(files: Map<string, string>, root = ROOT): string[] {
  const out: string[] = [];
  for (const dir of GENERATED_DIRS) {
    if (!existsSync(join(root, dir))) continue;
    for (const f of readdirSync(join(root, dir))) if (!files.has(`${dir}/${f}`)) out.push(`${dir}/${f}`);
  }
  return out.sort();
}

/** Writes what changed and removes the orphans; returns the paths touched. */
export function apply(files: Map<string, string>, root = ROOT): { written: string[]; removed: string[] } {
  const written = stale(files, root).filter((p) => files.has(p));
  for (const path of written) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), files.get(path)!);
  }
  const removed = orphans(files, root);
  for (const path of removed) rmSync(join(root, path));
  return { written, removed };
}

/** Paths whose committed content differs from the generated one, and orphans of removed apps. */
export function stale(files: Map<string, string>, root = ROOT): string[] {
  const out: string[] = [...orphans(files, root)];
  for (const [path, text] of files) {
    let current: string | undefined;
    try {
      current = readFileSync(join(root, path), 'utf8');
    } catch {
      current = undefined;
    }
    if (current !== text) out.push(path);
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  const check = argv.includes('--check');
  const apps = await discoverApps();
  const files = generate(apps);
  const changed = stale(files);
  if (check) {
    if (changed.length === 0) {
      console.log(`deployment files are up to date (${apps.map((a) => a.name).join(', ')})`);
      return 0;
    }
    console.error(`out of date: ${changed.join(', ')}\nrun \`pnpm gen:deploy\` and commit the result`);
    return 1;
  }
  const { written, removed } = apply(files);
  console.log(
    `apps: ${apps.map((a) => `${a.name}${a.queue ? ` (${a.queue})` : ''}`).join(', ')}\n` +
      (changed.length
        ? [written.length ? `wrote ${written.join(', ')}` : '', removed.length ? `removed ${removed.join(', ')}` : ''].filter(Boolean).join('\n')
        : 'everything up to date'),
  );
  return 0;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
