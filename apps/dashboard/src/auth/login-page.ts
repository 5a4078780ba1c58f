/** The login form: plain HTML, no scripts (the CSP allows none inline), one inline stylesheet. */
export function renderLoginPage(options: { action: string; next: string; title: string; message?: string; username?: string }): string {
  const message = options.message ? `<p class="msg" role="alert">${escapeHtml(options.message)}</p>` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Sign in · ${escapeHtml(options.title)}</title>
<style>
  body { font-family: system-ui, sans-serif; background: #151a21; color: #e6e9ee; display: grid; place-items: center; min-height: 100vh; margin: 0; }
  form { background: #1f2630; padding: 2rem; border-radius: 8px; width: 20rem; display: grid; gap: .75rem; }
  h1 { font-size: 1.2rem; margin: 0 0 .5rem; }
  label { display: grid; gap: .25rem; font-size: .9rem; }
  input { padding: .5rem; border-radius: 4px; border: 1px solid #3a4452; background: #151a21; color: inherit; font-size: 1rem; }
  button { padding: .6rem; border: 0; border-radius: 4px; background: #3b82f6; color: white; font-size: 1rem; cursor: pointer; }
  .msg { color: #fca5a5; margin: 0; }
</style>
</head>
<body>
<form method="post" action="${escapeHtml(options.action)}">
  <h1>${escapeHtml(options.title)}</h1>
  ${message}
  <label>User <input name="username" autocomplete="username" required autofocus value="${escapeHtml(options.username ?? '')}"></label>
  <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
  <input type="hidden" name="next" value="${escapeHtml(options.next)}">
  <button type="submit">Sign in</button>
</form>
</body>
</html>
`;
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
