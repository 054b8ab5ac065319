// @ts-check
/** Labels on tasks: a JSON list, empty for the tasks that existed before. */
/** @type {import("stratastore").Migration} */
export default {
  version: 4,
  name: "add-task-labels",
  async up(m) {
    await m.addColumn("tasks", "labels", { type: "json", nullable: true });
    await m.updateRows("tasks", () => ({ labels: [] }));
  },
  async down(m) {
    await m.dropColumn("tasks", "labels");
  },
};
