export { findBinary, MissingBinaryError, postgresBinDirs } from './binaries.js';
export { freePort, isPortFree } from './free-port.js';
export { deletePrefix, testPrefix } from './isolation.js';
export { PostgresServer, type PostgresServerOptions } from './postgres-server.js';
export { RedisCluster, type RedisClusterOptions } from './redis-cluster.js';
export { RedisServer, type RedisServerOptions } from './redis-server.js';
export { createTestDatabase, databaseUrl, dropTestDatabase, TEST_DATABASE_PREFIX, type TestDatabase } from './test-database.js';
export { isCi, requireDebianBinary } from './system-packages.js';
export { waitFor } from './wait-for.js';
export { createFakeJobContext, EnqueueRecorder, type FakeJobContext, type FakeJobContextOptions, type RecordedJob } from './job-context.js';
export { TEST_ENCRYPTION_KEYS, TEST_SIGNING_KEYS, TEST_TOKEN_KEYS } from './keys.js';
export {
  type JobOutcome,
  type ProcessExit,
  spawnWorkerApp,
  type SpawnWorkerAppOptions,
  WorkerAppHarness,
  type WorkerAppHarnessOptions,
  type WorkerAppProcess,
} from './worker-app.js';
export {
  benchKnob,
  leadBenchScale,
  loadAverages,
  maxInAnyWindow,
  startBenchServers,
  stopWorkerApps,
  type BenchServers,
  type BenchWorkerEnv,
  type LeadBenchScale,
} from './bench.js';
export { ancestorAmong, type KernelStampRelay, type KernelStampRelayOptions, type KernelStampReport, startKernelStampRelay } from './kernel-stamp-relay.js';
export { useAppTestBase, type AppTestBase, type AppTestBaseOptions, type AppWorkerOptions } from './app-harness.js';
