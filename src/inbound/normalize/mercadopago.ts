import { z } from 'zod';
import type { Normalized } from './types.js';

// https://www.mercadopago.com.br/developers/en/docs/your-integrations/notifications/webhooks
const notification = z.object({
  type: z.string().min(1).optional(),
  action: z.string().min(1).optional(),
  data: z.object({ id: z.union([z.string().min(1), z.number().int()]) }),
});

/** The reason every Mercado Pago payment notification is ignored for now. */
export const MERCADOPAGO_NO_AMOUNTS = 'Mercado Pago notifications carry no amounts; fetching the payment is not built yet';

/**
 * Maps a Mercado Pago webhook notification
 * (https://www.mercadopago.com.br/developers/en/docs/your-integrations/notifications/webhooks)
 * to a Normalized answer. A notification carries only its topic (`type`, e.g. `payment`;
 * `action`, e.g. `payment.updated`) and the resource id `data.id`, no status or amounts, so a
 * payment notification is `ignored` with {@link MERCADOPAGO_NO_AMOUNTS}; other topics are
 * ignored as not mapped. A body without `data.id` or a topic is `invalid`.
 */
export function normalizeMercadoPago(body: unknown): Normalized {
  const n = notification.safeParse(body);
  if (!n.success) return { kind: 'invalid', reason: 'not a Mercado Pago notification: needs data.id' };
  const topic = n.data.type ?? n.data.action?.split('.')[0];
  if (!topic) return { kind: 'invalid', reason: 'not a Mercado Pago notification: needs type or action' };
  if (topic === 'payment') return { kind: 'ignored', reason: MERCADOPAGO_NO_AMOUNTS };
  return { kind: 'ignored', reason: `Mercado Pago notification type ${topic} is not mapped` };
}
