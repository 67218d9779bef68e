import { type Client, WebSocket as MockWebSocket, Server } from 'mock-socket';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ConnectionState, EventStream, type PushEvent } from './stream';

const URL = 'ws://app.test/ws';

function frame(id: string, type: string, at: string, fields: Record<string, unknown> = {}) {
  return JSON.stringify({ id, type, at, ...fields });
}

describe('EventStream', () => {
  let server: Server;
  let sockets: Client[];
  let opened: Array<{ url: string; protocols: string[] }>;
  let events: PushEvent[];
  let states: ConnectionState[];
  let resumed: PushEvent[][];
  let clock: number;

  function stream() {
    return new EventStream({
      url: URL,
      token: 'header.payload.signature',
      onEvent: (event) => events.push(event),
      onStateChange: (state) => states.push(state),
      onResumed: (missed) => resumed.push(missed),
      createSocket: (url, protocols) => {
        opened.push({ url, protocols });
        return new MockWebSocket(url, protocols) as unknown as WebSocket;
      },
      initialDelayMs: 1000,
      maxDelayMs: 8000,
      random: () => 1,
      now: () => clock,
    });
  }

  beforeEach(() => {
    vi.useFakeTimers();
    server = new Server(URL);
    sockets = [];
    server.on('connection', (socket) => sockets.push(socket));
    opened = [];
    events = [];
    states = [];
    resumed = [];
    clock = Date.parse('2026-12-03T10:00:00Z');
  });

  afterEach(() => {
    server.stop();
    vi.useRealTimers();
  });

  it('sends the token as the bearer subprotocol, never in the URL', async () => {
    const events = stream();
    events.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(opened).toEqual([{ url: URL, protocols: ['bearer', 'header.payload.signature'] }]);
    expect(events.state).toBe('open');
    events.stop();
  });

  it('reconnects by itself with the last event id and reports what it missed', async () => {
    const subject = stream();
    subject.start();
    await vi.advanceTimersByTimeAsync(10);
    sockets[0]?.send(frame('e1', 'report.progress', '2026-12-03T09:59:00Z', { percent: 40 }));
    sockets[0]?.send(frame('e2', 'application.status_changed', '2026-12-03T09:59:30Z'));
    await vi.advanceTimersByTimeAsync(10);
    expect(events.map((event) => event.id)).toEqual(['e1', 'e2']);

    // The server goes away: the stream says so and tries again after its back-off.
    sockets[0]?.close({ code: 1001, reason: 'server shutting down', wasClean: true });
    await vi.advanceTimersByTimeAsync(10);
    expect(subject.state).toBe('down');
    expect(opened).toHaveLength(1);
    clock += 60_000;
    await vi.advanceTimersByTimeAsync(1000);
    expect(opened).toHaveLength(2);
    expect(opened[1]?.url).toBe(`${URL}?lastEventId=e2`);
    expect(opened[1]?.protocols).toEqual(['bearer', 'header.payload.signature']);
    expect(subject.state).toBe('open');

    // The replay (logged while the connection was down), then a live event.
    sockets[1]?.send(
      frame('e3', 'application.status_changed', '2026-12-03T10:00:10Z', { status: 'COMPLETED' }),
    );
    sockets[1]?.send(frame('e4', 'report.completed', '2026-12-03T10:00:20Z'));
    sockets[1]?.send(frame('e5', 'report.progress', '2026-12-03T10:01:05Z'));
    await vi.advanceTimersByTimeAsync(10);
    expect(events.map((event) => event.id)).toEqual(['e1', 'e2', 'e3', 'e4', 'e5']);
    expect(resumed).toHaveLength(1);
    expect(resumed[0]?.map((event) => event.id)).toEqual(['e3', 'e4']);
    expect(subject.resumeAfter).toBe('e5');
    expect(states).toEqual(['open', 'down', 'connecting', 'open']);
    subject.stop();
  });

  it('waits longer after each failed attempt, up to the ceiling', async () => {
    server.stop();
    const subject = stream();
    subject.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(subject.state).toBe('down');
    const attemptsAt: number[] = [];
    for (let elapsed = 0; elapsed < 40_000; elapsed += 250) {
      const before = opened.length;
      await vi.advanceTimersByTimeAsync(250);
      if (opened.length > before) attemptsAt.push(elapsed + 250);
    }
    const gaps = attemptsAt.map((at, index) => at - (attemptsAt[index - 1] ?? 0));
    // Sampled every 250 ms, and each failed connection takes a moment of its own.
    [1000, 2000, 4000, 8000, 8000].forEach((delay, index) => {
      expect(gaps[index]).toBeGreaterThanOrEqual(delay);
      expect(gaps[index]).toBeLessThanOrEqual(delay + 250);
    });
    subject.stop();
  });

  it('passes a reset on and resumes from the position it names', async () => {
    const subject = stream();
    subject.start();
    await vi.advanceTimersByTimeAsync(10);
    sockets[0]?.send(
      JSON.stringify({ type: 'reset', at: '2026-12-03T10:00:00Z', id: 'head', reason: 'gone' }),
    );
    await vi.advanceTimersByTimeAsync(10);
    expect(events.at(-1)?.type).toBe('reset');
    expect(subject.resumeAfter).toBe('head');
    subject.stop();
  });

  it('ignores frames that are not events', async () => {
    const subject = stream();
    subject.start();
    await vi.advanceTimersByTimeAsync(10);
    sockets[0]?.send('not json');
    sockets[0]?.send(JSON.stringify({ id: 'x' }));
    await vi.advanceTimersByTimeAsync(10);
    expect(events).toEqual([]);
    expect(subject.resumeAfter).toBeNull();
    subject.stop();
  });

  it('stays closed after stop', async () => {
    const subject = stream();
    subject.start();
    await vi.advanceTimersByTimeAsync(10);
    subject.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(opened).toHaveLength(1);
    expect(subject.state).toBe('stopped');
  });
});
