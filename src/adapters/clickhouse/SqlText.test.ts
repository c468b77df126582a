// The SQL text checks: statements split where ClickHouse would split them, and only one
// read-only statement passes as an analyst's query.
import { describe, expect, it } from "vitest"
import { SqlTextError, readOnlyStatement, splitStatements } from "./SqlText.js"

describe("splitStatements", () => {
  it("splits at top-level semicolons only, dropping comment-only pieces", () => {
    const sql = `-- header; not a statement
CREATE TABLE a (s String DEFAULT 'x;y') ENGINE = Memory;
/* block; comment */ CREATE TABLE "b;c" (n UInt8) ENGINE = Memory; -- trailing; comment
SELECT 'it''s; fine', \`q;\`, 'back\\\\'; SELECT 2`
    expect(splitStatements(sql)).toEqual([
      "CREATE TABLE a (s String DEFAULT 'x;y') ENGINE = Memory",
      `CREATE TABLE "b;c" (n UInt8) ENGINE = Memory`,
      "SELECT 'it''s; fine', `q;`, 'back\\\\'",
      "SELECT 2"
    ])
  })
  it("fails on an unterminated string or comment instead of guessing", () => {
    expect(() => splitStatements("SELECT 'oops")).toThrow(SqlTextError)
    expect(() => splitStatements("SELECT 1 /* never closed")).toThrow(SqlTextError)
  })
})

describe("readOnlyStatement", () => {
  it.each([
    ["SELECT 1", "SELECT 1"],
    ["  select count() from awards ;  ", "select count() from awards"],
    ["WITH 1 AS x SELECT x", "WITH 1 AS x SELECT x"],
    ["SHOW TABLES", "SHOW TABLES"],
    ["DESCRIBE TABLE awards", "DESCRIBE TABLE awards"],
    ["desc awards", "desc awards"],
    ["EXPLAIN SELECT 1", "EXPLAIN SELECT 1"],
    ["SELECT format('{};{}', 'a', 'b') -- a comment", "SELECT format('{};{}', 'a', 'b') -- a comment"],
    ["SELECT 'DROP TABLE x; INSERT INTO y'", "SELECT 'DROP TABLE x; INSERT INTO y'"]
  ])("accepts %j", (sql, want) => {
    expect(readOnlyStatement(sql)).toBe(want)
  })
  it.each([
    ["INSERT INTO awards VALUES (1)", /only SELECT/],
    ["  /* hi */ DELETE FROM awards WHERE 1", /only SELECT/],
    ["OPTIMIZE TABLE awards FINAL", /only SELECT/],
    ["SET readonly = 0", /only SELECT/],
    ["SELECT 1; SELECT 2", /one statement/],
    ["SELECT 1;;", /one statement/],
    ["SELECT 1 INTO   OUTFILE 'x'", /OUTFILE/],
    ["SELECT 1 FORMAT JSON", /FORMAT/],
    ["(SELECT 1)", /only SELECT/],
    ["   ", /empty/]
  ])("rejects %j", (sql, why) => {
    expect(() => readOnlyStatement(sql)).toThrow(why)
  })
})
