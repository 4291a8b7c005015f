// The JavaScript's lint (`make lint` runs it): eslint's recommended rules, the browser's globals, ES modules.
// Pages load static/js/*.js as modules; outbox.js and sw.js are plain scripts (the worker loads them with
// importScripts), so they are linted as scripts with the worker's globals.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/", ".venv/", "instance/", "build/", "dist/"] },
  js.configs.recommended,
  {
    // `const { id, status, ...kept } = entry` is how a copy leaves fields out
    rules: { "no-unused-vars": ["error", { ignoreRestSiblings: true }] },
  },
  {
    files: ["static/js/**/*.js"],
    languageOptions: { ecmaVersion: 2024, sourceType: "module", globals: { ...globals.browser } },
  },
  {
    files: ["static/js/outbox.js"],
    languageOptions: { sourceType: "script", globals: { ...globals.browser, ...globals.worker } },
  },
  {
    files: ["static/sw.js"],
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: "script",
      globals: { ...globals.serviceworker },
    },
  },
  {
    files: ["eslint.config.js"],
    languageOptions: { sourceType: "module", globals: { ...globals.node } },
  },
];
