// `switchyard/simulators`: Stripe and Adyen sandboxes on msw 2 (a peer dependency: the project's own
// copy) that count calls, honour `Idempotency-Key` and post signed webhooks, in process through msw or
// over HTTP (serveSimulator). README "Testing with the simulators".
export {
  stripeSimulator,
  type StripeSimulator,
  type StripeSimulatorOptions,
  type SimulatedPaymentIntent,
  type SimulatedRefund,
  type SimulatedDispute,
  type SimulatedBalanceTransaction,
  type SimulatedPayout,
} from './stripe.js';
export { adyenSimulator, type AdyenSimulator, type AdyenSimulatorOptions, type SimulatedAdyenPayment } from './adyen.js';
export { serveSimulator, type ServedSimulator, type ServeSimulatorOptions, type ServableSimulator } from './serve.js';
export type { InjectedFailure, SimulatedCall, WebhookOptions, WebhookQueue } from './core.js';
