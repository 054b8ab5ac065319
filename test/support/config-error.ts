import { expect } from "vitest";
import { ConfigError, createStorage } from "../../src/index.js";

/** The ConfigError that `createStorage(input)` rejects with; fails the test when it resolves or throws anything else. */
export async function configError(input: unknown): Promise<ConfigError> {
  try {
    await createStorage(input as never);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError");
}
