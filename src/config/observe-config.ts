/**
 * The options that observe a storage's backend operations (README, "Observing queries"): `logQueries` and
 * `telemetry` of `StorageConfig`. Their own file, without imports, so that the resolved configuration (which
 * the SPI names) can name them without reaching the observer.
 */

/** The `logQueries` option: `true` logs every operation at debug level; `{ slowMs }` only those that slow, at warn. */
export type LogQueriesConfig = boolean | { readonly slowMs?: number };

/**
 * The part of OpenTelemetry's `TracerProvider` Strata uses. Structural, so that Strata's public types do not
 * need `@opentelemetry/api` installed; a `TracerProvider` of the API or of an SDK fits.
 */
export interface TelemetryTracerProvider {
  getTracer(name: string, version?: string): unknown;
}

/** The `telemetry` option: `true` for the globally registered tracer provider, or a provider of your own. */
export type TelemetryConfig = boolean | { readonly tracerProvider?: TelemetryTracerProvider };
