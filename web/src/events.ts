// Live events over tipd's websocket (GET /v1/events): a handle's, or a signed-in supporter's own;
// after a dropped connection it comes back with `resume` from the last event seen, so nothing is missed.
import type { EventData, EventType } from '../../src/events/types.ts';

export type HandleEvent = { [T in EventType]: { event: T; seq: number; at: string; data: EventData[T] } }[EventType];

const retryMsMax = 15_000;

/** Calls `onEvent` for each event of `handle` from now on; `onLive(false)` while disconnected. Returns a stop function. */
export const followHandle = (handle: string, onEvent: (event: HandleEvent) => void, onLive?: (live: boolean) => void): (() => void) =>
  subscribe({ type: 'follow', handle }, onEvent, onLive);

/** The same for a supporter's own events: the token goes in a message, never in the URL. */
export const followAccount = (token: string, onEvent: (event: HandleEvent) => void, onLive?: (live: boolean) => void): (() => void) =>
  subscribe({ type: 'auth', token }, onEvent, onLive);

function subscribe(
  first: { type: 'follow'; handle: string } | { type: 'auth'; token: string },
  onEvent: (event: HandleEvent) => void,
  onLive: (live: boolean) => void = () => {},
): () => void {
  let socket: WebSocket | undefined;
  let lastSeq: number | undefined;
  let retryMs = 500;
  let stopped = false;
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
      if (lastSeq === undefined) return;
      awaitingResume = true;
      ws.send(JSON.stringify({ type: 'resume', after: lastSeq }));
    };
    ws.onmessage = (message) => {
      const parsed = JSON.parse(String(message.data)) as { type: string } & Partial<HandleEvent>;
      if (parsed.type === 'ready') onLive(true);
      if (parsed.type === 'resuming') awaitingResume = false;
      if (parsed.type !== 'event' || parsed.seq === undefined || awaitingResume) return;
      lastSeq = parsed.seq;
      onEvent(parsed as HandleEvent);
    };
    ws.onclose = () => {
      onLive(false);
      if (stopped) return;
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
