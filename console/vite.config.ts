// The console is built into console/dist and embedded in the angzarr binary
// (coordinators/src/console/assets.rs), which serves it at /ui. The output is
// committed, so the build must be byte-for-byte reproducible: console/run-tests
// rebuilds it and fails when it differs from the committed files.
import { defineConfig } from 'vitest/config';

declare const process: { env: Record<string, string | undefined> };

// Where `npm run dev` sends the API calls: a running angzarr (its HTTP
// listener) or the fake server (`npm run fake`, port 1399).
const api = process.env.ANGZARR_HTTP ?? 'http://127.0.0.1:1399';

export default defineConfig({
  base: '/ui/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // One small script and one stylesheet: nothing to split.
    assetsInlineLimit: 0,
    modulePreload: false,
    sourcemap: false,
    target: 'es2022',
    reportCompressedSize: true,
  },
  server: {
    proxy: {
      '/v1': { target: api, changeOrigin: false },
      '/healthz': api,
      '/readyz': api,
      '/metrics': api,
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
  },
});
