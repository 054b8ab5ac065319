import { Repository } from "../src/index.js";
import type { Storage } from "../src/index.js";
import { Task } from "./task.js";

/** Tasks, with the board's own queries beside the generic ones. */
export class TaskRepository extends Repository<Task, string> {
  constructor(storage: Storage) {
    super(storage, Task);
  }

  /** Open tasks of a project, most urgent first. */
  openByPriority(projectId: string): Promise<Task[]> {
    return this.findAll({ where: { projectId, status: "open" }, orderBy: { priority: "desc" } });
  }

  /** Moves a task along the board, refusing if someone else changed it since it was read. */
  async move(task: Task, status: Task["status"]): Promise<Task> {
    return this.update(task.id, { status, version: task.version });
  }
}
