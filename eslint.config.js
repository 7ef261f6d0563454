// ESLint over the browser code (`make js-lint`): the recommended rules, browser and ES module globals.
// static/vendor/ is third-party code copied by `make vendor`, linted by its authors.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["static/vendor/**", "node_modules/**", "staticfiles/**"] },
  js.configs.recommended,
  {
    files: ["static/onboarding/**/*.js"],
    languageOptions: {
      ecmaVersion: "latest",
      sourceType: "module",
      globals: { ...globals.browser },
    },
  },
  {
    files: ["tests/js/**/*.js", "eslint.config.js"],
    languageOptions: { ecmaVersion: "latest", sourceType: "module", globals: { ...globals.node } },
  },
];
