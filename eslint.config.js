// @ts-check
/**
 * ESLint for the whole workspace (`pnpm lint`): typescript-eslint's type-aware rules plus the
 * rules that encode the architecture (README "Developing"):
 * - an app never imports another app (apps are deployed alone; shared code goes to packages/);
 * - only packages/queue-core/src imports `bull` (benches aside, for their raw-Bull baselines):
 *   Bull is sealed behind queue-core's definitions, producer, runtime and admin; tests included
 *   (queue-core's own tests reach Bull's own API through src/testing/raw-queue.ts);
 * - the web-side package (@coldcopy/web) never reaches worker code or worker SDKs;
 * - no import cycles (type-only imports included: they still tie two modules' designs together).
 * Layering uses eslint-plugin-import-x on the paths its TypeScript resolver resolves (package
 * names, `.js` specifiers of `.ts` files and the `@coldcopy/source` condition included), so one
 * tool, one config and one command cover style, types and architecture, and an editor shows a
 * layering error where it is written. Formatting is Prettier's (`.prettierrc.json`), not ESLint's.
 */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const root = dirname(fileURLToPath(import.meta.url));
const apps = readdirSync(`${root}/apps`, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

/** Import specifiers of SDKs that only worker apps may use (the web package must not pull them in). */
const WORKER_SDKS = [
  'bull',
  'ioredis',
  'pg',
  '@aws-sdk/*',
  'openai',
  '@anthropic-ai/sdk',
  '@hubspot/*',
  'jsforce',
  '@googleapis/*',
  'google-auth-library',
  'nodemailer',
  'mailparser',
  'exceljs',
  'pdfkit',
  'bottleneck',
];

/** `bull` and its subpaths, as the message says where Bull lives instead. */
const bullImports = {
  paths: [{ name: 'bull', message: 'Bull is sealed inside packages/queue-core/src: use its producer, runtime (JobContext) or admin API.' }],
  patterns: [{ group: ['bull/*'], message: 'Bull is sealed inside packages/queue-core/src.' }],
};

export default tseslint.config(
  {
    ignores: ['**/node_modules/**', '**/dist/**', '**/.next/**', '**/coverage/**', '.tools/**', '.data/**', '.bench-build/**', 'examples/nextjs/next-env.d.ts'],
  },
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          // files no package tsconfig includes: build configs
          allowDefaultProject: ['vitest.config.ts', 'eslint.config.js', 'packages/*/tsup.config.ts'],
          defaultProject: 'tsconfig.json',
        },
        tsconfigRootDir: root,
      },
    },
    plugins: { 'import-x': importX },
    settings: {
      // parse TypeScript files when following imports (no-cycle walks the graph through them)
      'import-x/extensions': importX.flatConfigs.typescript.settings['import-x/extensions'],
      'import-x/external-module-folders': importX.flatConfigs.typescript.settings['import-x/external-module-folders'],
      'import-x/parsers': importX.flatConfigs.typescript.settings['import-x/parsers'],
      'import-x/resolver-next': [
        createTypeScriptImportResolver({
          project: ['tsconfig.json', 'apps/*/tsconfig.json', 'packages/*/tsconfig.json', 'examples/nextjs/tsconfig.check.json'].map((p) => `${root}/${p}`),
          noWarnOnMultipleProjects: true,
          // workspace packages resolve to their TypeScript sources, as tsc and vitest see them
          conditionNames: ['@coldcopy/source', 'types', 'import', 'node', 'default'],
        }),
      ],
    },
    rules: {
      // Noise: fakes and adapters implement Promise-returning ports with `async` and no `await`,
      // which keeps a synchronous throw a rejection, as the port's callers expect.
      '@typescript-eslint/require-await': 'off',
      // Bull v4's `job.discard()` only sets a flag, though its typings declare a Promise.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', name: 'discard', package: 'bull' }] }],
      // `reject(signal.reason)` and `reject(err)` from a catch pass on what was thrown, typed any/unknown.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
      // Noise here: ports and adapters are plain objects of closures (no `this`), so destructuring
      // `{ close }` from one is safe, and the rule cannot tell them from class methods.
      '@typescript-eslint/unbound-method': 'off',
      // Its --fix removes assertions that give a function expression its contextual type, which
      // then fails to compile (process-webhook.test.ts); tsc reports what matters.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // Noise here: String() of a JSON value typed `unknown` and narrowed to `{}` is intended.
      '@typescript-eslint/no-base-to-string': 'off',
      // Unused code is an error; a leading underscore marks a deliberately unused parameter.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // Type-only imports are written `import type` (verbatimModuleSyntax needs it for elision).
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],

      // Architecture.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': [
        'error',
        {
          basePath: root,
          zones: [
            ...apps.map((app) => ({
              target: `./apps/${app}`,
              from: './apps',
              except: [`./${app}`],
              message: 'An app never imports another app: move the shared code to a package under packages/.',
            })),
            {
              target: './packages',
              from: './apps',
              message: 'Packages never import apps.',
            },
            {
              target: './packages/web/src',
              from: ['./packages/queue-core/src/runtime', './packages/queue-core/src/admin', './packages/testing/src'],
              message: '@coldcopy/web is web-side: no worker runtime, admin or test code.',
            },
          ],
        },
      ],
      'no-restricted-imports': ['error', bullImports],
    },
  },
  {
    // The web-side package: no worker SDKs either (packages/web/src/dependency-tree.test.ts checks
    // its installed tree; this checks what its code imports).
    files: ['packages/web/src/**'],
    ignores: ['packages/web/src/**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: bullImports.paths,
          patterns: [...bullImports.patterns, { group: WORKER_SDKS, message: '@coldcopy/web must not depend on worker SDKs: it is bundled into the web app.' }],
        },
      ],
    },
  },
  {
    // Where Bull may be imported: queue-core's sources (the adapter, its test support) and benches
    // (raw-Bull baselines). Tests, queue-core's included, are not exempt.
    files: ['packages/queue-core/src/**', '**/bench/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // Tests and benches read untyped JSON (type tests return deliberately mistyped values) (HTTP bodies, Redis hashes, query rows) and assert on it
    // with expect(); declaring a type for every body would only restate the assertion.
    files: ['**/test/**', '**/*.test.ts', '**/*.test-d.ts', '**/bench/**', 'examples/nextjs/test/**'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // The Next.js example: its own tsconfig.json is Next's (no source condition); this one is what
    // `pnpm typecheck` uses for it.
    files: ['examples/nextjs/**/*.ts', 'examples/nextjs/**/*.tsx'],
    languageOptions: {
      parserOptions: { projectService: false, project: 'examples/nextjs/tsconfig.check.json', tsconfigRootDir: root },
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
