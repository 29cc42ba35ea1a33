/**
 * `virtkit/internal`: everything `virtkit/conf` has plus the XML binding it
 * is built on (the `*Mapper` tables, the value codecs `str`, `int`, ...,
 * the parse-time normalisers). For tools that extend the models; these
 * names may change in any release, unlike `virtkit/conf`'s.
 *
 * @module
 */
export * from './binding.js';
export * from './capabilities.js';
export * from './cpu.js';
export * from './cpu-data.js';
export * from './domain/index.js';
export * from './domaincaps.js';
export * from './network/index.js';
export * from './nodedev/index.js';
export * from './secret.js';
export * from './storage/index.js';
export * from './units.js';
