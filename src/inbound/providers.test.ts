import { describe, expect, it } from 'vitest';
import { identifyEvents } from './providers.js';

const bytes = (v: unknown): Uint8Array => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
const decoded = (b: Uint8Array): unknown => JSON.parse(new TextDecoder().decode(b));

describe('identifyEvents for single-event providers', () => {
  it('reads a Stripe event id and type from the body and keeps the request bytes as the stored body', () => {
    const body = bytes({ id: 'evt_1', type: 'payment_intent.succeeded' });
    const events = identifyEvents('stripe', body, undefined);
    expect(events).toEqual([{ eventId: 'evt_1', eventType: 'payment_intent.succeeded', rawBody: body }]);
    expect(events![0]!.rawBody).toBe(body);
  });

  it('prefers the signed webhook-id header over the body id for Standard Webhooks', () => {
    expect(identifyEvents('standard-webhooks', bytes({ id: 'body', type: 'payment.captured' }), 'msg_1')?.[0]).toMatchObject({
      eventId: 'msg_1',
      eventType: 'payment.captured',
    });
  });

  it('uses the x-razorpay-event-id the verifier returned, else the body id, with the body event as type', () => {
    const body = bytes({ entity: 'event', event: 'payment.captured', id: 'body_id' });
    expect(identifyEvents('razorpay', body, 'Izqo9Q5d1Kq2ab')?.[0]).toMatchObject({
      eventId: 'Izqo9Q5d1Kq2ab',
      eventType: 'payment.captured',
    });
    expect(identifyEvents('razorpay', body, undefined)?.[0]?.eventId).toBe('body_id');
    expect(identifyEvents('razorpay', bytes({ event: 'payment.captured' }), undefined)).toBeUndefined();
  });

  it('reads a Checkout.com event id and type from the body', () => {
    expect(identifyEvents('checkout', bytes({ id: 'evt_az5', type: 'payment_captured' }), undefined)?.[0]).toMatchObject({
      eventId: 'evt_az5',
      eventType: 'payment_captured',
    });
  });

  it('derives a Paystack event id from the event name and the id of its object, numeric or string', () => {
    expect(identifyEvents('paystack', bytes({ event: 'charge.success', data: { id: 302961 } }), undefined)?.[0]).toMatchObject({
      eventId: 'charge.success:302961',
      eventType: 'charge.success',
    });
    expect(identifyEvents('paystack', bytes({ event: 'transfer.success', data: { id: 'TRF_1' } }), undefined)?.[0]?.eventId).toBe(
      'transfer.success:TRF_1',
    );
  });

  it('finds no Paystack event id without an event name or a data.id', () => {
    expect(identifyEvents('paystack', bytes({ data: { id: 1 } }), undefined)).toBeUndefined();
    expect(identifyEvents('paystack', bytes({ event: 'charge.success', data: {} }), undefined)).toBeUndefined();
  });

  it('reads a Square event id from the body event_id', () => {
    expect(
      identifyEvents('square', bytes({ event_id: 'a8d6c1f4-3c1e', type: 'payment.updated', id: 'other' }), undefined)?.[0],
    ).toMatchObject({
      eventId: 'a8d6c1f4-3c1e',
      eventType: 'payment.updated',
    });
  });

  it('uses the Mercado Pago notification id when present, else type and data.id, with action as type', () => {
    const withId = bytes({ id: 12345, type: 'payment', action: 'payment.updated', data: { id: '999' } });
    expect(identifyEvents('mercadopago', withId, undefined)?.[0]).toMatchObject({ eventId: '12345', eventType: 'payment.updated' });
    const withoutId = bytes({ type: 'payment', action: 'payment.created', data: { id: '999' } });
    expect(identifyEvents('mercadopago', withoutId, undefined)?.[0]?.eventId).toBe('payment:999');
    expect(identifyEvents('mercadopago', bytes({ action: 'payment.created', data: { id: 7 } }), undefined)?.[0]?.eventId).toBe(
      'payment.created:7',
    );
  });

  it('finds no event id in a body that is not a JSON object', () => {
    expect(identifyEvents('stripe', bytes('[1,2]'), undefined)).toBeUndefined();
    expect(identifyEvents('checkout', bytes('not json'), undefined)).toBeUndefined();
  });

  it('refuses an id longer than the 255 characters the store accepts', () => {
    expect(identifyEvents('stripe', bytes({ id: 'e'.repeat(256) }), undefined)).toBeUndefined();
  });
});

