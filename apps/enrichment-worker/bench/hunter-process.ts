/**
 * The bench's Hunter emulator in a process of its own, as Hunter is remote in production: its
 * work and garbage collection share nothing with the bench's event loop.
 *
 *   tsx bench/hunter-process.ts <api key> <per second> <per minute> [arrival header]
 *     prints {"url": "http://127.0.0.1:<port>"} once it listens; stdin EOF (or SIGTERM) closes it.
 *
 * The bench reads its request log through the control API (GET /__emulator/requests). With an
 * arrival header, the rate windows judge each request by the time the kernel-stamp relay in front
 * wrote into it (HunterEmulatorOptions.arrivalHeader).
 */
import { startHunterEmulator } from '../src/emulators/hunter-emulator.js';

const [apiKey, perSecond, perMinute, arrivalHeader] = process.argv.slice(2);
if (!apiKey || !Number(perSecond) || !Number(perMinute)) throw new Error('usage: hunter-process.ts <api key> <per second> <per minute> [arrival header]');
const hunter = await startHunterEmulator({
  apiKey,
  perSecond: Number(perSecond),
  perMinute: Number(perMinute),
  ...(arrivalHeader ? { arrivalHeader } : {}),
});
const stop = () => void hunter.close().then(() => process.exit(0));
process.stdin.on('end', stop).resume();
process.on('SIGTERM', stop);
process.stdout.write(`${JSON.stringify({ url: hunter.url })}\n`);
