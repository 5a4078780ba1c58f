// Moved to @coldcopy/integration-tokens (shared with the AI worker's calendar free/busy); re-exported for this app's imports.
export { createOAuthClient, type OAuthClient, OAuthGrantError, OAuthUnavailableError, type RefreshedTokens } from '@coldcopy/integration-tokens';
