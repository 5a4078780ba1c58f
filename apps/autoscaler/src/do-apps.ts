/**
 * The part of the DigitalOcean Apps API the scaler uses (https://docs.digitalocean.com/reference/api/
 * digitalocean/#tag/Apps): `GET /v2/apps/{id}` for the spec and the deployment in progress, `PUT
 * /v2/apps/{id}` with the whole spec. The token is sent as a bearer header and appears in no
 * error, log line or metric.
 *
 * Retries: a 429 waits for `retry-after` or `ratelimit-reset`, a 5xx or a network error backs off
 * exponentially; then the whole read-modify-write starts again from a fresh GET, so a retried
 * update never overwrites what changed meanwhile and never sends a spec built from a stale read.
 * An update whose answer was lost but which DigitalOcean applied is seen by that GET (the counts are
 * already the desired ones) and not sent twice.
 */

export interface AppSpecComponent {
  name: string;
  instance_count?: number;
  autoscaling?: unknown;
  [key: string]: unknown;
}

export interface AppSpec {
  name: string;
  workers?: AppSpecComponent[];
  services?: AppSpecComponent[];
  [key: string]: unknown;
}

export interface Deployment {
  id: string;
  phase?: string;
  [key: string]: unknown;
}

export interface App {
  id: string;
  spec: AppSpec;
  active_deployment?: Deployment;
  in_progress_deployment?: Deployment;
  pending_deployment?: Deployment;
  [key: string]: unknown;
}

export class DoApiError extends Error {
  override name = 'DoApiError';
  constructor(
    readonly status: number,
    readonly id: string,
    message: string,
  ) {
    super(`DigitalOcean API ${status} ${id}: ${message}`);
  }
  get retryable(): boolean {
    return this.status === 429 || this.status >= 500;
  }
}

/** The update could not be made safely now (a deployment is running, a component is unknown, …). */
export class ScaleRefused extends Error {
  override name = 'ScaleRefused';
  constructor(
    readonly reason: 'deployment_in_progress' | 'unknown_component' | 'platform_autoscaling',
    message: string,
  ) {
    super(message);
  }
}

export interface DoAppsClientOptions {
  /** https://api.digitalocean.com, or an emulator */
  readonly baseUrl: string;
  readonly token: string;
  /** attempts of one read-modify-write (and of one GET) before giving up; default 5 */
  readonly attempts?: number;
  /** first backoff after a 5xx or network error, ms; doubles, capped at maxBackoffMs */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** ms to wait at most for a rate-limit reset */
  readonly maxRateLimitWaitMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  /** every answer (or network failure, status 0), for metrics */
  readonly onResponse?: (method: string, status: number) => void;
  readonly timeoutMs?: number;
}

