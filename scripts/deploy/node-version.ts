import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `.node-version` is the one place the Node.js version is pinned. `pnpm gen:deploy` writes what
 * other tools need to read it in their own format: `.nvmrc` (nvm, fnm), package.json `volta` and
 * `engines`, the default of `ARG NODE_VERSION` in Dockerfile.worker, the `NODE_MAJOR` default of
 * scripts/worker-setup.sh (and compose/app.yaml build args, render.ts). tsup.app.ts reads the file
 * at build time. So a bump is one line in `.node-version` plus `pnpm gen:deploy`; the deploy drift
 * test fails until the generated files agree (scripts/node-version.test.ts names each one).
 */
export interface NodePin {
  /** e.g. 24.22.3 */
  readonly version: string;
  /** e.g. 24 */
  readonly major: string;
}

export function readNodePin(root: string): NodePin {
  const version = readFileSync(join(root, '.node-version'), 'utf8').trim();
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`.node-version must hold one exact release (e.g. 24.22.3), got "${version}"`);
  return { version, major: version.split('.')[0]! };
}

/** Replaces the one match of `pattern` (its first group is kept, the rest becomes `value`). */
function setOne(text: string, pattern: RegExp, value: string, where: string): string {
  const matches = text.match(new RegExp(pattern.source, `${pattern.flags.replace('g', '')}g`));
  if (matches?.length !== 1) throw new Error(`${where}: expected exactly one line matching ${pattern}, found ${matches?.length ?? 0}`);
  return text.replace(pattern, (_m, keep: string) => `${keep}${value}`);
}

/** Generated files (relative path → text) that carry the pinned version. */
export function nodeVersionFiles(root: string, pin: NodePin): Map<string, string> {
  const read = (path: string) => readFileSync(join(root, path), 'utf8');
  const files = new Map<string, string>();
  files.set('.nvmrc', `${pin.version}\n`);
  let pkg = read('package.json');
  pkg = setOne(pkg, /("volta":\s*\{\s*"node":\s*)"[^"]*"/, `"${pin.version}"`, 'package.json volta.node');
  pkg = setOne(pkg, /("engines":\s*\{\s*"node":\s*)"[^"]*"/, `">=${pin.major}.0.0 <${Number(pin.major) + 1}"`, 'package.json engines.node');
  files.set('package.json', pkg);
  files.set('Dockerfile.worker', setOne(read('Dockerfile.worker'), /^(ARG NODE_VERSION=)\S+$/m, pin.major, 'Dockerfile.worker'));
  return files;
}

/** scripts/worker-setup.sh with the pinned major as its NODE_MAJOR default. */
export function withSetupNodeMajor(setup: string, pin: NodePin): string {
  return setOne(setup, /^(NODE_MAJOR="\$\{NODE_MAJOR:-)\d+(?=\}"$)/m, pin.major, 'scripts/worker-setup.sh NODE_MAJOR');
}
