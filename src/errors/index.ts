export * from './codes.js';
export * from './hub-error.js';
