/**
 * Imports of TypeScript files through tsx (an optional peer), for `.ts` migrations and `.ts` entity modules.
 */

/** Imports `specifier` (a file URL) as tsx would, from `parent`. */
export type TypeScriptImport = (specifier: string, parent: string) => Promise<unknown>;

let importer: Promise<TypeScriptImport | undefined> | undefined;

/**
 * An import through tsx, when tsx is installed (loaded once, only when a `.ts` file is met); undefined
 * otherwise. One namespace for the process, registered at the first `.ts` file: tsx's `tsImport` registers a
 * new one at each call, whose module hooks stay for the life of the process, and under which an unchanged
 * file is a new module, evaluated again.
 */
export function typeScriptImporter(): Promise<TypeScriptImport | undefined> {
  return (importer ??= import("tsx/esm/api").then(
    (api: { register(options: { namespace: string }): { import: TypeScriptImport } }) => api.register({ namespace: "stratastore-migrations" }).import,
    () => undefined,
  ));
}
