// `switchyard/simulators`: Stripe and Adyen sandboxes on msw 2 (a consumer dev dependency) that
// count calls, honour `Idempotency-Key` and post signed webhooks. README "Testing with the simulators".
export { stripeSimulator, type StripeSimulator, type StripeSimulatorOptions, type SimulatedPaymentIntent } from './stripe.js';
export { adyenSimulator, type AdyenSimulator, type AdyenSimulatorOptions, type SimulatedAdyenPayment } from './adyen.js';
export type { InjectedFailure, SimulatedCall, WebhookOptions, WebhookQueue } from './core.js';
