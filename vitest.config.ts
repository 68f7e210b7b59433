import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Tests assert on logs through loggers of their own; the library default must not spam the output.
    env: { TROUPE_LOG_LEVEL: 'silent' },
    // The JSON report gives .ci/run the suite's own counts for its closing line.
    reporters: ['default', 'json'],
    outputFile: { json: '.tmp/vitest.json' },
  },
});
