import MailChecker from 'mailchecker';
import roleAddresses from 'role-based-email-addresses';

/**
 * Local checks before any provider call (verify-email): syntax, disposable domains (mailchecker's
 * maintained list) and role addresses (role-based-email-addresses: info@, sales@, …). Free, and
 * they decide most invalid addresses without spending a credit.
 */
export type LocalVerdict =
  | { readonly kind: 'invalid'; readonly reasons: string[] }
  | { readonly kind: 'disposable'; readonly reasons: string[] }
  | { readonly kind: 'ok'; readonly role: boolean; readonly domain: string; readonly reasons: string[] };

// RFC 5322's dot-atom for the local part, a host name for the domain; no quoted strings or IP literals
const SYNTAX = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})$/;
const ROLES: ReadonlySet<string> = new Set(roleAddresses.map((r) => r.toLowerCase()));
const DISPOSABLE = MailChecker.blacklist();

export function checkAddress(address: string): LocalVerdict {
  const email = address.trim().toLowerCase();
  const m = email.length <= 254 ? SYNTAX.exec(email) : null;
  const local = email.slice(0, email.lastIndexOf('@'));
  if (!m || local.length > 64) return { kind: 'invalid', reasons: ['syntax'] };
  const domain = m[1]!;
  if (isDisposableDomain(domain)) return { kind: 'disposable', reasons: ['disposable'] };
  const role = ROLES.has(local.split('+')[0]!);
  return { kind: 'ok', role, domain, reasons: role ? ['role'] : [] };
}

/** The domain or one of its parents is on the disposable list. */
export function isDisposableDomain(domain: string): boolean {
  const parts = domain.split('.');
  for (let i = 0; i < parts.length - 1; i++) if (DISPOSABLE.has(parts.slice(i).join('.'))) return true;
  return false;
}
