export * from './access.js';
export * from './errors.js';
export * from './events.js';
export * from './free-busy.js';
export * from './google.js';
export * from './graph.js';
