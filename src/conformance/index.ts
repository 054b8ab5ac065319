/**
 * `stratastore/conformance`: the suites every backend passes, for authors of a backend given to
 * `createStorage` as a factory or instance, or added with `registerBackend`. `runConformanceSuite` checks a
 * backend through a storage (repositories, queries, transactions); `runSpiSuite` checks it directly through
 * the SPI (data session, transactions, schema editor, migrations).
 */
export { runConformanceSuite } from "./conformance-suite.js";
export type { ConformanceTarget, TestApi } from "./conformance-suite.js";
export { openBackend, runSpiSuite } from "./spi-suite.js";
export type { SpiTarget } from "./spi-suite.js";
export { CONFORMANCE_ENTITIES, ConfCounter, ConfItem, ConfSequenced, ConfValue } from "./conformance-entities.js";
