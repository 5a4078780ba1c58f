/**
 * Answers of the fake LLM server, recognised by the properties of the requested JSON Schema.
 * Deterministic keyword rules over the delimited lead text, enough for a local demo: a reply with
 * a meeting word (call, meet, meeting, schedule, calendar, demo, chat, talk, zoom, teams) is a
 * meeting request (intent `meeting_request`, `schedule`, its "30-minute" duration or 30, a
 * "Thursday at 3pm" as a proposed time in UTC), "unsubscribe" gets the unsubscribe intent, and
 * the sentiment follows positive and negative words; anything else gets a minimal instance of the
 * schema.
 */

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  minimum?: number;
  minItems?: number;
  format?: string;
  $defs?: Record<string, JsonSchema>;
  $ref?: string;
};

const decode = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

function leadText(messages: readonly string[]): string {
  const user = messages[messages.length - 1] ?? '';
  const m = /<lead_message[^>]*>([\s\S]*?)<\/lead_message>/.exec(user);
  return decode(m?.[1] ?? user);
}

/**
 * Whole words or phrases, case-insensitive ("call" matches "a call" and "calls", never "recall"),
 * so that a given reply always gets the same answer and the demo's rules read as they are written.
 */
const pattern = (words: readonly string[]) => new RegExp(`\\b(?:${words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})s?\\b`, 'i');
const has = (text: string, words: readonly string[]) => pattern(words).test(text);
const count = (text: string, words: readonly string[]) => words.filter((w) => pattern([w]).test(text)).length;
const POSITIVE = ['interested', 'great', 'love', 'sounds good', 'thanks', 'thank you', 'yes', 'keen', 'happy to'];
const NEGATIVE = ['not interested', 'stop', 'unsubscribe', 'remove me', 'angry', 'annoyed', 'terrible', 'spam', 'no thanks'];
/** a reply asking for a meeting: any of these words (demo rule, documented in the README) */
const MEETING = ['call', 'meet', 'meeting', 'schedule', 'calendar', 'demo', 'chat', 'talk', 'zoom', 'teams'];
const BUYING = ['pricing', 'price', 'cost', 'budget', 'trial', 'demo', 'contract', 'quote'];

function score(text: string): number {
  // "not interested" also contains "interested": a negative phrase cancels its positive part
  const pos = count(text, POSITIVE) - (has(text, ['not interested']) ? 1 : 0);
  const neg = count(text, NEGATIVE);
  return Math.max(-1, Math.min(1, (pos - neg * 1.5) * 0.4));
}

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

/**
 * "Thursday at 3pm", "Tuesday 10:30 am", "tomorrow at 14:00": the first such time after `now`
 * (the prompt's "Current time:"), in UTC, as the model would resolve it without a named zone.
 */
function proposedTime(text: string, now: Date, durationMinutes: number): { start: string; end: string } | undefined {
  const m = /\b(tomorrow|sunday|monday|tuesday|wednesday|thursday|friday|saturday)\b[^.?!\n]{0,12}?\b(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b/i.exec(text);
  if (!m) return undefined;
  let hour = Number(m[2]);
  const minute = Number(m[3] ?? 0);
  const half = m[4]?.toLowerCase();
  if (half === 'pm' && hour < 12) hour += 12;
  if (half === 'am' && hour === 12) hour = 0;
  if (hour > 23 || minute > 59 || (!half && !m[3])) return undefined;
  const day = m[1]!.toLowerCase();
  const ahead = day === 'tomorrow' ? 1 : (WEEKDAYS.indexOf(day) - now.getUTCDay() + 7) % 7 || 7;
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + ahead, hour, minute));
  return { start: start.toISOString(), end: new Date(start.getTime() + durationMinutes * 60_000).toISOString() };
}

function sentimentOf(s: number): 'positive' | 'neutral' | 'negative' {
  return s > 0.2 ? 'positive' : s < -0.2 ? 'negative' : 'neutral';
}

