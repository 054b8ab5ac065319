// @ts-check
/** Projects, owned by a user (entities/project.ts). */
/** @type {import("stratastore").Migration} */
export default {
  version: 2,
  name: "create-projects",
  async up(m) {
    await m.createTable("projects", {
      id: { type: "string", primary: true },
      name: { type: "string" },
      ownerId: { type: "string" },
      createdAt: { type: "datetime" },
    });
    await m.createIndex("projects", ["ownerId"], { name: "idx_projects_ownerId" });
  },
  async down(m) {
    await m.dropTable("projects");
  },
};
