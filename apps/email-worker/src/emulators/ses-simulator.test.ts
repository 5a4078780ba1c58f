import { verifySnsMessage } from '@coldcopy/sns';
import { testCertificateFetcher } from '@coldcopy/sns/testing';
import { describe, expect, it } from 'vitest';
import { parseSesEvent } from '../domain/ses-events.js';
import { type AcceptedMessage, sesEventRecord, simulatedEvents, snsNotificationBody } from './ses-simulator.js';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ses-events';

describe('simulatedEvents: the events SES publishes for a recipient, as its mailbox simulator', () => {
  it.each([
    ['lead@gmail.example', ['Send', 'Delivery']],
    ['bounce@gmail.example', ['Send', 'Delivery']], // only the simulator's domain is special
    ['success@simulator.amazonses.com', ['Send', 'Delivery']],
    ['success+lead-7@simulator.amazonses.com', ['Send', 'Delivery']],
    ['bounce@simulator.amazonses.com', ['Send', 'Bounce']],
    ['complaint@simulator.amazonses.com', ['Send', 'Delivery', 'Complaint']],
    ['suppressionlist@simulator.amazonses.com', ['Send', 'Bounce']],
    ['OOTO@Simulator.AmazonSES.com', ['Send', 'Delivery']],
    ['success+delay@simulator.amazonses.com', ['Send', 'DeliveryDelay', 'Delivery']],
    ['success+open@simulator.amazonses.com', ['Send', 'Delivery', 'Open']],
    ['success+click@simulator.amazonses.com', ['Send', 'Delivery', 'Open', 'Click']],
    ['complaint+open@simulator.amazonses.com', ['Send', 'Delivery', 'Complaint', 'Open']],
  ])('%s → %j', (recipient, events) => {
    expect(simulatedEvents(recipient)).toEqual(events);
  });
});

describe('sesEventRecord and snsNotificationBody', () => {
  const message: AcceptedMessage = {
    messageId: '0100019a-test',
    acceptedAt: new Date('2026-12-01T15:00:00Z'),
    action: 'SendRawEmail',
    source: 'sales@acme.example',
    destinations: ['bounce@simulator.amazonses.com'],
    configurationSet: 'acme-sender',
    tags: { send_id: 'send-1', workspace_id: 'ws-1' },
    subject: 'Hello',
  };
  const at = new Date('2026-12-01T15:00:01Z');

  it("builds records the worker parses, carrying the request's tags and the recipient", () => {
    const bounce = parseSesEvent(JSON.stringify(sesEventRecord('Bounce', message, 'bounce@simulator.amazonses.com', at)));
    expect(bounce).toMatchObject({
      type: 'Bounce',
      messageId: message.messageId,
      tags: { send_id: 'send-1', workspace_id: 'ws-1', 'ses:configuration-set': 'acme-sender' },
    });
    expect(bounce.bounce).toMatchObject({ type: 'Permanent', subType: 'General', recipients: [{ email: 'bounce@simulator.amazonses.com' }] });
    const listed = parseSesEvent(JSON.stringify(sesEventRecord('Bounce', message, 'suppressionlist@simulator.amazonses.com', at)));
    expect(listed.bounce).toMatchObject({ type: 'Permanent', subType: 'OnAccountSuppressionList' });
    expect(parseSesEvent(JSON.stringify(sesEventRecord('Complaint', message, 'c@x.example', at))).complaint).toMatchObject({
      recipients: ['c@x.example'],
      feedbackType: 'abuse',
    });
    expect(parseSesEvent(JSON.stringify(sesEventRecord('Delivery', message, 'd@x.example', at)))).toMatchObject({
      type: 'Delivery',
      occurredAt: at,
      delivery: { recipients: ['d@x.example'] },
    });
    expect(parseSesEvent(JSON.stringify(sesEventRecord('DeliveryDelay', message, 'd@x.example', at))).deliveryDelay).toMatchObject({
      recipients: ['d@x.example'],
    });
    expect(parseSesEvent(JSON.stringify(sesEventRecord('Click', message, 'd@x.example', at))).click).toMatchObject({ link: 'https://example.com/' });
    for (const type of ['Send', 'Open'] as const) expect(parseSesEvent(JSON.stringify(sesEventRecord(type, message, 'd@x.example', at))).type).toBe(type);
  });

  it('signs the SNS envelope with the test certificate: it verifies for its topic only', async () => {
    const { body, messageId } = snsNotificationBody(sesEventRecord('Send', message, 'd@x.example', at), TOPIC);
    const envelope = await verifySnsMessage(body, { topicArns: [TOPIC], fetchCertificate: testCertificateFetcher });
    expect(envelope).toMatchObject({ Type: 'Notification', MessageId: messageId, TopicArn: TOPIC });
    await expect(
      verifySnsMessage(body, { topicArns: ['arn:aws:sns:us-east-1:123456789012:other'], fetchCertificate: testCertificateFetcher }),
    ).rejects.toThrow();
  });
});
