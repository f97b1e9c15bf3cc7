// Structured JSON-line logging shared by every subcommand.
// One line per event, with a level; callers pass small fields, never whole objects or secrets.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function configuredLevel(): LogLevel {
  const fromEnv = (process.env.EDOT_TA_LOG_LEVEL ?? 'info').toLowerCase();
  return fromEnv in levelRank ? (fromEnv as LogLevel) : 'info';
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export function createLogger(
  baseFields: Record<string, unknown> = {},
  write: (line: string) => void = (line) => process.stderr.write(line + '\n'),
): Logger {
  const minRank = levelRank[configuredLevel()];
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (levelRank[level] < minRank) return;
    write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...baseFields, ...fields }, errorReplacer));
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => createLogger({ ...baseFields, ...fields }, write),
  };
}

// Errors do not serialise with JSON.stringify; keep their message (not the stack) on one line.
function errorReplacer(_key: string, value: unknown): unknown {
  return value instanceof Error ? value.message : value;
}
