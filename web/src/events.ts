// Live events over tipd's websocket (GET /v1/events): a handle's, or a signed-in supporter's own;
// after a dropped connection it comes back with `resume` from the last event seen, so nothing is
// missed; if none was seen yet, the page is told to read afresh over HTTP (`onResync`).
import type { EventData, EventType } from '../../src/events/types.ts';

export type HandleEvent = { [T in EventType]: { event: T; seq: number; at: string; data: EventData[T] } }[EventType];

const retryMsMax = 15_000;

export interface Follow {
  /** Each event, in order, once. */
  onEvent: (event: HandleEvent) => void;
  /** Back after a drop with nothing to resume from: what happened meanwhile is read over HTTP. */
  onResync?: () => void;
  /** The token no longer holds (rotated, or unknown): no reconnecting. */
  onRevoked?: () => void;
}

/** Follows `handle`'s events from now on. Returns a stop function. */
export const followHandle = (handle: string, follow: Follow): (() => void) => subscribe({ type: 'follow', handle }, follow);

/** The same for a supporter's own events: the token goes in a message, never in the URL. */
export const followAccount = (token: string, follow: Follow): (() => void) => subscribe({ type: 'auth', token }, follow);

/** tipd's close code for a socket whose token was rotated (src/events/hub.ts). */
const tokenRotated = 4001;

function subscribe(first: { type: 'follow'; handle: string } | { type: 'auth'; token: string }, { onEvent, onResync, onRevoked }: Follow): () => void {
  let socket: WebSocket | undefined;
  let lastSeq: number | undefined;
  let retryMs = 500;
  let stopped = false;
  let reconnecting = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const connect = () => {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/events`;
    const ws = new WebSocket(url);
    socket = ws;
    // After a resume, events come again from `resuming` on, each once and in order: any before it are dropped.
    let awaitingResume = false;
    ws.onopen = () => {
      retryMs = 500;
      ws.send(JSON.stringify(first));
      if (lastSeq === undefined) {
        if (reconnecting) onResync?.();
        return;
      }
      awaitingResume = true;
      ws.send(JSON.stringify({ type: 'resume', after: lastSeq }));
    };
    ws.onmessage = (message) => {
      const parsed = JSON.parse(String(message.data)) as { type: string } & Partial<HandleEvent>;
      if (parsed.type === 'error' && (parsed as { code?: string }).code === 'unauthorized') {
        stopped = true;
        onRevoked?.();
        return ws.close();
      }
      if (parsed.type === 'resuming') awaitingResume = false;
      if (parsed.type !== 'event' || parsed.seq === undefined || awaitingResume) return;
      lastSeq = parsed.seq;
      onEvent(parsed as HandleEvent);
    };
    ws.onclose = (closed) => {
      if (closed.code === tokenRotated) {
        stopped = true;
        onRevoked?.();
      }
      if (stopped) return;
      reconnecting = true;
      timer = setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, retryMsMax);
    };
  };
  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    socket?.close();
  };
}
