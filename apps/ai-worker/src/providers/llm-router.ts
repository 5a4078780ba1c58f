import { LLM_PROVIDERS, LlmError, ZERO_USAGE, type LlmClient, type LlmProvider, type LlmRequest, type LlmResult, type LlmUsage } from './llm-client.js';
import { unlimitedProviderLimits, type ProviderLimits } from './provider-limits.js';

/**
 * Picks the provider and model of a call and falls back: the primary comes from the job (payload
 * override, else the workspace's setting, else the env default); on a retryable failure (429, 529,
 * >= 500, connection, timeout) the same request goes to the other provider, when one is
 * configured, with that provider's default model. Every call is reported to `onCall` (one usage
 * row per provider call), including failed ones.
 */
export interface CallRecord {
  readonly provider: LlmProvider;
  readonly model: string;
  readonly requestId: string | undefined;
  readonly usage: LlmUsage;
  readonly latencyMs: number;
  /** `ok` or the LlmError kind */
  readonly outcome: string;
}

export interface RouteChoice {
  readonly provider: LlmProvider;
  readonly model: string;
}

export interface LlmRouterOptions {
  readonly clients: Partial<Record<LlmProvider, LlmClient>>;
  /** default model per configured provider */
  readonly models: Partial<Record<LlmProvider, string>>;
  readonly defaultProvider: LlmProvider;
  /** fall back to the other provider on retryable errors (when it is configured) */
  readonly fallback: boolean;
  readonly limits?: ProviderLimits;
}

export interface LlmRouter {
  /** the providers with a client */
  readonly providers: readonly LlmProvider[];
  /** provider and model for a job: override > workspace setting > default; throws LlmError('bad_request') for an unconfigured provider */
  choose(override: { provider?: string; model?: string }, workspace: { provider?: string; model?: string }): RouteChoice;
  complete<T>(choice: RouteChoice, request: Omit<LlmRequest<T>, 'model'>, estimatedTokens: number, onCall: (call: CallRecord) => void): Promise<LlmResult<T>>;
}

const isProvider = (p: string | undefined): p is LlmProvider => p !== undefined && (LLM_PROVIDERS as readonly string[]).includes(p);

export function createLlmRouter(options: LlmRouterOptions): LlmRouter {
  const providers = LLM_PROVIDERS.filter((p) => options.clients[p] !== undefined);
  const limits = options.limits ?? unlimitedProviderLimits;

  const call = async <T>(choice: RouteChoice, request: Omit<LlmRequest<T>, 'model'>, estimatedTokens: number, onCall: (c: CallRecord) => void) => {
    const client = options.clients[choice.provider]!;
    try {
      const result = await limits.run(choice.provider, estimatedTokens, request.signal, () => client.complete({ ...request, model: choice.model }));
      onCall({ provider: result.provider, model: result.model, requestId: result.requestId, usage: result.usage, latencyMs: result.latencyMs, outcome: 'ok' });
      return result;
    } catch (err) {
      const e = err instanceof LlmError ? err : new LlmError('connection', choice.provider, `${choice.provider} call failed`);
      onCall({
        provider: choice.provider,
        model: e.details.model ?? choice.model,
        requestId: e.details.requestId,
        usage: e.details.usage ?? ZERO_USAGE,
        latencyMs: e.details.latencyMs ?? 0,
        outcome: e.kind,
      });
      throw e;
    }
  };

  return {
    providers,
    choose(override, workspace) {
      const wanted = override.provider ?? workspace.provider ?? options.defaultProvider;
      if (!isProvider(wanted) || !options.clients[wanted]) {
        throw new LlmError('bad_request', isProvider(wanted) ? wanted : options.defaultProvider, `AI provider ${wanted} is not configured in this worker`);
      }
      // a model named for one provider is not passed to the other
      const model =
        override.model ?? (workspace.provider === undefined || workspace.provider === wanted ? workspace.model : undefined) ?? options.models[wanted]!;
      return { provider: wanted, model };
    },
    async complete(choice, request, estimatedTokens, onCall) {
      try {
        return await call(choice, request, estimatedTokens, onCall);
      } catch (err) {
        const e = err as LlmError;
        const other = providers.find((p) => p !== choice.provider);
        if (!e.retryable || !options.fallback || !other || request.signal?.aborted) throw e;
        return call({ provider: other, model: options.models[other]! }, request, estimatedTokens, onCall);
      }
    },
  };
}
