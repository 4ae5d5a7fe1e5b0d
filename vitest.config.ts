import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tamper and property tests run thousands of crypto operations; give them room on
    // a shared 2-core machine instead of loosening what they check.
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
