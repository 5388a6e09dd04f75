// Raw HTTP/1.1 over a TCP socket, for tests of what a server says before (or instead of) its
// routes: slow senders, malformed requests. Node's own clients would refuse to send these.
import { connect } from 'node:net';

/**
 * Writes `head` to 127.0.0.1:`port` at once, then `rest` a byte per `everyMs`, and collects
 * the answer until the server closes; resolves with it (latin1) and the ms the connection
 * lived. Rejects only when the connection fails before any answer.
 */
export function trickle(port: number, head: string, rest = '', everyMs = 100): Promise<{ answer: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let answer = '';
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(head);
      timer = setInterval(() => {
        if (i < rest.length && socket.writable) socket.write(rest[i++]!);
      }, everyMs);
    });
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ answer, ms: Date.now() - started });
    });
    socket.on('error', (e) => {
      clearInterval(timer);
      if (answer) resolve({ answer, ms: Date.now() - started });
      else reject(e);
    });
  });
}

/** The status line, the lower-cased headers (one per line) and the JSON body of one raw HTTP answer. */
export function parseAnswer(answer: string): { statusLine: string; headers: string; body: Record<string, unknown> } {
  const [head, ...rest] = answer.split('\r\n\r\n');
  const [statusLine, ...headers] = head!.split('\r\n');
  return {
    statusLine: statusLine!,
    headers: headers.join('\n').toLowerCase(),
    body: JSON.parse(rest.join('\r\n\r\n')) as Record<string, unknown>,
  };
}
