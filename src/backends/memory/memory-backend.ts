/**
 * The memory backend: the table engine and its single serialized writer (both from
 * {@link EngineBackend}), and nothing on disk. What is its own: tables created from the entities, and a
 * backup that goes through the copy module handed over by `createStorage`.
 */
import type { Backend, BackendContext } from "../../spi/index.js";
import { UnsupportedError } from "../../errors.js";
import { EngineBackend } from "../engine-backend.js";

export class MemoryBackend extends EngineBackend {
  readonly name: string = "memory";

  constructor(context: BackendContext) {
    super(context);
    if (context.config.autoCreate) for (const schema of context.schemas) this.db.ensureTable(schema);
  }

  /**
   * Writes the data as a file-backend directory (a new or empty one), which `createStorage("file:" + path)`
   * opens: the only way a memory storage's data outlives it. The writing is the copy module's
   * (`context.backupToDirectory`, given by `createStorage`): this backend knows neither the file backend
   * nor the copier.
   */
  async backup(targetPath: string): Promise<void> {
    const backupToDirectory = this.context.backupToDirectory;
    if (!backupToDirectory) {
      throw new UnsupportedError(
        `This memory backend was built without BackendContext.backupToDirectory, its means to back up: open it with createStorage (or openBackend from stratastore/conformance), which give it`,
      );
    }
    await backupToDirectory(this, targetPath);
  }
}

/** The factory registered as `memory`. */
export async function createMemoryBackend(context: BackendContext): Promise<Backend> {
  return new MemoryBackend(context);
}
