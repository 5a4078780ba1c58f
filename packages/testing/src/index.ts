export { findBinary, MissingBinaryError, postgresBinDirs } from './binaries.js';
export { freePort } from './free-port.js';
export { deletePrefix, testPrefix } from './isolation.js';
export { RedisServer, type RedisServerOptions } from './redis-server.js';
