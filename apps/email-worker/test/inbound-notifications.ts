import { readFileSync } from 'node:fs';

/**
 * This app's own inbound fixtures (test/fixtures). The SES Received notifications the tests build
 * (composeReply, receivedNotification, sesHeaderId) live in `@coldcopy/sns/testing` with the AWS
 * sample they start from, shared with the end-to-end test of an inbound reply through the dev
 * stack (test/inbound-reply-ai.int.test.ts); re-exported here for this app's tests.
 */
export { composeReply, receivedNotification, type ReceivedOptions, type ReplyOptions, sesHeaderId } from '@coldcopy/sns/testing';

export function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;
}
export function fixtureBytes(name: string): Buffer {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
}
