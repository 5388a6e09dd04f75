// (node) Answers for requests Node's HTTP parser refuses before any route sees them.
import type { Socket } from 'node:net';
import { problemBody } from './core/http/problem.js';
import type { ErrorCode } from './core/errors.js';

/**
 * A `clientError` listener for a node:http server that answers what the parser refused with
 * a problem+json body like every other refusal (RFC 9457), instead of Node's bare status
 * line: headers larger than the server's `maxHeaderSize` (Node's default 16 KiB;
 * `HPE_HEADER_OVERFLOW`) → 431 `headers_too_large`; any other malformed request → 400
 * `invalid_request`. The connection is closed after the answer; a socket already reset or
 * half-written is destroyed. Nothing of the request is echoed back.
 *
 * Source: https://nodejs.org/api/http.html#event-clienterror, RFC 6585 §5 (431)
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable || (socket as Socket & { _httpMessage?: unknown })._httpMessage) {
    socket.destroy();
    return;
  }
  const [status, code, reason, detail]: [number, ErrorCode, string, string] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'headers_too_large', 'Request Header Fields Too Large', 'The request headers are too large; a signature header is a few hundred bytes.']
      : [400, 'invalid_request', 'Bad Request', 'The request is not valid HTTP/1.1.'];
  const body = JSON.stringify(problemBody(code, status, detail));
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
