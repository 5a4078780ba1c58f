import { startFakeLlmServer } from './server.js';

// `pnpm --filter @coldcopy/ai-worker fake-llm`: the fake on FAKE_LLM_PORT (default 4010) for local
// development; point OPENAI_BASE_URL at http://127.0.0.1:<port>/v1 and ANTHROPIC_BASE_URL at
// http://127.0.0.1:<port>.
const port = Number(process.env.FAKE_LLM_PORT ?? 4010);
const server = await startFakeLlmServer({ latencyMs: Number(process.env.FAKE_LLM_LATENCY_MS ?? 200) }, port);
process.stdout.write(`fake LLM server on http://127.0.0.1:${server.port} (OpenAI: ${server.openaiBaseUrl}, Anthropic: ${server.anthropicBaseUrl})\n`);
const stop = () => void server.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
