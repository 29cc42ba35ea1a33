/**
 * Questions about QEMU's introspected QMP schema (`query-qmp-schema`), asked
 * with the path syntax libvirt uses for its capability table, so one string
 * names one fact: `netdev_add/arg-type/+stream/reconnect`.
 *
 * A path starts with a command or event name; each further component steps
 * into the type reached so far:
 * - `name`: a member of an object, or `arg-type` / `ret-type` of a command;
 * - `*name`: a member that is optional (has a `default`);
 * - `+case`: a variant of a union object;
 * - `^value`: (last) the enum reached has this value; may be followed by
 *   `$feature` for a feature of that value;
 * - `!json-type`: (last) the builtin type reached is of this JSON type;
 * - `$feature`: (last) the object or command reached has this feature.
 * Arrays step to their element type; alternates try each member in turn.
 * A component that does not fit the type reached simply makes the path not
 * exist; a malformed schema does too, since QEMU's schema is data we read,
 * not code we trust.
 *
 * @module
 */

type SchemaEntry = Record<string, unknown>;

/** The schema indexed by entry name, as QEMU numbers its anonymous types. */
export class QapiSchema {
  readonly #entries = new Map<string, SchemaEntry>();

  constructor(reply: unknown) {
    if (!Array.isArray(reply)) return;
    for (const e of reply) {
      if (isRecord(e) && typeof e.name === 'string') this.#entries.set(e.name, e);
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Whether the path exists (see the module comment for the syntax). */
  has(path: string): boolean {
    const parts = path.split('/');
    const head = parts.shift();
    if (head === undefined || !this.#entries.has(head)) return false;
    return this.#walk(head, parts, 0) === true;
  }

  /** Names of the entries of one meta-type (`command`, `event`, ...), in schema order. */
  namesOf(metaType: string): string[] {
    const out: string[] = [];
    for (const [name, e] of this.#entries) if (e['meta-type'] === metaType) out.push(name);
    return out;
  }

  // Depth guards against a schema whose types refer to each other in a loop.
  #walk(typeName: string, rest: readonly string[], depth: number): boolean {
    if (depth > 1000) return false;
    const entry = this.#entries.get(typeName);
    if (!entry) return false;
    if (rest.length === 0) return true;
    switch (entry['meta-type']) {
      case 'object':
        return this.#object(entry, rest, depth);
      case 'array':
        return typeof entry['element-type'] === 'string'
          ? this.#walk(entry['element-type'], rest, depth + 1)
          : false;
      case 'command':
      case 'event':
        return this.#command(entry, rest, depth);
      case 'enum':
        return enumHas(entry, rest);
      case 'builtin':
        return (
          rest.length === 1 && rest[0]?.startsWith('!') === true && entry['json-type'] === rest[0].slice(1)
        );
      case 'alternate':
        for (const m of records(entry.members)) {
          if (typeof m.type === 'string' && this.#walk(m.type, rest, depth + 1)) return true;
        }
        return false;
      default:
        return false;
    }
  }

  #object(entry: SchemaEntry, rest: readonly string[], depth: number): boolean {
    const [query = '', ...more] = rest;
    const { modifier, name } = split(query);
    if (modifier === '^' || modifier === '!') return false;
    if (modifier === '$') return more.length === 0 && hasFeature(entry, name);
    let next: SchemaEntry | undefined;
    if (modifier === '+') next = records(entry.variants).find((v) => v.case === name);
    else {
      next = records(entry.members).find((m) => m.name === name);
      if (modifier === '*' && next && !('default' in next)) return false;
    }
    return next !== undefined && typeof next.type === 'string' && this.#walk(next.type, more, depth + 1);
  }

  #command(entry: SchemaEntry, rest: readonly string[], depth: number): boolean {
    const [query = '', ...more] = rest;
    const { modifier, name } = split(query);
    if (modifier === '$') return more.length === 0 && hasFeature(entry, name);
    if (modifier !== '') return false;
    const type = entry[name];
    return typeof type === 'string' && this.#walk(type, more, depth + 1);
  }
}

/** A leading non-letter is the component's modifier (a space escapes names that start with one). */
function split(query: string): { modifier: string; name: string } {
  const first = query.charAt(0);
  if (/[A-Za-z]/.test(first)) return { modifier: '', name: query };
  return { modifier: first === ' ' ? '' : first, name: query.slice(1) };
}

function enumHas(entry: SchemaEntry, rest: readonly string[]): boolean {
  const [query = '', feature, ...extra] = rest;
  if (!query.startsWith('^') || extra.length > 0) return false;
  if (feature !== undefined && !feature.startsWith('$')) return false;
  const value = query.slice(1);
  // QEMU 6.2 added `members` (with per-value features) beside the older plain `values`.
  if (Array.isArray(entry.members)) {
    const member = records(entry.members).find((m) => m.name === value);
    if (!member) return false;
    return feature === undefined || hasFeature(member, feature.slice(1));
  }
  if (feature !== undefined) return false;
  return Array.isArray(entry.values) && entry.values.includes(value);
}

function hasFeature(entry: SchemaEntry, feature: string): boolean {
  return Array.isArray(entry.features) && entry.features.includes(feature);
}

function records(v: unknown): SchemaEntry[] {
  return Array.isArray(v) ? v.filter(isRecord) : [];
}

function isRecord(v: unknown): v is SchemaEntry {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
