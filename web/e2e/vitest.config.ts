import { defineConfig } from 'vitest/config';

// The end-to-end test drives Debian's headless Chromium against a running system
// (`scripts/web-e2e` starts one). One file, steps in order.
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    reporters: ['verbose'],
  },
});
