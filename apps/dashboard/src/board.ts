import { createRequire } from 'node:module';
import path from 'node:path';
import { createBullBoard } from '@bull-board/api';
import type { BeforeHook } from '@bull-board/api/typings/app';
import { ExpressAdapter } from '@bull-board/express';
import { boardAdaptersFor } from '@coldcopy/queue-core/board';
import type { Express } from 'express';
import type { QueueTarget } from './queue-targets.js';
import type { Redactor } from './redact.js';

/**
 * Two Bull Boards over the same Bull queues (their adapters built by queue-core's `board` entry), both at the board's base path; app.ts picks one per
 * request by role:
 * - `viewer`: every queue in `readOnlyMode` (the UI hides every action and the API answers 405);
 * - `operator`: retry, promote, clean, pause/resume, empty; the `maintenance` queue stays
 *   read-only because cleaning its `delayed` set deletes the armed run of every repeatable job
 *   (ops.md §1, bull-v4.md §11).
 * Routes no role gets (see BLOCKED_ROUTES) are refused by a handler hook on both boards.
 */

/**
 * Refused for everybody:
 * - update-data: the board shows redacted data, so an edit would write "[redacted]" back;
 * - add: jobs enter through the producer, which validates the payload against the job's schema;
 * - obliterate: deletes the queue's keys, schedules included; a Redis-level operation, not a UI one.
 */
export const BLOCKED_ROUTES: ReadonlySet<string> = new Set([
  '/api/queues/:queueName/:jobId/update-data',
  '/api/queues/:queueName/add',
  '/api/queues/:queueName/obliterate',
]);

/** Queues no role may change from the board. */
export const READ_ONLY_QUEUES: ReadonlySet<string> = new Set(['maintenance']);

export interface BoardOptions {
  readonly targets: readonly QueueTarget[];
  /** the path browsers use for the board, baked into the page's <base href> */
  readonly publicBoardPath: string;
  readonly redact: Redactor;
  readonly title?: string;
  /** environment badge, e.g. production */
  readonly environmentLabel?: string;
  /** shown as a "Log out" link when set */
  readonly logoutUrl?: string;
}

export interface Boards {
  readonly viewer: Express;
  readonly operator: Express;
}

const beforeHook: BeforeHook = ({ route }) =>
  BLOCKED_ROUTES.has(route) ? { allow: false, status: 403, message: 'this action is disabled on the ColdCopy dashboard' } : { allow: true };

/**
 * Our payloads are objects; a string is the stored text of a poison job whose data is not valid
 * JSON (queue-core's Bull patch keeps it instead of failing the whole list). It may hold anything,
 * secrets included, so the board names it without showing it; the dead-letter store has it whole.
 */
export function corruptDataNotice(stored: string): string {
  return `[corrupt: ${Buffer.byteLength(stored)} bytes of stored data that are not valid JSON; not shown, see the dead-letter store]`;
}

export function createBoards(options: BoardOptions): Boards {
  return {
    viewer: createBoard(options, 'viewer'),
    operator: createBoard(options, 'operator'),
  };
}

function createBoard(options: BoardOptions, role: 'viewer' | 'operator'): Express {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(options.publicBoardPath);
  const queues = boardAdaptersFor(
    options.targets.map((t) => ({
      shard: t.source,
      readOnlyMode: role === 'viewer' || READ_ONLY_QUEUES.has(t.queue),
      description: t.description,
      displayName: t.displayName,
    })),
    {
      data: (data) => (typeof data === 'string' ? corruptDataNotice(data) : options.redact(data)),
      returnValue: (value) => options.redact(value),
    },
  );
  const title = options.title ?? 'ColdCopy jobs';
  createBullBoard({
    queues,
    serverAdapter,
    options: {
      // Resolved here rather than by bull-board's own `require.resolve`, which a bundle may hide.
      uiBasePath: path.dirname(createRequire(import.meta.url).resolve('@bull-board/ui/package.json')),
      handlerHooks: { before: beforeHook },
      uiConfig: {
        boardTitle: role === 'viewer' ? `${title} (read-only)` : title,
        // `showWorkers` would run CLIENT LIST per queue on every poll; /health lists workers.
        showWorkers: false,
        showMetrics: true,
        hideDocsLink: true,
        ...(options.environmentLabel
          ? { environment: { label: options.environmentLabel, color: options.environmentLabel === 'production' ? '#b91c1c' : '#2563eb' } }
          : {}),
        ...(options.logoutUrl ? { miscLinks: [{ text: 'Log out', url: options.logoutUrl }] } : {}),
      },
    },
  });
  const board = serverAdapter.getRouter() as Express;
  board.disable('x-powered-by');
  return board;
}
