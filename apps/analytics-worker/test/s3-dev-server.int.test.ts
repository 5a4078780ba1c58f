import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createObjectStore, exportObjectKey, storageEnv } from '@coldcopy/storage';
import { freePort, waitFor } from '@coldcopy/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';

const APP_DIR = fileURLToPath(new URL('..', import.meta.url));
const manifest = JSON.parse(await readFile(join(APP_DIR, 'package.json'), 'utf8')) as {
  coldcopy: { devServers: Record<string, { entry: string; portEnv: string; ready: string }>; devEnv: Record<string, string>; devServices: string[] };
};
const stops: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
});

describe('the dev stack S3 emulator (coldcopy.devServers "s3")', () => {
  it('runs from its manifest entry, and STORAGE_DRIVER=s3 with the devEnv stores, lists and signs through it', async () => {
    const { devServers, devEnv, devServices } = manifest.coldcopy;
    expect(devServices).toContain('s3');
    expect(devEnv.STORAGE_DRIVER).toBe('local'); // local disk stays the default
    const decl = devServers.s3!;
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), 'coldcopy-s3-dev-'));
    stops.push(() => rm(dir, { recursive: true, force: true }));
    const child = spawn(process.execPath, ['--import', 'tsx', decl.entry], {
      cwd: APP_DIR,
      env: { ...process.env, [decl.portEnv]: String(port), S3_EMULATOR_DIR: dir },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    stops.push(async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}${decl.ready}`).catch(() => undefined))?.status === 200, { timeoutMs: 90_000, what: 'the S3 emulator' });

    // the devEnv as the dev stack fills it ({{url:s3}}), with the opt-in
    const env = Object.fromEntries(Object.entries(devEnv).map(([k, v]) => [k, v.replace('{{url:s3}}', url)]));
    const { store, close } = createObjectStore(z.object(storageEnv).parse({ ...env, STORAGE_DRIVER: 's3' }));
    stops.push(async () => close());
    const key = exportObjectKey('6f1c2b9e-3d4a-4c5b-8e7f-9a0b1c2d3e4f', 'dev', 'csv');
    await store.put(key, Readable.from([Buffer.from('a,b\r\n1,2\r\n')]), { contentType: 'text/csv' });
    expect(await store.list('workspaces/')).toEqual([key]);
    const signed = await store.presignGet(key, 3600);
    expect(signed.startsWith(`${url}/coldcopy-exports/`)).toBe(true);
    expect(await (await fetch(signed)).text()).toBe('a,b\r\n1,2\r\n');
  });
});
