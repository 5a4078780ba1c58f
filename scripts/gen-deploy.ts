/**
 * pnpm gen:deploy [--check]
 *
 * Writes the deployment files from the apps' manifests (`"coldcopy"` in apps/<app>/package.json)
 * and env schemas: docker-compose.yml, app.yaml, .env.example (compose) and apps/<app>/.env.example,
 * the generated section of scripts/worker-setup.sh and the environment section of README.md. `--check` writes nothing and
 * exits 1 when a committed file differs from what would be generated.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { discoverApps, ROOT, type AppInfo } from './deploy/apps.js';
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

/** Expected content of every generated file, relative path → text. */
export function generate(apps: readonly AppInfo[], root = ROOT): Map<string, string> {
  const files = new Map<string, string>();
  files.set('docker-compose.yml', renderCompose(apps));
  files.set('app.yaml', renderAppSpec(apps));
  files.set('.env.example', renderEnvExample(apps));
  for (const app of apps) files.set(`apps/${app.name}/.env.example`, renderAppEnvExample(app));
  const setup = readFileSync(join(root, 'scripts/worker-setup.sh'), 'utf8');
  files.set('scripts/worker-setup.sh', replaceBetween(setup, UNITS_BEGIN, UNITS_END, renderSetupSection(apps), 'scripts/worker-setup.sh'));
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  files.set(
    'README.md',
    replaceBetween(readme, README_ENV_BEGIN, README_ENV_END, `${README_ENV_BEGIN}\n${renderEnvDocs(apps)}\n${README_ENV_END}`, 'README.md'),
  );
  return files;
}

/** Paths whose committed content differs from the generated one. */
export function stale(files: Map<string, string>, root = ROOT): string[] {
  const out: string[] = [];
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
  for (const path of changed) writeFileSync(join(ROOT, path), files.get(path)!);
  console.log(
    `apps: ${apps.map((a) => `${a.name}${a.queue ? ` (${a.queue})` : ''}`).join(', ')}\n` +
      (changed.length ? `wrote ${changed.join(', ')}` : 'everything up to date'),
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
