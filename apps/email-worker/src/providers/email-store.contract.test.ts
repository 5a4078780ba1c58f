import { runEmailStoreContract } from './email-store.contract.js';
import { createFakeEmailStore } from './fake-email-store.js';

runEmailStoreContract('in-memory fake', async () => {
  const fake = createFakeEmailStore();
  return {
    store: fake,
    workspaceId: fake.workspaceId,
    async addSend(recipient) {
      return fake.addSend(recipient);
    },
    async suppress(email) {
      fake.suppressed.add(email.trim().toLowerCase());
    },
    async grantConsent(leadId) {
      fake.consents.add(leadId);
    },
    async status(id) {
      return fake.status(id);
    },
    async enrolmentStatus(enrolmentId) {
      const enrolment = [...fake.enrolments.values()].find((e) => e.id === enrolmentId);
      if (!enrolment) throw new Error(`no enrolment ${enrolmentId}`);
      return enrolment.status;
    },
    async ageClaim(id, ms) {
      const row = fake.emails.get(id)!;
      row.claimed_at = new Date(row.claimed_at!.getTime() - ms);
    },
  };
});
