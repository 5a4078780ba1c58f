import { z } from 'zod';
import { parseTokenKeys } from './token-cipher.js';

/**
 * INTEGRATION_TOKEN_KEYS and the refresh settings, for every app that opens sealed provider tokens
 * (spread into its env schema; the integration and AI workers refresh the same rows, so they share
 * these names).
 */
export const tokenKeysEnv = {
  INTEGRATION_TOKEN_KEYS: z
    .string()
    .min(1)
    .superRefine((raw, ctx) => {
      try {
        parseTokenKeys(raw);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    })
    .meta({
      description: 'AES-256-GCM keys of the stored OAuth tokens, `kid:base64(32 bytes)[,oldkid:…]`: the first encrypts, all decrypt (rotation)',
      secret: true,
    }),
  TOKEN_REFRESH_AHEAD_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .default(300)
    .meta({ description: 'refresh an access token this long before it expires (HubSpot: a 401 is not a refresh signal)' }),
  TOKEN_REFRESH_LOCK_MS: z.coerce
    .number()
    .int()
    .min(1)
    .default(15_000)
    .meta({ description: 'how long one replica holds the refresh lock of a connection (single flight across replicas)' }),
};
