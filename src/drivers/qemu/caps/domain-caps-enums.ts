/**
 * The shapes most of domain capabilities is made of: `supported` plus
 * `<enum>` value lists, each value offered only when its test holds.
 *
 * @module
 */
import type { DomainCapsEnum, DomainCapsSupport } from '../../../conf/domaincaps.js';

export function pick(entries: Array<[string, boolean]>): string[] {
  return entries.filter(([, ok]) => ok).map(([v]) => v);
}

export function enums(map: Record<string, string[]>): DomainCapsEnum[] {
  return Object.entries(map).map(([name, values]) => ({ name, values }));
}

export function enumsField(map: Record<string, string[]>): { enums: DomainCapsEnum[] } {
  return { enums: enums(map) };
}

export function support(supported: boolean, map: Record<string, string[]>): DomainCapsSupport {
  return supported ? { supported, enums: enums(map) } : { supported };
}
