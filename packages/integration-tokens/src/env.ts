import { z } from 'zod';
import { parseTokenKeys } from './token-cipher.js';

/** INTEGRATION_TOKEN_KEYS, for every app that opens sealed provider tokens (spread into its env schema). */
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
};
