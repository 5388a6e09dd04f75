// The Workers app answers a wrong method like the Node app: 405 with Allow.
import { describe, expect, it } from 'vitest';
import type { Deps } from '../core/deps.js';
import { createLogger } from './node/logger.js';
import { edgeApp } from './edge.js';

// Neither answer below reaches the database: the request context needs only a logger.
const env = { deps: { logger: createLogger('silent') } as unknown as Deps };

describe('edgeApp', () => {
  it('answers another method than POST on /inbound/{sourceId} with 405 method_not_allowed and Allow: POST', async () => {
    const res = await edgeApp().request('/inbound/src_0193a1b2c3d4e5f60718293a4b5c0000', { method: 'GET' }, env);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(await res.json()).toMatchObject({ code: 'method_not_allowed', status: 405 });
  });

  it('answers a path it has no route for with 404 not_found', async () => {
    const res = await edgeApp().request('/v1/payments', { method: 'GET' }, env);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 'not_found' });
  });
});
