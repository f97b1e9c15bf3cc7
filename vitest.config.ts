import { defineConfig } from 'vitest/config';

// Two projects: `unit` (pure code, seconds) and `e2e` (one real etcd + kube-apiserver shared by
// every e2e file through the global setup; each test works in its own namespace).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{cli,common,contract,webhook,sidecar,certs,test/unit,test/demo}/**/*.test.ts'],
          exclude: ['**/*.e2e.test.ts', 'node_modules/**', 'dist/**'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.e2e.test.ts'],
          globalSetup: ['test/harness/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Two cores: e2e files start real processes, run them one after the other.
          fileParallelism: false,
        },
      },
    ],
  },
});
