// Lint: typescript-eslint's recommended rules, today's style (@stylistic), one file-naming rule and
// the house's import boundaries (README "Architecture"). `npm run lint` runs it.
import js from "@eslint/js"
import stylistic from "@stylistic/eslint-plugin"
import checkFile from "eslint-plugin-check-file"
import importX from "eslint-plugin-import-x"
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript"
import tseslint from "typescript-eslint"

/** Everything in src/ except these rooms may not be imported from `target`. */
const only = (target, allowed, message) => ({ target: `./src/${target}`, from: "./src", except: allowed.map((a) => `./${a}`), message })

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "bench/**", "src/gateway/pages/**", "**/*.mjs", "**/*.js"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    plugins: { "@stylistic": stylistic, "import-x": importX, "check-file": checkFile },
    settings: { "import-x/resolver-next": [createTypeScriptImportResolver({ project: "./tsconfig.json" })] },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/consistent-type-imports": ["error", { prefer: "type-imports", fixStyle: "separate-type-imports", disallowTypeAnnotations: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      "@stylistic/semi": ["error", "never"],
      "@stylistic/quotes": ["error", "double", { avoidEscape: true, allowTemplateLiterals: "always" }],
      "@stylistic/comma-dangle": ["error", "never"],
      "@stylistic/indent": ["error", 2, { SwitchCase: 1, flatTernaryExpressions: true, offsetTernaryExpressions: false, ignoredNodes: ["ConditionalExpression"] }],
      "@stylistic/no-trailing-spaces": "error",
      "@stylistic/eol-last": "error",
      "@stylistic/no-multiple-empty-lines": ["error", { max: 2, maxEOF: 0 }],
      // Validators here look for control characters on purpose (U+0000 in text, header injection).
      "no-control-regex": "off"
    }
  },
  {
    // The house: every room points inward to ports/ and domain/; only the wiring (App.ts, main.ts,
    // cli/) knows every room. Tests may assemble rooms (they prove the pieces fit).
    files: ["src/**/*.ts"],
    ignores: ["src/**/*.test.ts"],
    rules: {
      "import-x/no-restricted-paths": ["error", {
        zones: [
          only("domain", ["domain"], "the domain is pure: it imports only effect and other domain modules"),
          only("ports", ["ports", "domain"], "ports are contracts: they import only the domain and other ports"),
          only("observability", ["observability", "ports", "domain"], "observability imports only ports and the domain"),
          only("actors", ["actors", "domain", "ports", "observability"], "actors import domain, ports and observability only — never an adapter, the gateway or a job"),
          only("jobs", ["jobs", "domain", "ports", "observability"], "jobs import domain, ports and observability only (their wiring is in cli/)"),
          { target: "./src/adapters", from: ["./src/actors", "./src/gateway", "./src/jobs", "./src/cli", "./src/App.ts", "./src/main.ts"], message: "adapters implement ports: they never import actors, the gateway, jobs or the wiring" },
          { target: "./src/gateway", from: ["./src/adapters", "./src/actors", "./src/jobs", "./src/cli", "./src/App.ts", "./src/main.ts"], message: "the gateway talks to the core through ports only: never adapters, actors, jobs or the wiring" },
          { target: "./src/Config.ts", from: "./src", message: "Config.ts decodes the environment and imports nothing of Arena" }
        ]
      }],
      // The domain's only package is effect (the zones above keep it inside src/domain).
      "no-restricted-imports": "off"
    }
  },
  {
    files: ["src/domain/**/*.ts", "src/ports/**/*.ts"],
    ignores: ["src/**/*.test.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: [{ regex: "^(?!effect$|effect/|\\.)", message: "the domain and the ports import only effect (and each other)" }] }]
    }
  },
  {
    // File names (README "Contributing"): modules are PascalCase, named after what they own;
    // what is run or mounted is camelCase: entry points, CLI commands, route tables.
    files: ["src/**/*.ts"],
    ignores: ["src/main.ts", "src/cli/*Command.ts", "src/gateway/routes/*.ts", "src/gateway/threads/wsWorker.ts"],
    rules: { "check-file/filename-naming-convention": ["error", { "src/**/*.ts": "PASCAL_CASE" }, { ignoreMiddleExtensions: true }] }
  },
  {
    files: ["src/cli/*Command.ts", "src/gateway/routes/*.ts"],
    rules: { "check-file/filename-naming-convention": ["error", { "src/**/*.ts": "CAMEL_CASE" }, { ignoreMiddleExtensions: true }] }
  }
)
