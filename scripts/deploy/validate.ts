/**
 * Checking generated deployment files against the vendored JSON Schemas (ajv, deploy/schemas/,
 * with their licences) and reading the units of the droplet script. Used by the deployment tests
 * (scripts/deploy.test.ts) and the add-a-worker test (test/add-a-worker.int.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import YAML from 'yaml';
import { ROOT } from './apps.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export const readYaml = (text: string): unknown => YAML.parse(text, { merge: true });

export interface DeploySchemas {
  readonly ajv: Ajv;
  readonly validateCompose: ValidateFunction;
  readonly validateAppSpec: ValidateFunction;
}

/** The Compose Specification and DigitalOcean's strict app spec schema, compiled. */
export function deploySchemas(root = ROOT): DeploySchemas {
  const schemas = resolve(root, 'scripts/deploy/schemas');
  const readSchema = (rel: string) => JSON.parse(readFileSync(join(schemas, rel), 'utf8')) as Record<string, unknown>;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  // compose-spec.json names an https draft-07 id ajv does not know (compose-spec#621): drop it
  const { $schema: _ignored, ...compose } = readSchema('compose-spec.json');
  return { ajv, validateCompose: ajv.compile(compose), validateAppSpec: ajv.compile(readSchema('do-app-spec/app_spec.strict.schema.json')) };
}

/** The units scripts/worker-setup.sh writes (`--units <dir>`), by file name. */
export function unitsOf(script: string): Map<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'coldcopy-units-'));
  try {
    const file = join(dir, 'setup.sh');
    writeFileSync(file, script);
    execFileSync('bash', [file, '--units', dir], { stdio: 'pipe' });
    const out = new Map<string, string>();
    for (const f of readdirSync(dir).filter((f) => f.endsWith('.service'))) out.set(f, readFileSync(join(dir, f), 'utf8'));
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
