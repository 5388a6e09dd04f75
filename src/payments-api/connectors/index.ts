import { adyenConnector } from './adyen.js';
import type { SourceCredentials } from './credentials.js';
import { stripeConnector } from './stripe.js';
import type { Connector, ConnectorOptions } from './types.js';

/** Default timeout of one PSP call, ms. */
export const DEFAULT_PSP_TIMEOUT_MS = 15_000;

/**
 * The connector for a source's provider (`stripe`, `adyen`). Throws an Error for another
 * provider (loadSourceCredentials already refuses those).
 */
export function connectorFor(creds: SourceCredentials, options: ConnectorOptions): Connector {
  switch (creds.provider) {
    case 'stripe':
      return stripeConnector(creds, options);
    case 'adyen':
      return adyenConnector(creds, options);
    default:
      throw new Error(`no connector for provider ${creds.provider}`);
  }
}
