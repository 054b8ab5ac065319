/**
 * The memory backend's backup layout (src/backup/backup-layout.ts): a generation holds `data`, a file-backend
 * directory (what `storage.backup` writes), in `backup.dir` (required: nothing of a memory storage is on disk),
 * and one is made on `close()`, since the data dies with the storage. There is nothing on disk to restore
 * into: a generation is opened with `createStorage("file:" + its data directory)`.
 */
import type { BackupLayout } from "../../backup/backup-layout.js";

/** See the module comment. */
export const memoryBackupLayout: BackupLayout = {
  planOf(_location, dir) {
    return dir ? { root: dir, dataName: "data", source: "memory:", onClose: true } : undefined;
  },
  restoresFrom: ["memory"],
};
