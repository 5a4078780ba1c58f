import { describe, expect, it } from 'vitest';
import { sample } from '@coldcopy/sns/testing';
import { NotAnSesEventError, parseSesEvent } from './ses-events.js';

const parse = (file: string) => parseSesEvent(JSON.stringify(sample(file)));

describe('parseSesEvent (AWS samples)', () => {
  it.each([
    ['ses-event-bounce.json', 'Bounce'],
    ['ses-event-complaint.json', 'Complaint'],
    ['ses-event-delivery.json', 'Delivery'],
    ['ses-event-send.json', 'Send'],
    ['ses-event-reject.json', 'Reject'],
    ['ses-event-open.json', 'Open'],
    ['ses-event-click.json', 'Click'],
    ['ses-event-rendering-failure.json', 'Rendering Failure'],
    ['ses-event-delivery-delay.json', 'DeliveryDelay'],
    ['ses-event-subscription.json', 'Subscription'],
  ])('%s → %s', (file, type) => {
    const event = parse(file);
    expect(event.type).toBe(type);
    expect(event.messageId).toMatch(/^EXAMPLE/);
    expect(event.tags['ses:configuration-set']).toBe('ConfigSet');
    expect(event.occurredAt.getTime()).not.toBeNaN();
  });

  it('reads bounce details and lower-cases recipients', () => {
    const e = parse('ses-event-bounce.json');
    expect(e.bounce).toEqual({
      type: 'Permanent',
      subType: 'General',
      recipients: [{ email: 'recipient@example.com', status: '5.1.1', diagnosticCode: 'smtp; 550 5.1.1 user unknown' }],
    });
    expect(e.occurredAt.toISOString()).toBe('2017-08-05T00:41:02.669Z');
  });

  it('reads complaint, click, rendering failure and delay details', () => {
    expect(parse('ses-event-complaint.json').complaint).toMatchObject({ recipients: ['recipient@example.com'], feedbackType: 'abuse' });
    expect(parse('ses-event-click.json').click?.link).toMatch(/^https?:/);
    expect(parse('ses-event-rendering-failure.json').failure?.errorMessage).toContain('attributeName');
    expect(parse('ses-event-delivery-delay.json').deliveryDelay?.delayType).toBeTruthy();
  });

  it('accepts the identity-notification form (notificationType, no tags)', () => {
    const { eventType: _t, ...rest } = sample('ses-event-bounce.json');
    const e = parseSesEvent(JSON.stringify({ ...rest, notificationType: 'Bounce', mail: { ...(rest.mail as object), tags: undefined } }));
    expect(e.type).toBe('Bounce');
    expect(e.tags).toEqual({});
  });

  it('refuses what is not an SES event (lower-case types never match)', () => {
    expect(() => parseSesEvent('Hello world!')).toThrow(NotAnSesEventError);
    expect(() => parseSesEvent(JSON.stringify({ eventType: 'bounce', mail: { messageId: 'x' } }))).toThrow(NotAnSesEventError);
  });
});
