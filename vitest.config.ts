import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // QEMU tests start real processes; give them room without hiding real hangs.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    allowOnly: false,
    // validate()'s libxml2-wasm loader is generated, not committed (scripts/gen-libxml2-loader.ts)
    globalSetup: ['scripts/gen-libxml2-loader.ts'],
  },
});
