/**
 * @module
 * Structured logs: one JSON object per line. Callers pass an event name and a few fields
 * they choose; the gateway never passes variables, field values, tokens or keys, and this
 * logger drops fields whose names suggest secrets as a second line of defence.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_NAME = /token|secret|password|phrase|key|signature|authorization|variables|plaintext/i;

export type LogSink = (line: string) => void;

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

export function createLogger(options: { level?: LogLevel; sink?: LogSink } = {}): Logger {
  const min = ORDER[options.level ?? 'info'];
  const sink: LogSink = options.sink ?? ((line) => process.stdout.write(line + '\n'));
  const write = (level: LogLevel, event: string, fields: Record<string, unknown> = {}): void => {
    if (ORDER[level] < min) return;
    const safe: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) safe[k] = SECRET_NAME.test(k) ? '[redacted]' : v;
    sink(JSON.stringify({ time: new Date().toISOString(), level, event, ...safe }));
  };
  return {
    debug: (e, f) => write('debug', e, f),
    info: (e, f) => write('info', e, f),
    warn: (e, f) => write('warn', e, f),
    error: (e, f) => write('error', e, f),
  };
}
