import type { LeadRow } from '@coldcopy/db';

/**
 * Renders a sequence step for one lead: `{{first_name}}`-style fields, a text part and an HTML
 * part (escaped), and the workspace footer (unsubscribe link, postal address) in both.
 */
export interface RenderedEmail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

const FIELDS: Record<string, (lead: LeadRow) => string | null> = {
  first_name: (l) => l.first_name,
  last_name: (l) => l.last_name,
  company: (l) => l.company,
  title: (l) => l.title,
  email: (l) => l.email,
};

function fill(template: string, lead: LeadRow): string {
  return template.replace(/\{\{\s*([a-z_]+)\s*\}\}/gi, (_, name: string) => {
    const field = FIELDS[name.toLowerCase()];
    if (field) return field(lead) ?? '';
    const custom = lead.custom_fields?.[name];
    return typeof custom === 'string' || typeof custom === 'number' ? String(custom) : '';
  });
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function renderStep(
  step: { subject: string; body: string },
  lead: LeadRow,
  footer: { unsubscribeUrl: string; companyAddress?: string | undefined },
): RenderedEmail {
  // subject: one line, no CR/LF (the composer would encode them, but a subject has no business with them)
  const subject = fill(step.subject, lead)
    .replace(/[\r\n]+/g, ' ')
    .trim();
  const body = fill(step.body, lead).replace(/\r\n/g, '\n');
  const footerText = [`Unsubscribe: ${footer.unsubscribeUrl}`, footer.companyAddress].filter(Boolean).join('\n');
  const text = `${body}\n\n--\n${footerText}\n`;
  const paragraphs = body
    .split(/\n{2,}/)
    .map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br>')}</p>`)
    .join('\n');
  const footerHtml =
    `<p style="font-size:12px;color:#666"><a href="${escapeHtml(footer.unsubscribeUrl)}">Unsubscribe</a>` +
    (footer.companyAddress ? `<br>${escapeHtml(footer.companyAddress)}` : '') +
    '</p>';
  const html = `<!doctype html><html><body>\n${paragraphs}\n${footerHtml}\n</body></html>`;
  return { subject, text, html };
}
