export const createPostgresBackend = async (): Promise<never> => { throw new Error("todo"); };