export interface ApplyResult {
  /** false when the spec already had the desired counts (nothing sent) */
  readonly updated: boolean;
  /** PUTs sent, retries included */
  readonly puts: number;
  readonly deploymentId?: string;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class DoAppsClient {
  private readonly attempts: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(private readonly options: DoAppsClientOptions) {
    this.attempts = options.attempts ?? 5;
    this.sleep = options.sleep ?? realSleep;
    this.now = options.now ?? Date.now;
  }

  async getApp(appId: string): Promise<App> {
    return this.withRetries(async () => (await this.request<{ app: App }>('GET', `/v2/apps/${encodeURIComponent(appId)}`)).app);
  }

  /**
   * Sets `instance_count` of the named worker components in one update of the whole spec, from a
   * fresh read. Refuses (no PUT) while a deployment is in progress or pending, for a component
   * the spec lacks, or one under App Platform's own autoscaling.
   */
  async setInstanceCounts(appId: string, counts: ReadonlyMap<string, number>): Promise<ApplyResult> {
    let puts = 0;
    const result = await this.withRetries(async () => {
      const { app } = await this.request<{ app: App }>('GET', `/v2/apps/${encodeURIComponent(appId)}`);
      const next = withCounts(app, counts);
      if (next === undefined) return { updated: false, puts };
      puts++;
      const updated = await this.request<{ app: App }>('PUT', `/v2/apps/${encodeURIComponent(appId)}`, { spec: next, update_all_source_versions: false });
      const deploymentId = updated.app.in_progress_deployment?.id ?? updated.app.pending_deployment?.id;
      return { updated: true, puts, ...(deploymentId ? { deploymentId } : {}) };
    });
    return { ...result, puts };
  }

  private async withRetries<T>(fn: () => Promise<T>): Promise<T> {
    let backoff = this.options.backoffMs ?? 1000;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const retryable = err instanceof DoApiError ? err.retryable : err instanceof NetworkError;
        if (!retryable || attempt >= this.attempts) throw err;
        const wait = err instanceof RateLimited ? Math.min(err.waitMs, this.options.maxRateLimitWaitMs ?? 60_000) : backoff;
        backoff = Math.min(backoff * 2, this.options.maxBackoffMs ?? 30_000);
        await this.sleep(wait);
      }
    }
  }

  private async request<T>(method: 'GET' | 'PUT', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.options.baseUrl), {
        method,
        headers: {
          authorization: `Bearer ${this.options.token}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (err) {
      this.options.onResponse?.(method, 0);
      throw new NetworkError(`DigitalOcean API ${method} ${path}: ${(err as Error).message}`);
    }
    this.options.onResponse?.(method, res.status);
    const text = await res.text();
    if (res.ok) return JSON.parse(text) as T;
    let id = 'error';
    let message = res.statusText;
    try {
      const parsed = JSON.parse(text) as { id?: string; message?: string };
      id = parsed.id ?? id;
      message = parsed.message ?? message;
    } catch {
      // not JSON (a proxy's error page): keep the status text
    }
    if (res.status === 429) throw new RateLimited(id, message, rateLimitWaitMs(res.headers, this.now()));
    throw new DoApiError(res.status, id, message);
  }
}

class NetworkError extends Error {
  override name = 'NetworkError';
}

class RateLimited extends DoApiError {
  constructor(
    id: string,
    message: string,
    readonly waitMs: number,
  ) {
    super(429, id, message);
  }
}

/** `retry-after` (seconds), else `ratelimit-reset` (epoch seconds), else one second. */
export function rateLimitWaitMs(headers: Headers, now: number): number {
  const after = Number(headers.get('retry-after'));
  if (Number.isFinite(after) && after > 0) return after * 1000;
  const reset = Number(headers.get('ratelimit-reset'));
  if (Number.isFinite(reset) && reset > 0) return Math.max(0, reset * 1000 - now);
  return 1000;
}

/**
 * The spec with the new counts, or undefined when it already has them. Throws ScaleRefused when
 * it must not be changed now. Everything else in the spec is sent back exactly as read (SECRET
 * values come back encrypted and stay so).
 */
export function withCounts(app: App, counts: ReadonlyMap<string, number>): AppSpec | undefined {
  const spec = structuredClone(app.spec);
  let changed = false;
  for (const [name, count] of counts) {
    const worker = spec.workers?.find((w) => w.name === name);
    if (!worker) throw new ScaleRefused('unknown_component', `app spec has no worker component "${name}"`);
    if (worker.autoscaling !== undefined) {
      throw new ScaleRefused('platform_autoscaling', `worker "${name}" uses App Platform autoscaling; remove it before scaling on queue depth`);
    }
    if ((worker.instance_count ?? 1) !== count) {
      worker.instance_count = count;
      changed = true;
    }
  }
  if (!changed) return undefined;
  // checked after the counts: an update already applied (its answer lost) started this deployment
  const running = app.in_progress_deployment ?? app.pending_deployment;
  if (running)
    throw new ScaleRefused('deployment_in_progress', `deployment ${running.id} (${running.phase ?? 'pending'}) is in progress; not updating the spec now`);
  return spec;
}

/** Current instance count of a worker component (App Platform's default is 1). */
export function instanceCount(app: App, name: string): number | undefined {
  const worker = app.spec.workers?.find((w) => w.name === name);
  return worker ? (worker.instance_count ?? 1) : undefined;
}
