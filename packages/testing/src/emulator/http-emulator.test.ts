import { afterEach, describe, expect, it } from 'vitest';
import { FixedWindow, hashInput, HttpEmulator, SlidingWindow } from './http-emulator.js';

describe('HttpEmulator', () => {
  let emulator: HttpEmulator | undefined;
  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
  });

  const start = async (options?: ConstructorParameters<typeof HttpEmulator>[2]) => {
    emulator = new HttpEmulator(
      'echo',
      (req) =>
        req.path === '/echo'
          ? {
              endpoint: 'echo',
              inputHash: hashInput(String((req.body as { q?: string } | undefined)?.q)),
              answer: () => ({ status: 200, body: req.body, credits: 1 }),
            }
          : undefined,
      options,
    );
    return emulator.listen();
  };

  it('routes JSON and form bodies, logs hashes instead of inputs, and answers faults before the route', async () => {
    const url = await start({ errorBody: (status, message) => ({ errors: [{ code: status, details: message }] }) });
    const json = await fetch(`${url}/echo`, { method: 'POST', body: JSON.stringify({ q: 'Secret' }) });
    expect(await json.json()).toEqual({ q: 'Secret' });
    const form = await fetch(`${url}/echo`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'q=x' });
    expect(await form.json()).toEqual({ q: 'x' });
    await fetch(`${url}/__emulator/faults`, { method: 'POST', body: JSON.stringify({ status: 429, endpoint: 'echo', headers: { 'retry-after': '1' } }) });
    const limited = await fetch(`${url}/echo`, { method: 'POST', body: '{}' });
    expect([limited.status, limited.headers.get('retry-after'), await limited.json()]).toEqual([
      429,
      '1',
      { errors: [{ code: 429, details: 'emulated 429' }] },
    ]);
    expect((await fetch(`${url}/nowhere`)).status).toBe(404);
    expect(emulator!.log('echo').map((r) => [r.status, r.credits, r.rateLimited])).toEqual([
      [200, 1, false],
      [200, 1, false],
      [429, 0, true],
    ]);
    expect(emulator!.requests[0]!.inputHash).toBe(hashInput('secret'));
    expect(JSON.stringify(await (await fetch(`${url}/__emulator/requests`)).json())).not.toContain('Secret');
  });

  it("takes a request's arrival time from the relay's header when configured, else stamps it itself", async () => {
    const seen: number[] = [];
    emulator = new HttpEmulator(
      'stamped',
      (req) => (req.path === '/x' ? { endpoint: 'x', answer: () => (seen.push(req.arrivedAt), { status: 204 }) } : undefined),
      { arrivalHeader: 'X-Arrived-At' },
    );
    const url = await emulator.listen();
    const before = Date.now();
    await fetch(`${url}/x`, { headers: { 'x-arrived-at': '1700000000123.456' } });
    await fetch(`${url}/x`, { headers: { 'x-arrived-at': 'soon' } });
    expect(seen[0]).toBe(1700000000123.456);
    expect(seen[1]).toBeGreaterThanOrEqual(before);
    expect(emulator.log('x').map((r) => r.at)).toEqual(seen);
  });

  it('serves health, clears its log, and hands other control routes to the emulator', async () => {
    let set: unknown;
    const url = await start((method, path, body) => (path === '/__emulator/credits' && method === 'POST' ? ((set = body), { status: 204 }) : undefined));
    expect((await fetch(`${url}/__emulator/health`)).status).toBe(200);
    expect((await fetch(`${url}/__emulator/credits`, { method: 'POST', body: '{"credits":3}' })).status).toBe(204);
    expect(set).toEqual({ credits: 3 });
    expect((await fetch(`${url}/__emulator/other`)).status).toBe(404);
    await fetch(`${url}/echo`, { method: 'POST', body: '{}' });
    await fetch(`${url}/__emulator/requests`, { method: 'DELETE' });
    expect(emulator!.requests).toHaveLength(0);
  });
});

describe('rate windows', () => {
  it('a sliding window frees a slot as its oldest request ages out', () => {
    const w = new SlidingWindow(2, 1000);
    expect([w.take(0), w.take(10), w.take(20), w.remaining(20)]).toEqual([true, true, false, 0]);
    expect([w.take(1000), w.remaining(1009), w.take(1011)]).toEqual([true, 0, true]);
  });
  it('a late stamp is judged with the requests stamped after it, so no window of a taken request exceeds max', () => {
    const w = new SlidingWindow(2, 1000);
    // 2000 and 2500 taken; 1990 arrives late: in its own window (990, 1990] there is none, but the
    // window ending at 2500 would then hold three
    expect([w.take(2000), w.take(2500), w.take(1990), w.remaining(2500)]).toEqual([true, true, false, 0]);
    expect([w.take(3001), w.remaining(3001)]).toEqual([true, 0]);
    // a late stamp with room in every window that would hold it is taken, and counts for later ones
    const v = new SlidingWindow(2, 1000);
    expect([v.take(2000), v.take(1400), v.take(2300), v.take(3100)]).toEqual([true, true, false, true]);
  });
  it('a late stamp that no full window would hold is taken: refusals mean the arrivals exceeded max in some window', () => {
    const w = new SlidingWindow(2, 1000);
    // 0 and 1500 taken; 600 arrives late: (-400, 600] holds 0 only and (500, 1500] holds 1500 only,
    // so no 1 s window would hold three (counting everything stamped after 600 would have refused it)
    expect([w.take(0), w.take(1500), w.take(600), w.remaining(1500)]).toEqual([true, true, true, 0]);
    // and the window ending at a later request is kept: 1200 and 1300 taken, a late 400 would make (300, 1300] hold three
    const v = new SlidingWindow(2, 1000);
    expect([v.take(0), v.take(1200), v.take(1300), v.take(400), v.take(250)]).toEqual([true, true, true, false, true]);
  });
  it('a fixed window opens at its first request and reopens whole', () => {
    const w = new FixedWindow(1, 1000);
    expect([w.take(500), w.take(900), w.reopensIn(900), w.left(1500), w.take(1500)]).toEqual([true, false, 600, 1, true]);
  });
});
