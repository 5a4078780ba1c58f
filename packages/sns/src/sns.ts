import { createVerify, X509Certificate } from 'node:crypto';

/**
 * SNS HTTP message verification (email-ses-sns.md §6), about 60 lines of node:crypto instead of a
 * library: `sns-validator` rejects valid UnsubscribeConfirmations and is callback-only,
 * `sns-payload-validator` has no fetch timeout, no TopicArn pinning and no injectable fetcher, and
 * we need both so tests can sign the AWS samples with a test key.
 */

export interface SnsEnvelope {
  readonly Type: 'Notification' | 'SubscriptionConfirmation' | 'UnsubscribeConfirmation';
  readonly MessageId: string;
  readonly TopicArn: string;
  readonly Message: string;
  readonly Subject?: string;
  readonly Timestamp: string;
  readonly SignatureVersion: string;
  readonly Signature: string;
  readonly SigningCertURL: string;
  readonly SubscribeURL?: string;
  readonly Token?: string;
  readonly UnsubscribeURL?: string;
}

/** Fetches the PEM certificate at an already validated SigningCertURL. */
export type SnsCertificateFetcher = (url: URL, signal?: AbortSignal) => Promise<string>;
/** GETs an already validated SubscribeURL. */
export type SubscriptionConfirmer = (url: URL, signal?: AbortSignal) => Promise<void>;

/**
 * The message is not a genuine SNS delivery for us: never retried, nothing written. `permanent`
 * is what queue-core's retry policy reads (by property, so this package needs no queue-core).
 */
export class SnsVerificationError extends Error {
  override name = 'SnsVerificationError';
  readonly permanent = true;
}

const SNS_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;
const CERT_PATH = /^\/SimpleNotificationService-[a-zA-Z0-9]{32}\.pem$/;
const TYPES = new Set(['Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation']);

/** Accepts only `https://sns.<region>.amazonaws.com[.cn]/…` (and the certificate's exact path shape). */
export function snsUrl(value: string | undefined, kind: 'certificate' | 'subscribe'): URL {
  let url: URL;
  try {
    url = new URL(value ?? '');
  } catch {
    throw new SnsVerificationError(`${kind} URL is not a URL`);
  }
  if (url.protocol !== 'https:' || !SNS_HOST.test(url.hostname) || url.port !== '' || url.username || url.password) {
    throw new SnsVerificationError(`${kind} URL host ${url.hostname} is not an SNS host`);
  }
  if (kind === 'certificate' && !CERT_PATH.test(url.pathname)) throw new SnsVerificationError('certificate URL path is not an SNS certificate');
  return url;
}

export function parseSnsEnvelope(body: string): SnsEnvelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new SnsVerificationError('body is not JSON');
  }
  const e = parsed as Record<string, unknown>;
  const str = (k: string) => typeof e[k] === 'string';
  if (!e || typeof e !== 'object' || !TYPES.has(e.Type as string)) throw new SnsVerificationError('not an SNS message');
  for (const k of ['MessageId', 'TopicArn', 'Message', 'Timestamp', 'SignatureVersion', 'Signature', 'SigningCertURL']) {
    if (!str(k)) throw new SnsVerificationError(`SNS message without ${k}`);
  }
  if (e.Type !== 'Notification' && (!str('SubscribeURL') || !str('Token'))) throw new SnsVerificationError('confirmation without SubscribeURL/Token');
  return e as unknown as SnsEnvelope;
}

/** `Name\nValue\n` for the type's fields, in AWS's order, from the parsed (not re-serialised) values. */
export function stringToSign(m: SnsEnvelope): string {
  const fields =
    m.Type === 'Notification'
      ? ['Message', 'MessageId', ...(m.Subject !== undefined ? ['Subject'] : []), 'Timestamp', 'TopicArn', 'Type']
      : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  return fields.map((f) => `${f}\n${(m as unknown as Record<string, string>)[f]}\n`).join('');
}

export interface VerifyOptions {
  /** the TopicArns we subscribed to (anyone can sign messages of their own topic) */
  readonly topicArns: readonly string[];
  readonly fetchCertificate: SnsCertificateFetcher;
  readonly signal?: AbortSignal;
  readonly now?: Date;
}

/** Parses and verifies an SNS body; throws SnsVerificationError unless it is genuine and ours. */
export async function verifySnsMessage(body: string, options: VerifyOptions): Promise<SnsEnvelope> {
  const message = parseSnsEnvelope(body);
  if (!options.topicArns.includes(message.TopicArn)) throw new SnsVerificationError(`unexpected TopicArn ${message.TopicArn}`);
  const algorithm = message.SignatureVersion === '1' ? 'RSA-SHA1' : message.SignatureVersion === '2' ? 'RSA-SHA256' : null;
  if (!algorithm) throw new SnsVerificationError(`unsupported SignatureVersion ${message.SignatureVersion}`);
  const certUrl = snsUrl(message.SigningCertURL, 'certificate');
  const pem = await options.fetchCertificate(certUrl, options.signal);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    throw new SnsVerificationError('signing certificate is not an X.509 certificate');
  }
  const now = options.now ?? new Date();
  if (now < new Date(cert.validFrom) || now > new Date(cert.validTo)) throw new SnsVerificationError('signing certificate is not valid now');
  const ok = createVerify(algorithm).update(stringToSign(message), 'utf8').verify(cert.publicKey, message.Signature, 'base64');
  if (!ok) throw new SnsVerificationError('SNS signature does not verify');
  return message;
}

/**
 * The real certificate fetcher: 5 s timeout, HTTP 200 only, PEM only, and a small cache keyed by
 * URL (SNS rotates certificates rarely; at most 20 are kept).
 */
const certCache = new Map<string, string>();
export const fetchSnsCertificate: SnsCertificateFetcher = async (url, signal) => {
  const cached = certCache.get(url.href);
  if (cached) return cached;
  const timeout = AbortSignal.timeout(5000);
  const res = await fetch(url, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout, redirect: 'error' });
  if (res.status !== 200) throw new Error(`SNS certificate fetch answered ${res.status}`);
  const pem = await res.text();
  if (!pem.startsWith('-----BEGIN CERTIFICATE-----')) throw new SnsVerificationError('SNS certificate URL did not return a PEM certificate');
  if (certCache.size >= 20) certCache.delete(certCache.keys().next().value!);
  certCache.set(url.href, pem);
  return pem;
};

/** GET of a validated SubscribeURL (confirms the subscription), 5 s timeout, 200 only. */
export const confirmSnsSubscription: SubscriptionConfirmer = async (url, signal) => {
  const timeout = AbortSignal.timeout(5000);
  const res = await fetch(url, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout, redirect: 'error' });
  if (res.status !== 200) throw new Error(`SNS SubscribeURL answered ${res.status}`);
  await res.arrayBuffer();
};
