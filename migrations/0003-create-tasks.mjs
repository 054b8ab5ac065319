// @ts-check
/** Tasks on a project's board (entities/task.ts), before they had labels. */
/** @type {import("stratastore").Migration} */
export default {
  version: 3,
  name: "create-tasks",
  async up(m) {
    await m.createTable(
      "tasks",
      {
        id: { type: "string", primary: true, generated: "uuid" },
        projectId: { type: "string" },
        title: { type: "string" },
        status: { type: "string", default: "open" },
        priority: { type: "integer", default: 0 },
        assigneeId: { type: "string", nullable: true },
        dueAt: { type: "datetime", nullable: true },
        version: { type: "integer" },
        createdAt: { type: "datetime" },
        updatedAt: { type: "datetime" },
      },
      {
        indexes: [
          { columns: ["status"], name: "idx_tasks_status" },
          { columns: ["projectId", "status"], name: "idx_tasks_projectId_status" },
        ],
      },
    );
  },
  async down(m) {
    await m.dropTable("tasks");
  },
};
