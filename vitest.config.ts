import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // The JSON report gives .ci/run the suite's own counts for its closing line.
    reporters: ['default', 'json'],
    outputFile: { json: '.tmp/vitest.json' },
  },
});