export function respondFor(_schemaName: string | undefined, schema: unknown, messages: readonly string[]): unknown {
  const props = (schema as JsonSchema | undefined)?.properties ?? {};
  const user = messages[messages.length - 1] ?? '';
  if ('messages' in props) {
    const out = [];
    for (const m of user.matchAll(/<message id="([^"]+)" author="(lead|us)"[^>]*score="yes">([\s\S]*?)<\/message>/g)) {
      const text = decode(m[3]!);
      const s = score(text);
      out.push({
        id: m[1],
        sentiment: sentimentOf(s),
        score: s,
        confidence: 0.8,
        emotions: {
          joy: s > 0 ? s : 0,
          interest: has(text, BUYING) ? 0.7 : 0.3,
          frustration: s < 0 ? -s : 0,
          anger: s < -0.6 ? 0.5 : 0,
          confusion: text.includes('?') ? 0.3 : 0,
          urgency: has(text, ['asap', 'urgent', 'today']) ? 0.8 : 0.1,
        },
        buyingSignals: BUYING.filter((w) => has(text, [w])).map((w) => `mentioned ${w}`),
      });
    }
    return { messages: out };
  }
  if ('suggestions' in props) {
    const text = leadText(messages);
    const count = Number(/Write exactly (\d+) suggestions/.exec(user)?.[1] ?? 3);
    const intent = has(text, ['unsubscribe', 'remove me', 'stop emailing', 'take me off'])
      ? 'unsubscribe'
      : has(text, ['out of office', 'on leave'])
        ? 'out_of_office'
        : has(text, ['not interested', 'no thanks'])
          ? 'not_interested'
          : has(text, MEETING)
            ? 'meeting_request'
            : text.includes('?')
              ? 'question'
              : 'interested';
    const s = score(text);
    const drafts = [
      'Thanks for getting back to me. Would Tuesday or Wednesday afternoon work for a 20-minute call?',
      'Happy to share more detail. I have attached a short overview; let me know which part matters most to your team.',
      'Thanks for the reply. I can send over pricing and a customer example from your industry, whichever is more useful.',
      'Appreciate the quick answer. Shall I send a calendar invite, or would you prefer to pick a slot yourself?',
      'Thank you. I will keep this short: what would you need to see to decide whether this is worth a closer look?',
    ];
    return {
      intent,
      sentiment: sentimentOf(s),
      urgency: has(text, ['asap', 'urgent', 'today']) ? 'high' : 'medium',
      confidence: 0.85,
      keyPoints: has(text, BUYING) ? ['asked about commercial terms'] : ['replied to the outreach'],
      questions: text.includes('?') ? ['asked a question'] : [],
      summary: `Lead replied with intent ${intent}.`,
      suggestions: intent === 'unsubscribe' ? [] : drafts.slice(0, count).map((content, i) => ({ content, tone: i === 0 ? 'professional' : 'friendly' })),
    };
  }
  if ('isMeetingRequest' in props) {
    const text = leadText(messages);
    const detected = has(text, MEETING);
    const minutes = /\b(\d{2,3})[- ]?min(?:ute)?s?\b/i.exec(text);
    const durationMinutes = detected ? Math.min(480, Math.max(5, Number(minutes?.[1] ?? 30))) : null;
    const now = new Date(/Current time: (\S+)/.exec(user)?.[1] ?? Date.now());
    const time = detected ? proposedTime(text, Number.isNaN(now.getTime()) ? new Date() : now, durationMinutes!) : undefined;
    return {
      isMeetingRequest: detected,
      confidence: detected ? 0.9 : 0.1,
      intentType: detected ? 'schedule' : 'none',
      durationMinutes,
      timezone: detected && /\bUTC\b/.test(text) ? 'UTC' : null,
      proposedTimes: time ? [time] : [],
    };
  }
  if ('subject' in props && 'body' in props) {
    const company = /company="([^"]*)"/.exec(user)?.[1];
    const name = /name="([^"]*)"/.exec(user)?.[1];
    return {
      subject: company ? `A question for ${decode(company)}` : 'A quick question',
      body: `Hi${name ? ` ${decode(name)}` : ''},\n\nI noticed your team is growing and wondered whether outbound is on your plate this quarter. We help teams like yours book more meetings without adding headcount.\n\nWorth a short call next week?\n`,
    };
  }
  return instanceOf(schema as JsonSchema, schema as JsonSchema);
}

/** A minimal value that satisfies a JSON Schema (objects with every property, shortest arrays). */
export function instanceOf(schema: JsonSchema | undefined, root: JsonSchema): unknown {
  if (!schema) return null;
  if (schema.$ref) {
    const name = schema.$ref.split('/').pop()!;
    return instanceOf(root.$defs?.[name], root);
  }
  if (schema.enum) return schema.enum[0];
  if (schema.anyOf) return instanceOf(schema.anyOf[0], root);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object':
      return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, instanceOf(v, root)]));
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => instanceOf(schema.items, root));
    case 'string':
      return schema.format === 'date-time' ? new Date().toISOString() : 'text';
    case 'number':
    case 'integer':
      return schema.minimum ?? 0;
    case 'boolean':
      return false;
    default:
      return null;
  }
}
