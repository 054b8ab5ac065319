/** Where Strata reports what it does. Any object with these four methods (`console` included) fits. */
export interface Logger {
  debug(message: string, ...details: unknown[]): void;
  info(message: string, ...details: unknown[]): void;
  warn(message: string, ...details: unknown[]): void;
  error(message: string, ...details: unknown[]): void;
}

/** The default logger: warnings and errors to the console, nothing else. */
export const quietLogger: Logger = {
  debug() {},
  info() {},
  warn: (message, ...details) => console.warn(`[strata] ${message}`, ...details),
  error: (message, ...details) => console.error(`[strata] ${message}`, ...details),
};
