/** Stable snake_case problem codes; clients may branch on them (docs/http-api.md: which route answers which). */
export type ErrorCode =
  | 'invalid_request'
  | 'unauthorized'
  | 'api_key_expired'
  | 'permission_denied'
  | 'not_found'
  | 'method_not_allowed'
  | 'source_not_found'
  | 'signature_missing'
  | 'signature_invalid'
  | 'timestamp_out_of_tolerance'
  | 'payload_too_large'
  | 'payload_too_deep'
  | 'event_text_invalid'
  | 'request_timeout'
  | 'secret_unreadable'
  | 'headers_too_large'
  | 'event_id_missing'
  | 'store_unavailable'
  | 'url_not_allowed'
  | 'amount_out_of_range'
  | 'unsupported_media_type'
  | 'conflict'
  | 'event_expired'
  | 'idempotency_key_missing'
  | 'idempotency_key_invalid'
  | 'idempotency_key_reused'
  | 'idempotency_key_in_progress'
  | 'invalid_payment_state'
  | 'psp_not_configured'
  | 'psp_request_rejected'
  | 'invalid_rule'
  | 'invalid_filter'
  | 'payment_blocked'
  | 'review_closed'
  | 'payment_in_review'
  | 'report_format_unknown'
  | 'report_format_mismatch'
  | 'rate_limited'
  | 'internal_error';

/** One validation problem, as zod reports it (path into the input, message). */
export interface ValidationIssue {
  path: (string | number)[];
  message: string;
  code?: string;
}

/**
 * The exception the HTTP layer renders as RFC 9457 problem+json. `detail` is shown to the client, so no internals
 * (`cause` is for logs); `retryable`: the same request may succeed later. Source: RFC 9457.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly errors: ValidationIssue[] | undefined;

  constructor(
    code: ErrorCode,
    status: number,
    detail: string,
    options: { retryable?: boolean; errors?: ValidationIssue[]; cause?: unknown } = {},
  ) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = status;
    this.retryable = options.retryable ?? false;
    this.errors = options.errors;
  }
}

/** 404 `not_found` (or another 404 code): the object does not exist or belongs to someone else. */
export class NotFoundError extends AppError {
  constructor(what: string, code: ErrorCode = 'not_found') {
    super(code, 404, `${what} was not found.`);
  }
}

/** 401 `unauthorized`: missing or wrong bearer credentials. */
export class UnauthorizedError extends AppError {
  constructor(detail = 'Missing or invalid bearer token.') {
    super('unauthorized', 401, detail);
  }
}

/** 400 `invalid_request` with the zod issues under `errors`. */
export class ValidationError extends AppError {
  constructor(errors: ValidationIssue[], detail = 'The request failed validation.') {
    super('invalid_request', 400, detail, { errors });
  }
}
