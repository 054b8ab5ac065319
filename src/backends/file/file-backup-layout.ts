/**
 * The file backend's backup layout (src/backup/backup-layout.ts): a generation holds `data`, a file-backend
 * directory; the generations go to `backups/` inside the data directory unless `backup.dir` says otherwise.
 * It restores its own generations and the memory backend's (which writes the same directory); see file-restore.ts.
 */
import * as path from "node:path";
import type { BackupLayout } from "../../backup/backup-layout.js";
import { restoreDirectory } from "./file-restore.js";

/** See the module comment. */
export const fileBackupLayout: BackupLayout = {
  planOf(location, dir) {
    return location ? { root: dir ?? path.join(location, "backups"), dataName: "data", source: path.resolve(location), onClose: false } : undefined;
  },
  restoresFrom: ["file", "memory"],
  restore: restoreDirectory,
};
