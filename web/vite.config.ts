/// <reference types="vitest/config" />
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// In development the services are reached directly; behind the gateway the same relative paths
// reach them there (REST `/applications…`, gRPC-Web by service path, `/reports…` and `/ws`).
const application = process.env.APPLICATION_HTTP_URL ?? 'http://127.0.0.1:8080';
const applicationGrpc = process.env.APPLICATION_GRPC_URL ?? 'http://127.0.0.1:50051';
const processGrpc = process.env.PROCESS_GRPC_URL ?? 'http://127.0.0.1:50052';
const reports = process.env.REPORT_HTTP_URL ?? 'http://127.0.0.1:8082';

export default defineConfig({
  base: '/app/',
  plugins: [react()],
  server: {
    host: '127.0.0.1',
    port: 5173,
    strictPort: true,
    proxy: {
      '^/applications\\.v1\\.': { target: applicationGrpc },
      '^/process\\.v1\\.': { target: processGrpc },
      '^/applications($|[/?])': { target: application },
      '^/reports($|[/?])': { target: reports },
      '/ws': { target: reports, ws: true },
    },
  },
  build: {
    sourcemap: false,
    chunkSizeWarningLimit: 1200,
    rollupOptions: {
      output: {
        manualChunks: {
          react: ['react', 'react-dom', 'react-router'],
          mantine: ['@mantine/core', '@mantine/hooks', '@mantine/notifications'],
        },
      },
      onwarn(warning, warn) {
        // zod's comments about its own tree-shaking, which Rollup only reports and drops.
        if (warning.code === 'INVALID_ANNOTATION' && warning.id?.includes('/node_modules/zod/')) {
          return;
        }
        warn(warning);
      },
    },
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    css: false,
    // Typing through user-event in jsdom is slow on a busy machine.
    testTimeout: 20_000,
  },
});
