// ESLint over the project's TypeScript: typescript-eslint's recommended rules; formatting is Prettier's
// (eslint-config-prettier turns off every rule that would disagree with it). `npm run lint` runs it with
// --max-warnings 0.
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "node_modules/",
      "dist/",
      "typechain-types/",
      "artifacts/",
      "cache/",
      "coverage/",
      "dapp/dist/",
      ".dapp/",
      ".gateway/",
      "**/*.js",
      "**/*.mjs",
      "**/*.cjs",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    files: ["**/*.ts", "**/*.mts"],
    rules: {
      // An unused argument named _x is deliberate (a callback's shape); anything else unused is a mistake.
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
      // A `let` that closures read before its one assignment (a logger that names the app it logs for).
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // Chai's property assertions (`expect(x).to.be.true`) are expressions by design.
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-unused-expressions": "off" },
  },
  {
    // The gas bench reads published npm artifacts and package versions (JSON) by require.
    files: ["bench/measure.ts"],
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
