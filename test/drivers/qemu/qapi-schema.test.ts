import { describe, expect, it } from 'vitest';
import { QapiSchema } from '../../../src/drivers/qemu/probe/qapi-schema.js';

/**
 * A hand-made schema in QEMU's introspection shape (anonymous types are
 * numbered strings), small enough to read: one command with a union
 * argument, an enum in both spellings QEMU has used, a builtin, an array,
 * an alternate and a type that refers to itself.
 */
const schema = new QapiSchema([
  { name: 'netdev_add', 'meta-type': 'command', 'arg-type': '10', 'ret-type': '0' },
  {
    name: 'query-things',
    'meta-type': 'command',
    'arg-type': '0',
    'ret-type': '[20]',
    features: ['unstable'],
  },
  { name: 'THING_HAPPENED', 'meta-type': 'event', 'arg-type': '20' },
  { name: 'set-mode', 'meta-type': 'command', 'arg-type': '30', 'ret-type': '0' },
  { name: 'loop', 'meta-type': 'command', 'arg-type': '40', 'ret-type': '0' },
  { name: '0', 'meta-type': 'object', members: [] },
  {
    name: '10',
    'meta-type': 'object',
    members: [
      { name: 'id', type: 'str' },
      { name: 'type', type: '11' },
    ],
    tag: 'type',
    variants: [
      { case: 'user', type: '12' },
      { case: 'stream', type: '13' },
    ],
  },
  // QEMU >= 6.2 spells enum values as members, which may carry features
  {
    name: '11',
    'meta-type': 'enum',
    members: [{ name: 'user' }, { name: 'stream', features: ['unstable'] }],
  },
  { name: '12', 'meta-type': 'object', members: [{ name: 'hostname', type: 'str', default: null }] },
  {
    name: '13',
    'meta-type': 'object',
    members: [{ name: 'reconnect', type: 'int' }],
    features: ['deprecated'],
  },
  { name: '[20]', 'meta-type': 'array', 'element-type': '20' },
  { name: '20', 'meta-type': 'object', members: [{ name: 'size', type: 'int' }] },
  { name: '30', 'meta-type': 'object', members: [{ name: 'mode', type: '31' }] },
  // older QEMU: plain values
  { name: '31', 'meta-type': 'alternate', members: [{ type: 'str' }, { type: '32' }] },
  { name: '32', 'meta-type': 'enum', values: ['fast', 'slow'] },
  { name: '40', 'meta-type': 'object', members: [{ name: 'self', type: '40' }] },
  { name: 'str', 'meta-type': 'builtin', 'json-type': 'string' },
  { name: 'int', 'meta-type': 'builtin', 'json-type': 'int' },
]);

describe('QMP schema paths', () => {
  it('finds commands and events by name, and nothing else at the top', () => {
    expect(schema.has('netdev_add')).toBe(true);
    expect(schema.has('THING_HAPPENED')).toBe(true);
    expect(schema.has('blockdev-add')).toBe(false);
    expect(schema.namesOf('command')).toEqual(['netdev_add', 'query-things', 'set-mode', 'loop']);
  });

  it('steps through arguments, members, union variants and arrays', () => {
    expect(schema.has('netdev_add/arg-type/id')).toBe(true);
    expect(schema.has('netdev_add/arg-type/+stream/reconnect')).toBe(true);
    expect(schema.has('netdev_add/arg-type/+user/reconnect')).toBe(false);
    expect(schema.has('netdev_add/arg-type/+vhost-vdpa')).toBe(false);
    expect(schema.has('query-things/ret-type/size')).toBe(true); // the array is flattened
    expect(schema.has('THING_HAPPENED/arg-type/size')).toBe(true);
  });

  it("'*' asks for an optional member", () => {
    expect(schema.has('netdev_add/arg-type/+user/*hostname')).toBe(true);
    expect(schema.has('netdev_add/arg-type/*id')).toBe(false);
  });

  it("'^' asks for an enum value, in both spellings, with '$' for a value's feature", () => {
    expect(schema.has('netdev_add/arg-type/type/^stream')).toBe(true);
    expect(schema.has('netdev_add/arg-type/type/^dgram')).toBe(false);
    expect(schema.has('netdev_add/arg-type/type/^stream/$unstable')).toBe(true);
    expect(schema.has('netdev_add/arg-type/type/^user/$unstable')).toBe(false);
    // through an alternate, to an old-style enum (which has no value features)
    expect(schema.has('set-mode/arg-type/mode/^slow')).toBe(true);
    expect(schema.has('set-mode/arg-type/mode/^slow/$unstable')).toBe(false);
  });

  it("'!' asks for a builtin's JSON type and '$' for a command's or object's feature", () => {
    expect(schema.has('netdev_add/arg-type/id/!string')).toBe(true);
    expect(schema.has('netdev_add/arg-type/id/!int')).toBe(false);
    expect(schema.has('query-things/$unstable')).toBe(true);
    expect(schema.has('netdev_add/$unstable')).toBe(false);
    expect(schema.has('netdev_add/arg-type/+stream/$deprecated')).toBe(true);
  });

  it('a component that does not fit, or one after a terminal, makes the path not exist', () => {
    expect(schema.has('netdev_add/arg-type/^user')).toBe(false); // an object has no values
    expect(schema.has('query-things/$unstable/more')).toBe(false);
    expect(schema.has('netdev_add/nonsense')).toBe(false);
  });

  it('survives a type that contains itself, and a schema that is not a list', () => {
    expect(schema.has(`loop/arg-type/${'self/'.repeat(1500)}self`)).toBe(false);
    expect(schema.has('loop/arg-type/self/self')).toBe(true);
    expect(new QapiSchema({ not: 'a list' }).has('netdev_add')).toBe(false);
  });
});
