import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readBody, sendJson } from '@coldcopy/testing/emulator';
import type { App, AppSpec } from '../do-apps.js';

/**
 * A local stand-in for the DigitalOcean Apps API (the scaler's tests and the dev stack), speaking
 * its wire format: `GET /v2/apps/{id}`, `PUT /v2/apps/{id}` (`{spec, update_all_source_versions}`),
 * `GET /v2/apps/{id}/deployments`, bearer-token auth, `{id, message}` error bodies and the
 * `ratelimit-limit/-remaining/-reset` headers on every answer.
 *
 * Behaviour worth testing against:
 * - every accepted PUT starts a deployment that stays `in_progress_deployment` for `deploymentMs`
 *   (on the injected clock), as App Platform's build and rollout do;
 * - a request budget per window; past it, 429 with `retry-after`;
 * - injected faults: the next N requests of a method answer a status (500, 502, 503…), either
 *   before touching anything or, with `afterApply`, after applying the update (a lost answer);
 * - a request log (method, path, status, the spec's worker counts of a PUT), never the token.
 *
 * Admin routes for the dev stack: `GET /healthz`, `GET /__emulator/requests`, `POST
 * /__emulator/faults` (`{method, status, count, afterApply}`), `POST /__emulator/finish-deployments`.
 */

export interface EmulatorFault {
  readonly method: 'GET' | 'PUT';
  readonly status: number;
  /** requests it applies to (default 1) */
  readonly count?: number;
  /** PUT only: apply the update, then answer the error (the caller cannot know it went through) */
  readonly afterApply?: boolean;
  /** requests of the method let through before the fault starts (default 0) */
  readonly skip?: number;
}

export interface EmulatorRequest {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** emulator clock, ms */
  readonly at: number;
  readonly authorized: boolean;
  /** PUT: worker name → instance_count of the submitted spec */
  readonly counts?: Readonly<Record<string, number>>;
  /** PUT: it arrived while another deployment was still in progress */
  readonly duringDeployment?: boolean;
  /** PUT: the spec was stored (2xx, or an injected error after applying) */
  readonly applied?: boolean;
}

export interface DoAppsEmulatorOptions {
  readonly port?: number;
  readonly host?: string;
  /** accepted bearer token (default `dev-token`) */
  readonly token?: string;
  /** apps to serve, by id */
  readonly apps?: ReadonlyArray<{ readonly id: string; readonly spec: AppSpec }>;
  /** how long a deployment stays in progress, ms of the injected clock (default 0: done at once) */
  readonly deploymentMs?: number;
  /** requests per window before 429 (default: unlimited) */
  readonly rateLimit?: { readonly limit: number; readonly windowMs: number };
  readonly now?: () => number;
}

interface StoredApp {
  id: string;
  spec: AppSpec;
  deployments: { id: string; createdAt: number; doneAt: number; cause: string }[];
  createdAt: number;
  updatedAt: number;
}

export class DoAppsEmulator {
  readonly requests: EmulatorRequest[] = [];
  private readonly apps = new Map<string, StoredApp>();
  private faults: Required<EmulatorFault>[] = [];
  private server: Server | undefined;
  private window = { start: 0, used: 0 };
  private readonly now: () => number;
  private readonly token: string;
  url = '';

  constructor(private readonly options: DoAppsEmulatorOptions = {}) {
    this.now = options.now ?? Date.now;
    this.token = options.token ?? 'dev-token';
    for (const app of options.apps ?? []) this.addApp(app.id, app.spec);
  }

  addApp(id: string, spec: AppSpec): void {
    const at = this.now();
    this.apps.set(id, { id, spec: structuredClone(spec), deployments: [], createdAt: at, updatedAt: at });
  }

  /** The stored spec (a copy). */
  spec(id: string): AppSpec {
    const app = this.apps.get(id);
    if (!app) throw new Error(`no app ${id}`);
    return structuredClone(app.spec);
  }

  /** Accepted updates (PUTs answered 2xx, or applied before an injected error). */
  updates(id?: string): EmulatorRequest[] {
    return this.requests.filter((r) => r.applied === true && (id === undefined || r.path === `/v2/apps/${id}`));
  }

  inject(fault: EmulatorFault): void {
    this.faults.push({ count: 1, afterApply: false, skip: 0, ...fault });
  }

