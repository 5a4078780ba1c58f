import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Bull is sealed in queue-core: no type reachable from a package entry point (package.json
 * `exports`) may be or contain one of Bull's (a `Bull.Queue` on `AdminQueues`, a `Bull.Job` in a
 * handler's context, a function taking a `Bull.Queue`…). Apps read jobs through `inspect`, the
 * producer and the admin API; queue-core's own modules and tests reach Bull through accessors no
 * entry point exports (admin-queues.ts `bullQueueOf`, worker.ts `bullQueuesOf`).
 *
 * The check runs the compiler over the entries: every export's type, and every type reachable
 * from it through properties, signatures, index signatures, type arguments, unions and base types
 * of queue-core's own declarations (another library's types are not walked into, only their type
 * arguments), must come from no declaration file of the `bull` package.
 */
const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), '..');
const OWN_SOURCES = `${join(PACKAGE, 'src')}/`;
const BULL_TYPINGS = /\/node_modules\/(@types\/)?bull\//;

interface Manifest {
  exports: Record<string, string | Record<string, string>>;
}

/** The TypeScript source of every entry point (`@coldcopy/source` condition). */
function entryPoints(): Map<string, string> {
  const manifest = JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8')) as Manifest;
  const entries = new Map<string, string>();
  for (const [subpath, target] of Object.entries(manifest.exports)) {
    const source = typeof target === 'string' ? undefined : target['@coldcopy/source'];
    if (source) entries.set(subpath, join(PACKAGE, source));
  }
  return entries;
}

function program(files: readonly string[]): ts.Program {
  const configPath = join(PACKAGE, 'tsconfig.json');
  const config = ts.readConfigFile(configPath, (path) => ts.sys.readFile(path));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, PACKAGE, undefined, configPath);
  return ts.createProgram({ rootNames: [...files], options: { ...parsed.options, noEmit: true } });
}

const declaredIn = (symbol: ts.Symbol | undefined, test: (file: string) => boolean) =>
  (symbol?.declarations ?? []).some((d) => test(d.getSourceFile().fileName));

/** Public members only: private and protected class members are not part of the API. */
function isPublic(symbol: ts.Symbol): boolean {
  if (symbol.name.startsWith('#')) return false;
  return !(symbol.declarations ?? []).some((d) => ts.getCombinedModifierFlags(d) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected));
}

/** Paths (`entry › export › member…`) at which a Bull type is reachable from `entries`. */
function bullTypesReachable(entries: ReadonlyMap<string, string>): string[] {
  const prog = program([...entries.values()]);
  const checker = prog.getTypeChecker();
  const found: string[] = [];
  const seen = new Set<ts.Type>();

  const visitSignature = (signature: ts.Signature, path: string) => {
    for (const param of signature.getParameters()) visit(checker.getTypeOfSymbol(param), `${path}(${param.name})`);
    for (const param of signature.getTypeParameters() ?? []) {
      const constraint = param.getConstraint();
      if (constraint) visit(constraint, `${path}<${param.symbol.name}>`);
    }
    visit(signature.getReturnType(), `${path}()`);
  };

  const visit = (type: ts.Type, path: string): void => {
    // every path to a Bull type is reported; a type is walked into once
    if (declaredIn(type.aliasSymbol, (f) => BULL_TYPINGS.test(f)) || declaredIn(type.getSymbol(), (f) => BULL_TYPINGS.test(f))) {
      found.push(`${path}: ${checker.typeToString(type)}`);
      return;
    }
    if (seen.has(type)) return;
    seen.add(type);
    const symbol = type.aliasSymbol ?? type.getSymbol();
    for (const arg of type.aliasTypeArguments ?? []) visit(arg, `${path}<>`);
    if (type.isUnionOrIntersection()) {
      for (const member of type.types) visit(member, path);
      return;
    }
    if (type.flags & ts.TypeFlags.Object && (type as ts.ObjectType).objectFlags & ts.ObjectFlags.Reference) {
      for (const arg of checker.getTypeArguments(type as ts.TypeReference)) visit(arg, `${path}<>`);
    }
    // Members of queue-core's own types and of anonymous ones written here (object literals,
    // function types); another library's types are its own business.
    const own = declaredIn(symbol, (f) => f.startsWith(OWN_SOURCES));
    if (!own) return;
    for (const property of checker.getPropertiesOfType(type)) {
      if (isPublic(property)) visit(checker.getTypeOfSymbol(property), `${path}.${property.name}`);
    }
    for (const signature of type.getCallSignatures()) visitSignature(signature, path);
    for (const signature of type.getConstructSignatures()) visitSignature(signature, `new ${path}`);
    for (const info of checker.getIndexInfosOfType(type)) visit(info.type, `${path}[]`);
    if (type.isClassOrInterface()) for (const base of checker.getBaseTypes(type)) visit(base, `${path} extends`);
  };

  for (const [subpath, file] of entries) {
    const source = prog.getSourceFile(file);
    const moduleSymbol = source && checker.getSymbolAtLocation(source);
    if (!moduleSymbol) throw new Error(`no module for entry ${subpath} (${file})`);
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const path = `${subpath} › ${exported.name}`;
      if (declaredIn(symbol, (f) => BULL_TYPINGS.test(f))) {
        found.push(`${path}: re-exports Bull's ${symbol.name}`);
        continue;
      }
      if (symbol.flags & (ts.SymbolFlags.Type | ts.SymbolFlags.Class)) visit(checker.getDeclaredTypeOfSymbol(symbol), path);
      if (symbol.flags & ts.SymbolFlags.Value) visit(checker.getTypeOfSymbol(symbol), path);
    }
  }
  return found;
}

describe("queue-core's public API", () => {
  const entries = entryPoints();

  it('lists every entry point of package.json', () => {
    expect([...entries.keys()].sort()).toEqual(['.', './admin', './board', './env', './producer', './runtime']);
  });

  it('hands out no Bull type: AdminQueues, AdminShard, Worker, the board and every other export are Bull-free', { timeout: 120_000 }, () => {
    expect(bullTypesReachable(entries)).toEqual([]);
  });

  it('finds a Bull type where one is exported (the check itself)', { timeout: 120_000 }, () => {
    // queue-core's own internal module: bullQueueOf returns Bull's Queue, which is why no entry exports it
    const internal = new Map([['admin-queues.ts', join(PACKAGE, 'src/admin/admin-queues.ts')]]);
    expect(bullTypesReachable(internal)).toEqual(expect.arrayContaining([expect.stringMatching(/^admin-queues\.ts › bullQueueOf\(\): /)]));
  });
});
