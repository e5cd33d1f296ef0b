// Runs before the Playwright journeys (npm run test:e2e): they drive a system Chromium
// (CHROMIUM_PATH, default /usr/bin/chromium, as playwright.config.ts says). When it is missing, say
// exactly what to install instead of failing deep inside Playwright with a launch error.
import { accessSync, constants } from 'node:fs';

const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
try {
  accessSync(path, constants.X_OK);
} catch {
  process.stderr.write(
    `The end-to-end tests need Chromium at ${path}, which is missing.\n` +
      `  Debian/Ubuntu:  sudo apt-get update && sudo apt-get install -y chromium\n` +
      `  Elsewhere:      npx playwright install chromium, then CHROMIUM_PATH=<path to its chrome binary> npm test\n` +
      `  (or set CHROMIUM_PATH to any Chromium/Chrome binary you have)\n`,
  );
  process.exit(1);
}
