export { User } from "./user.js";
export { Project } from "./project.js";
export { Task } from "./task.js";
export type { TaskStatus } from "./task.js";
export { TaskRepository } from "./task-repository.js";
import { Project } from "./project.js";
import { Task } from "./task.js";
import { User } from "./user.js";

/** Every entity of the example task board. */
export const ENTITIES = [User, Project, Task];
