/**
 * Real data: the 3,201 movies of `vega-datasets` (1,331 without a director, 275 without a genre) normalised into
 * Director, Genre and Movie. Every include and relation filter is compared, on each backend, with the same
 * join written by hand in plain SQLite over the same rows.
 */
import "reflect-metadata";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import * as path from "node:path";
import Database from "better-sqlite3";
import { Column, Entity, JoinColumn, ManyToOne, OneToMany, PrimaryColumn } from "typeorm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Storage } from "../../src/index.js";
import { createStorage } from "../../src/index.js";
import { PG_URL, PgTestDatabase, pgSkipReason } from "../postgres/pg-test-database.js";

@Entity("mv_directors")
class Director {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column({ type: "string" }) name!: string;
  @OneToMany(() => Movie, (m) => m.director) movies?: Movie[];
}

@Entity("mv_genres")
class Genre {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column({ type: "string" }) name!: string;
  @OneToMany(() => Movie, (m) => m.genre) movies?: Movie[];
}

@Entity("mv_movies")
class Movie {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column({ type: "string" }) title!: string;
  @Column({ type: "number", nullable: true }) usGross!: number | null;
  @Column({ type: "number", nullable: true }) imdbRating!: number | null;
  @Column({ type: "integer", nullable: true }) directorId!: number | null;
  @ManyToOne(() => Director, (d) => d.movies, { onDelete: "SET NULL" }) @JoinColumn({ name: "directorId" }) director?: Director | null;
  @Column({ type: "integer", nullable: true }) genreId!: number | null;
  @ManyToOne(() => Genre, (g) => g.movies) @JoinColumn({ name: "genreId" }) genre?: Genre | null;
}

interface Data {
  directors: Director[];
  genres: Genre[];
  movies: Movie[];
}

function loadMovies(): Data {
  // The package exports only its code: find its folder through the main module, then the data file in it.
  const main = createRequire(import.meta.url).resolve("vega-datasets");
  const file = path.join(main.slice(0, main.lastIndexOf(`${path.sep}vega-datasets${path.sep}`) + "/vega-datasets/".length), "data", "movies.json");
  const raw = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>[];
  const directorIds = new Map<string, number>();
  const genreIds = new Map<string, number>();
  const idOf = (map: Map<string, number>, name: unknown): number | null => {
    if (typeof name !== "string") return null;
    let id = map.get(name);
    if (id === undefined) map.set(name, (id = map.size + 1));
    return id;
  };
  const number = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
  const movies = raw.map((m, i) =>
    Object.assign(new Movie(), {
      id: i + 1,
      title: String(m["Title"]),
      usGross: number(m["US Gross"]),
      imdbRating: number(m["IMDB Rating"]),
      directorId: idOf(directorIds, m["Director"]),
      genreId: idOf(genreIds, m["Major Genre"]),
    }),
  );
  const directors = [...directorIds].map(([name, id]) => Object.assign(new Director(), { id, name }));
  const genres = [...genreIds].map(([name, id]) => Object.assign(new Genre(), { id, name }));
  return { directors, genres, movies };
}

/** The same rows in plain SQLite, queried with hand-written joins. */
function referenceDatabase(data: Data): Database.Database {
  const db = new Database(":memory:");
  db.exec(`CREATE TABLE directors (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    CREATE TABLE genres (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
    CREATE TABLE movies (id INTEGER PRIMARY KEY, title TEXT NOT NULL, usGross REAL, imdbRating REAL, directorId INTEGER, genreId INTEGER);`);
  const insert = (sql: string, rows: unknown[][]): void => {
    const statement = db.prepare(sql);
    db.transaction(() => rows.forEach((r) => statement.run(...r)))();
  };
  insert("INSERT INTO directors VALUES (?, ?)", data.directors.map((d) => [d.id, d.name]));
  insert("INSERT INTO genres VALUES (?, ?)", data.genres.map((g) => [g.id, g.name]));
  insert("INSERT INTO movies VALUES (?, ?, ?, ?, ?, ?)", data.movies.map((m) => [m.id, m.title, m.usGross, m.imdbRating, m.directorId, m.genreId]));
  return db;
}

