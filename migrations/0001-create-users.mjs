// @ts-check
/** The example task board's users (entities/user.ts). */
/** @type {import("stratastore").Migration} */
export default {
  version: 1,
  name: "create-users",
  async up(m) {
    await m.createTable(
      "users",
      {
        id: { type: "string", primary: true },
        email: { type: "string" },
        name: { type: "string" },
        createdAt: { type: "datetime" },
      },
      { indexes: [{ columns: ["email"], unique: true, name: "uq_users_email" }] },
    );
  },
  async down(m) {
    await m.dropTable("users");
  },
};
