// The WebSocket of pushed events (report-service `/ws`): authenticates with the `bearer`
// subprotocol, remembers the id of the last event, and when the connection drops reconnects by
// itself with `?lastEventId=` so the server replays what was missed.

/** One frame from the server: `{id, type, at, ...}` (see asyncapi/asyncapi.yaml, `/ws`). */
export interface PushEvent {
  id?: string;
  type: string;
  at: string;
  [field: string]: unknown;
}

export type ConnectionState = 'connecting' | 'open' | 'down' | 'stopped';

export interface EventStreamOptions {
  /** `ws://host/ws`, without a query. */
  url: string;
  token: string;
  onEvent: (event: PushEvent) => void;
  onStateChange?: (state: ConnectionState) => void;
  /**
   * After a reconnection: the events replayed because they happened while the connection was
   * down (logged before the new connection opened), once the replay is over.
   */
  onResumed?: (missed: PushEvent[]) => void;
  createSocket?: (url: string, protocols: string[]) => WebSocket;
  /** First reconnection delay; it doubles up to `maxDelayMs`. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** How long after reopening events may still be the replay. */
  replayWindowMs?: number;
  now?: () => number;
  random?: () => number;
}

export class EventStream {
  private readonly options: Required<Omit<EventStreamOptions, 'onResumed' | 'onStateChange'>> &
    Pick<EventStreamOptions, 'onResumed' | 'onStateChange'>;
  private socket: WebSocket | null = null;
  private lastEventId: string | null = null;
  private attempts = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private replayTimer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;
  private hasBeenOpen = false;
  private openedAt = 0;
  private missed: PushEvent[] | null = null;
  private currentState: ConnectionState = 'connecting';

  constructor(options: EventStreamOptions) {
    this.options = {
      createSocket: (url, protocols) => new WebSocket(url, protocols),
      initialDelayMs: 500,
      maxDelayMs: 15_000,
      replayWindowMs: 1_000,
      now: () => Date.now(),
      random: () => Math.random(),
      ...options,
    };
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** The id the next connection resumes after. */
  get resumeAfter(): string | null {
    return this.lastEventId;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= 1) socket.close(1000, 'signed out');
    this.setState('stopped');
  }

  /** Reconnects now (after the browser comes back online) instead of waiting for the timer. */
  reconnectNow(): void {
    if (this.stopped || this.currentState === 'open' || this.currentState === 'connecting') return;
    this.clearTimers();
    this.connect();
  }

  private connect(): void {
    this.setState('connecting');
    const url =
      this.lastEventId === null
        ? this.options.url
        : `${this.options.url}?lastEventId=${encodeURIComponent(this.lastEventId)}`;
    let socket: WebSocket;
    try {
      socket = this.options.createSocket(url, ['bearer', this.options.token]);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.attempts = 0;
      this.openedAt = this.options.now();
      if (this.hasBeenOpen) this.beginReplay();
      this.hasBeenOpen = true;
      this.setState('open');
    };
    socket.onmessage = (message: MessageEvent) => {
      if (this.socket !== socket) return;
      this.receive(message.data);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.finishReplay();
      if (this.stopped) return;
      this.setState('down');
      this.scheduleReconnect();
    };
  }

  private receive(data: unknown): void {
    if (typeof data !== 'string') return;
    let event: PushEvent;
    try {
      event = JSON.parse(data) as PushEvent;
    } catch {
      return;
    }
    if (typeof event !== 'object' || event === null || typeof event.type !== 'string') return;
    if (typeof event.id === 'string' && event.id !== '') this.lastEventId = event.id;
    if (this.missed !== null) {
      const at = Date.parse(event.at);
      if (event.type !== 'reset' && Number.isFinite(at) && at < this.openedAt) {
        this.missed.push(event);
      } else {
        this.finishReplay();
      }
    }
    this.options.onEvent(event);
  }

  private beginReplay(): void {
    this.missed = [];
    this.replayTimer = setTimeout(() => this.finishReplay(), this.options.replayWindowMs);
  }

  private finishReplay(): void {
    if (this.replayTimer !== null) clearTimeout(this.replayTimer);
    this.replayTimer = null;
    const missed = this.missed;
    this.missed = null;
    if (missed !== null) this.options.onResumed?.(missed);
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const ceiling = Math.min(
      this.options.maxDelayMs,
      this.options.initialDelayMs * 2 ** Math.min(this.attempts, 16),
    );
    // Half fixed, half random: many browsers do not all come back in the same instant.
    const delay = ceiling / 2 + (this.options.random() * ceiling) / 2;
    this.attempts += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  private clearTimers(): void {
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    if (this.replayTimer !== null) clearTimeout(this.replayTimer);
    this.replayTimer = null;
    this.missed = null;
  }

  private setState(state: ConnectionState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.options.onStateChange?.(state);
  }
}

/** `ws://` or `wss://` to `/ws` on the page's own host (Vite's proxy or the gateway). */
export function eventsUrl(location: Location = window.location): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}
