import { describe, expect, it } from 'vitest';
import { MERCADOPAGO_NO_AMOUNTS, normalizeMercadoPago } from './mercadopago.js';

// Shaped after https://www.mercadopago.com.br/developers/en/docs/your-integrations/notifications/webhooks
const notification = {
  id: 12345,
  live_mode: true,
  type: 'payment',
  date_created: '2015-03-25T10:04:58.396-04:00',
  user_id: 44444,
  api_version: 'v1',
  action: 'payment.updated',
  data: { id: '999999999' },
};

describe('normalizeMercadoPago', () => {
  it('ignores a payment notification because it carries only the payment id, no amounts', () => {
    expect(normalizeMercadoPago(notification)).toEqual({ kind: 'ignored', reason: MERCADOPAGO_NO_AMOUNTS });
    expect(MERCADOPAGO_NO_AMOUNTS).toBe('Mercado Pago notifications carry no amounts; fetching the payment is not built yet');
  });

  it('reads the topic from action when type is absent, and accepts a numeric data.id', () => {
    const { type: _t, ...noType } = notification;
    expect(normalizeMercadoPago({ ...noType, data: { id: 999999999 } })).toEqual({ kind: 'ignored', reason: MERCADOPAGO_NO_AMOUNTS });
  });

  it('ignores notification types it does not map', () => {
    expect(normalizeMercadoPago({ ...notification, type: 'merchant_order', action: undefined })).toEqual({
      kind: 'ignored',
      reason: 'Mercado Pago notification type merchant_order is not mapped',
    });
  });

  it('answers invalid for a body without data.id or without a topic', () => {
    expect(normalizeMercadoPago({ type: 'payment' }).kind).toBe('invalid');
    expect(normalizeMercadoPago({ data: { id: '1' } }).kind).toBe('invalid');
  });
});
