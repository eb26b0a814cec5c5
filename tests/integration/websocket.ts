// A websocket client of tipd's /v1/events for the tests: it keeps every message it gets.
import { WebSocket } from 'ws';
import { eventually } from './helpers.ts';

export interface Message {
  type: string;
  seq?: number;
  event?: string;
  data?: Record<string, unknown>;
  code?: string;
  topics?: string[];
}

/** A websocket client that keeps every message it gets. */
export async function connect(url: string, headers: Record<string, string> = {}) {
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/events`, { headers });
  const messages: Message[] = [];
  socket.on('message', (data) => messages.push(JSON.parse((data as Buffer).toString('utf8')) as Message));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    socket.once('error', reject);
  });
  return {
    messages,
    send: (message: unknown) => socket.send(typeof message === 'string' ? message : JSON.stringify(message)),
    closed: new Promise<number>((resolve) => socket.once('close', (code) => resolve(code))),
    next: (test: (m: Message) => boolean) => eventually(async () => messages.find(test), 15_000),
    close: () => socket.close(),
  };
}
