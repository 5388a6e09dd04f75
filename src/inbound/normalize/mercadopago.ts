import { z } from 'zod';
import type { Normalized } from './types.js';

// https://www.mercadopago.com.br/developers/en/docs/your-integrations/notifications/webhooks
const notification = z.object({
  type: z.string().min(1).optional(),
  action: z.string().min(1).optional(),
  data: z.object({ id: z.union([z.string().min(1), z.number().int()]) }),
});

/** The reason every Mercado Pago payment notification is ignored. */
export const MERCADOPAGO_NO_AMOUNTS = 'Mercado Pago notifications carry no amounts; fetching the payment is not built yet';

/**
 * Maps a Mercado Pago notification to a Normalized answer: it carries only a topic (`type` or
 * `action`) and `data.id`, no amounts, so it is `ignored`; without those it is `invalid`.
 */
export function normalizeMercadoPago(body: unknown): Normalized {
  const n = notification.safeParse(body);
  if (!n.success) return { kind: 'invalid', reason: 'not a Mercado Pago notification: needs data.id' };
  const topic = n.data.type ?? n.data.action?.split('.')[0];
  if (!topic) return { kind: 'invalid', reason: 'not a Mercado Pago notification: needs type or action' };
  if (topic === 'payment') return { kind: 'ignored', reason: MERCADOPAGO_NO_AMOUNTS };
  return { kind: 'ignored', reason: `Mercado Pago notification type ${topic} is not mapped` };
}
