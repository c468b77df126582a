import { defineConfig } from "vitest/config"

// Two projects: `unit` (pure, next to the code as X.test.ts) and `integration`
// (test/**: real NATS JetStream, Postgres, ClickHouse, uWS, Chromium).
export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["src/**/*.test.ts"], environment: "node" } },
      {
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          globalSetup: ["test/support/globalSetup.ts"],
          environment: "node",
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
          pool: "forks"
        }
      }
    ]
  }
})
