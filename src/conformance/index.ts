/** `stratastore/conformance`: the suite every backend passes, for authors of backends added with `registerBackend`. */
export { runConformanceSuite } from "./conformance-suite.js";
export type { ConformanceTarget, TestApi } from "./conformance-suite.js";
export { CONFORMANCE_ENTITIES, ConfCounter, ConfItem, ConfSequenced, ConfValue } from "./conformance-entities.js";