  /** Ends every deployment in progress now. */
  finishDeployments(): void {
    const at = this.now();
    for (const app of this.apps.values()) for (const d of app.deployments) if (d.doneAt > at) d.doneAt = at;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => sendJson(res, 500, { id: 'internal_error', message: err.message }));
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve());
    });
    const address = this.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    this.url = `http://${this.options.host ?? '127.0.0.1'}:${port}`;
    return this.url;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server!.close(() => r()));
    this.server = undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    if (url.pathname === '/healthz') return void sendJson(res, 200, { ok: true });
    if (url.pathname.startsWith('/__emulator/')) return void this.admin(url.pathname, method, body, res);

    const at = this.now();
    const authorized = req.headers.authorization === `Bearer ${this.token}`;
    const log = (status: number, extra: Partial<EmulatorRequest> = {}) => this.requests.push({ method, path: url.pathname, status, at, authorized, ...extra });

    // rate limit: every API request counts, as DigitalOcean's does
    const limit = this.options.rateLimit;
    if (limit) {
      if (at - this.window.start >= limit.windowMs) this.window = { start: at, used: 0 };
      this.window.used++;
      const reset = Math.ceil((this.window.start + limit.windowMs) / 1000);
      res.setHeader('ratelimit-limit', String(limit.limit));
      res.setHeader('ratelimit-remaining', String(Math.max(0, limit.limit - this.window.used)));
      res.setHeader('ratelimit-reset', String(reset));
      if (this.window.used > limit.limit) {
        res.setHeader('retry-after', String(Math.max(1, Math.ceil((this.window.start + limit.windowMs - at) / 1000))));
        log(429);
        return void sendJson(res, 429, { id: 'too_many_requests', message: 'API Rate limit exceeded.' });
      }
    }
    if (!authorized) {
      log(401);
      return void sendJson(res, 401, { id: 'unauthorized', message: 'Unable to authenticate you' });
    }
    const m = /^\/v2\/apps\/([^/]+)(\/deployments)?$/.exec(url.pathname);
    const app = m ? this.apps.get(decodeURIComponent(m[1]!)) : undefined;
    if (!m || !app) {
      log(404);
      return void sendJson(res, 404, { id: 'not_found', message: 'The resource you were accessing could not be found.' });
    }
    const fault = this.takeFault(method);
    if (fault && !fault.afterApply) {
      log(fault.status);
      return void sendJson(res, fault.status, { id: 'server_error', message: 'Server Error' });
    }
    if (m[2]) {
      if (method !== 'GET') return void sendJson(res, 405, { id: 'method_not_allowed', message: 'Method Not Allowed' });
      log(200);
      return void sendJson(res, 200, { deployments: app.deployments.map((d) => this.deployment(d)), meta: { total: app.deployments.length } });
    }
    if (method === 'GET') {
      log(200);
      return void sendJson(res, 200, { app: this.view(app) });
    }
    if (method !== 'PUT') {
      log(405);
      return void sendJson(res, 405, { id: 'method_not_allowed', message: 'Method Not Allowed' });
    }
    let spec: AppSpec;
    try {
      spec = (JSON.parse(body) as { spec: AppSpec }).spec;
      if (!spec || typeof spec.name !== 'string') throw new Error('spec.name is required');
    } catch (err) {
      log(422);
      return void sendJson(res, 422, { id: 'unprocessable_entity', message: (err as Error).message });
    }
    const duringDeployment = app.deployments.some((d) => d.doneAt > at);
    const counts = Object.fromEntries((spec.workers ?? []).map((w) => [w.name, w.instance_count ?? 1]));
    app.spec = structuredClone(spec);
    app.updatedAt = at;
    app.deployments.unshift({ id: randomUUID(), createdAt: at, doneAt: at + (this.options.deploymentMs ?? 0), cause: 'app spec updated' });
    if (fault) {
      log(fault.status, { counts, duringDeployment, applied: true });
      return void sendJson(res, fault.status, { id: 'server_error', message: 'Server Error' });
    }
    log(200, { counts, duringDeployment, applied: true });
    sendJson(res, 200, { app: this.view(app) });
  }

  private takeFault(method: string): Required<EmulatorFault> | undefined {
    const i = this.faults.findIndex((f) => f.method === method);
    if (i < 0) return undefined;
    const fault = this.faults[i]!;
    if (fault.skip > 0) {
      this.faults[i] = { ...fault, skip: fault.skip - 1 };
      return undefined;
    }
    if (fault.count <= 1) this.faults.splice(i, 1);
    else this.faults[i] = { ...fault, count: fault.count - 1 };
    return fault;
  }

  private deployment(d: StoredApp['deployments'][number]) {
    const done = d.doneAt <= this.now();
    return {
      id: d.id,
      cause: d.cause,
      phase: done ? 'ACTIVE' : 'DEPLOYING',
      created_at: new Date(d.createdAt).toISOString(),
      updated_at: new Date(done ? d.doneAt : this.now()).toISOString(),
    };
  }

  private view(app: StoredApp): App {
    const at = this.now();
    const running = app.deployments.find((d) => d.doneAt > at);
    const active = app.deployments.find((d) => d.doneAt <= at);
    return {
      id: app.id,
      spec: structuredClone(app.spec),
      created_at: new Date(app.createdAt).toISOString(),
      updated_at: new Date(app.updatedAt).toISOString(),
      ...(active ? { active_deployment: this.deployment(active) } : {}),
      ...(running ? { in_progress_deployment: this.deployment(running) } : {}),
    };
  }

  private admin(path: string, method: string, body: string, res: ServerResponse): void {
    if (path === '/__emulator/requests' && method === 'GET') return void sendJson(res, 200, { requests: this.requests });
    if (path === '/__emulator/faults' && method === 'POST') {
      try {
        const fault = JSON.parse(body) as EmulatorFault;
        if ((fault.method !== 'GET' && fault.method !== 'PUT') || !Number.isInteger(fault.status))
          throw new Error('expected {method: GET|PUT, status, count?, afterApply?, skip?}');
        this.inject(fault);
        return void sendJson(res, 204, undefined);
      } catch (err) {
        return void sendJson(res, 400, { id: 'bad_request', message: (err as Error).message });
      }
    }
    if (path === '/__emulator/finish-deployments' && method === 'POST') {
      this.finishDeployments();
      return void sendJson(res, 204, undefined);
    }
    sendJson(res, 404, { id: 'not_found', message: 'no such emulator route' });
  }
}
