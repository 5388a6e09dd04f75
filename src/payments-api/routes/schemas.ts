import { z } from '@hono/zod-openapi';
import { normalizeCurrency } from '../../core/money.js';

/** An integer amount in minor units, documented as `description`. */
export const minorAmount = (description: string) =>
  z
    .number()
    .int()
    .openapi({ description: `${description}, integer minor units` });

/** An ISO 4217 code in any case, parsed to upper case; anything else is a validation issue. */
export const currencyCode = () =>
  z.string().transform((s, ctx) => {
    const code = normalizeCurrency(s);
    if (code) return code;
    ctx.addIssue({ code: 'custom', message: 'a three-letter ISO 4217 code' });
    return z.NEVER;
  });