describe('identifyEvents for batching providers', () => {
  const goCardless = {
    events: [
      { id: 'EV001', resource_type: 'payments', action: 'confirmed', links: { payment: 'PM1' } },
      { id: 'EV002', resource_type: 'mandates', action: 'active', links: { mandate: 'MD1' } },
    ],
  };

  it('splits a GoCardless batch into one event per element, each stored as its own JSON', () => {
    const events = identifyEvents('gocardless', bytes(goCardless), undefined)!;
    expect(events.map((e) => [e.eventId, e.eventType])).toEqual([
      ['EV001', 'payments.confirmed'],
      ['EV002', 'mandates.active'],
    ]);
    expect(decoded(events[0]!.rawBody)).toEqual(goCardless.events[0]);
    expect(decoded(events[1]!.rawBody)).toEqual(goCardless.events[1]);
  });

  it('refuses a whole GoCardless batch when one event has no id, or when there are no events', () => {
    const broken = { events: [goCardless.events[0], { resource_type: 'payments', action: 'failed' }] };
    expect(identifyEvents('gocardless', bytes(broken), undefined)).toBeUndefined();
    expect(identifyEvents('gocardless', bytes({ events: [] }), undefined)).toBeUndefined();
    expect(identifyEvents('gocardless', bytes({}), undefined)).toBeUndefined();
  });

  it('splits an Adyen notification into one event per item, id pspReference:eventCode:success', () => {
    const item1 = { pspReference: 'PSP1', eventCode: 'AUTHORISATION', success: 'true', amount: { value: 100, currency: 'EUR' } };
    const item2 = { pspReference: 'PSP1', eventCode: 'CAPTURE', success: false };
    const body = bytes({ live: 'false', notificationItems: [{ NotificationRequestItem: item1 }, { NotificationRequestItem: item2 }] });
    const events = identifyEvents('adyen', body, undefined)!;
    expect(events.map((e) => [e.eventId, e.eventType])).toEqual([
      ['PSP1:AUTHORISATION:true', 'AUTHORISATION'],
      ['PSP1:CAPTURE:false', 'CAPTURE'],
    ]);
    expect(decoded(events[0]!.rawBody)).toEqual(item1);
  });

  it('refuses an Adyen notification whose item lacks its pspReference, eventCode or success', () => {
    const item = { pspReference: 'PSP1', eventCode: 'AUTHORISATION' };
    expect(identifyEvents('adyen', bytes({ notificationItems: [{ NotificationRequestItem: item }] }), undefined)).toBeUndefined();
    expect(identifyEvents('adyen', bytes({ notificationItems: [{}] }), undefined)).toBeUndefined();
  });

  it('stores each item as the exact bytes the PSP sent: whitespace, key order and escapes kept, nothing re-serialised', () => {
    const text =
      '{ "live" : "false",\n  "notificationItems" : [\n    { "NotificationRequestItem" : { "success" : "true", "eventCode" : "AUTHORISATION",\n' +
      '        "pspReference" : "PSP9", "merchantReference" : "caf\\u00e9 \u00e9", "additionalData" : { "x" : [ 1 , 2 ] } } }\n  ]\n}';
    const events = identifyEvents('adyen', new TextEncoder().encode(text), undefined)!;
    const sent = text.slice(text.indexOf('{ "success"'), text.indexOf('} }\n') + 1);
    expect(new TextDecoder().decode(events[0]!.rawBody)).toBe(sent);
  });

  it('takes the last of repeated keys, as JSON.parse (and so the verifier) reads them', () => {
    const text =
      '{"notificationItems":[{"NotificationRequestItem":{"pspReference":"UNSIGNED","eventCode":"CAPTURE","success":"true"},' +
      '"NotificationRequestItem":{"pspReference":"SIGNED","eventCode":"CAPTURE","success":"true"}}]}';
    const [event] = identifyEvents('adyen', new TextEncoder().encode(text), undefined)!;
    expect(event!.eventId).toBe('SIGNED:CAPTURE:true');
    expect(decoded(event!.rawBody)).toMatchObject({ pspReference: 'SIGNED' });
  });
});
