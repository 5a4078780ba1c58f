export default function Home() {
  return (
    <main>
      <h1>ColdCopy jobs: Next.js example</h1>
      <p>
        <code>POST /api/emails</code> with <code>{'{"workspaceId": "…", "campaignEmailId": "…"}'}</code> enqueues <code>send-email</code>;{' '}
        <code>POST /api/webhooks/ses</code> is the SES/SNS endpoint.
      </p>
    </main>
  );
}