type Opener = () => Promise<{ storage: Storage; cleanup: () => Promise<void> }>;

const temp = (): string => mkdtempSync(path.join(tmpdir(), "strata-movies-"));
const entities = [Director, Genre, Movie];
const backends: [string, Opener | string][] = [
  ["memory", async () => ({ storage: await createStorage({ backend: "memory", entities, autoCreate: true }), cleanup: async () => {} })],
  ["file", async () => {
    const dir = temp();
    return { storage: await createStorage({ url: `file:${dir}`, entities, autoCreate: true }), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }],
  ["sqlite", async () => {
    const dir = temp();
    return { storage: await createStorage({ url: `sqlite:${path.join(dir, "movies.db")}`, entities, autoCreate: true }), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }],
];
const pgSkip = pgSkipReason();
let pgDatabase: PgTestDatabase | undefined;
backends.push([
  "postgres",
  pgSkip ?? (async () => {
    pgDatabase ??= await PgTestDatabase.create(PG_URL!);
    return { storage: await createStorage({ url: await pgDatabase.freshSchemaUrl(), entities, autoCreate: true }), cleanup: async () => {} };
  }),
]);
afterAll(async () => {
  await pgDatabase?.drop();
});

const data = loadMovies();
const reference = referenceDatabase(data);
afterAll(() => reference.close());

const rows = <T>(sql: string, ...params: unknown[]): T[] => reference.prepare(sql).all(...params) as T[];

for (const [name, open] of backends) {
  describe(`${name}: relations over the vega-datasets movies`, () => {
    if (typeof open === "string") {
      test.skip(open, () => {});
      return;
    }
    let storage: Storage;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ({ storage, cleanup } = await open());
      await storage.repository(Director).saveMany(data.directors);
      await storage.repository(Genre).saveMany(data.genres);
      const result = await storage.repository(Movie).saveMany(data.movies);
      expect(result.failed).toBe(0);
    }, 120_000);
    afterAll(async () => {
      await storage?.close();
      await cleanup?.();
    });

    test("the data has the nulls the test is about", () => {
      expect(data.movies.length).toBe(3201);
      expect(data.movies.filter((m) => m.directorId === null).length).toBe(1331);
      expect(data.movies.filter((m) => m.genreId === null).length).toBe(275);
    });

    test("include of two to-one relations matches a LEFT JOIN, a missing one being null", async () => {
      const movies = await storage.repository(Movie).findAll({ include: { director: true, genre: true }, orderBy: { id: "asc" } });
      const got = movies.map((m) => [m.id, m.director?.name ?? null, m.genre?.name ?? null, m.director === null, m.genre === null]);
      const expected = rows<{ id: number; d: string | null; g: string | null }>(
        "SELECT m.id, d.name AS d, g.name AS g FROM movies m LEFT JOIN directors d ON d.id = m.directorId LEFT JOIN genres g ON g.id = m.genreId ORDER BY m.id",
      ).map((r) => [r.id, r.d, r.g, r.d === null, r.g === null]);
      expect(got).toEqual(expected);
    });

    test("include of a to-many with orderBy and a limit per parent matches a window over the join", async () => {
      const directors = await storage.repository(Director).findAll({
        include: { movies: { orderBy: { imdbRating: "desc" }, limit: 3 } },
        orderBy: { id: "asc" },
      });
      const got = directors.map((d) => [d.id, d.movies!.map((m) => m.id)]);
      const top = rows<{ directorId: number; id: number }>(
        `SELECT directorId, id FROM (
           SELECT directorId, id, ROW_NUMBER() OVER (PARTITION BY directorId ORDER BY imdbRating IS NULL, imdbRating DESC, id) AS n
           FROM movies WHERE directorId IS NOT NULL) WHERE n <= 3 ORDER BY directorId, n`,
      );
      const expected = rows<{ id: number }>("SELECT id FROM directors ORDER BY id").map((d) => [d.id, top.filter((t) => t.directorId === d.id).map((t) => t.id)]);
      expect(got).toEqual(expected);
    });

    test("a nested include with a where per relation matches the same joins", async () => {
      const genres = await storage.repository(Genre).findAll({
        include: { movies: { where: { usGross: { $gt: 100_000_000 } }, include: { director: true } } },
        orderBy: { name: "asc" },
      });
      const got = genres.map((g) => [g.name, g.movies!.map((m) => [m.id, m.director?.name ?? null])]);
      const expected = rows<{ id: number; name: string }>("SELECT id, name FROM genres ORDER BY name").map((g) => [
        g.name,
        rows<{ id: number; d: string | null }>(
          "SELECT m.id, d.name AS d FROM movies m LEFT JOIN directors d ON d.id = m.directorId WHERE m.genreId = ? AND m.usGross > 100000000 ORDER BY m.id",
          g.id,
        ).map((r) => [r.id, r.d]),
      ]);
      expect(got).toEqual(expected);
      expect(genres.some((g) => g.movies!.length === 0)).toBe(true);
    });

    test("a to-one filter matches a join, and { relation: null } the rows without one", async () => {
      const movies = storage.repository(Movie);
      const spielberg = await movies.findAll({ where: { director: { name: { $like: "Steven%" } } }, orderBy: { id: "asc" } });
      expect(spielberg.map((m) => m.id)).toEqual(
        rows<{ id: number }>("SELECT m.id FROM movies m JOIN directors d ON d.id = m.directorId WHERE d.name LIKE 'Steven%' ORDER BY m.id").map((r) => r.id),
      );
      expect(spielberg.length).toBeGreaterThan(10);
      expect(await movies.count({ genre: null })).toBe(275);
      const westernsOrNoDirector = await movies.findAll({ where: [{ director: null }, { genre: { name: "Western" } }], orderBy: { id: "asc" } });
      expect(westernsOrNoDirector.map((m) => m.id)).toEqual(
        rows<{ id: number }>(
          "SELECT m.id FROM movies m LEFT JOIN genres g ON g.id = m.genreId WHERE m.directorId IS NULL OR g.name = 'Western' ORDER BY m.id",
        ).map((r) => r.id),
      );
    });

    test("$some, $none and $every over a to-many match EXISTS queries, nulls in the inner field included", async () => {
      const directors = storage.repository(Director);
      const ids = async (where: object): Promise<number[]> =>
        (await directors.findAll({ where: where as never, orderBy: { id: "asc" } })).map((d) => d.id);
      const column = (sql: string): number[] => rows<{ id: number }>(sql).map((r) => r.id);
      expect(await ids({ movies: { $some: { imdbRating: { $gte: 8 } } } })).toEqual(
        column("SELECT id FROM directors d WHERE EXISTS (SELECT 1 FROM movies m WHERE m.directorId = d.id AND m.imdbRating >= 8) ORDER BY id"),
      );
      expect(await ids({ movies: { $none: { genre: { name: "Drama" } } } })).toEqual(
        column(`SELECT id FROM directors d WHERE NOT EXISTS (SELECT 1 FROM movies m JOIN genres g ON g.id = m.genreId
                WHERE m.directorId = d.id AND g.name = 'Drama') ORDER BY id`),
      );
      // A movie without a rating fails "imdbRating >= 7", so its director is not "every >= 7".
      const every = await ids({ movies: { $every: { imdbRating: { $gte: 7 } } } });
      expect(every).toEqual(
        column("SELECT id FROM directors d WHERE NOT EXISTS (SELECT 1 FROM movies m WHERE m.directorId = d.id AND NOT COALESCE(m.imdbRating >= 7, 0)) ORDER BY id"),
      );
      expect(every.length).toBeGreaterThan(0);
      expect(await directors.count({ movies: { $some: { imdbRating: { $ne: 5 } } } })).toBe(
        rows<{ n: number }>("SELECT count(*) AS n FROM directors d WHERE EXISTS (SELECT 1 FROM movies m WHERE m.directorId = d.id AND (m.imdbRating IS NULL OR m.imdbRating <> 5))")[0]!.n,
      );
    });
  });
}
