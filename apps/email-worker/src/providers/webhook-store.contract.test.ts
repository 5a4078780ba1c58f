import { randomUUID } from 'node:crypto';
import { createFakeWebhookStore } from './fake-webhook-store.js';
import { runWebhookStoreContract } from './webhook-store.contract.js';

runWebhookStoreContract('in-memory fake', async () => {
  const fake = createFakeWebhookStore();
  return {
    store: fake,
    async addSend() {
      const slug = randomUUID().slice(0, 8);
      const send = {
        workspaceId: randomUUID(),
        campaignEmailId: randomUUID(),
        campaignId: randomUUID(),
        mailboxId: randomUUID(),
        mailboxAddress: `sales@${slug}.acme.example`,
        leadId: randomUUID(),
        leadEmail: `lead@${slug}.example`,
        sesMessageId: `0100${slug}-ses`,
      };
      fake.registerSend(send);
      return send;
    },
  };
});
