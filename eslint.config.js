// ESLint over the browser code (`make js-lint`): the recommended rules, browser and ES module globals.
// static/vendor/ is third-party code copied by `make vendor`, linted by its authors; static/onboarding/build/
// is esbuild's output (`make bundle`), made of the modules linted here; templates/ holds Django templates
// (the service worker's has {{ }} where ESLint expects JavaScript).
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["static/vendor/**", "static/onboarding/build/**", "templates/**", "node_modules/**", "staticfiles/**"] },
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
    files: ["tests/js/**/*.js", "eslint.config.js", "bundle.js"],
    languageOptions: { ecmaVersion: "latest", sourceType: "module", globals: { ...globals.node } },
  },
];
