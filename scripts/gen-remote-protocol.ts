/**
 * Generates the typed XDR codecs of libvirt's RPC programs from their
 * rpcgen-language definitions (`../shared/libvirt-protocol/*.x`) into
 * `src/drivers/remote/gen/`.
 *
 * A small lexer + recursive-descent parser covers the part of the XDR
 * language libvirt uses (const, enum, typedef, struct, union, fixed and
 * variable arrays, optional data, string, opaque); an emitter writes, per
 * type, a TypeScript type with `encX(w, v)` / `decX(r)` functions, and per
 * program a table of procedures with their argument/return/message codecs.
 *
 * Usage: `npm run gen:remote` (or `npx tsx scripts/gen-remote-protocol.ts [DIR]`).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The protocol files, in dependency order, and the module each becomes. */
export const PROTOCOL_FILES = [
  { source: 'virnetprotocol.x', module: 'virnet-protocol' },
  { source: 'virkeepaliveprotocol.x', module: 'keepalive-protocol' },
  { source: 'remote_protocol.x', module: 'remote-protocol' },
  { source: 'qemu_protocol.x', module: 'qemu-protocol' },
] as const;

/**
 * Constants the .x files use but take from libvirt's C headers (facts from
 * include/libvirt/libvirt-host.h and libvirt-common.h).
 */
const EXTERNAL_CONSTANTS: Record<string, number> = {
  VIR_UUID_BUFLEN: 16,
  VIR_SECURITY_MODEL_BUFLEN: 257,
  VIR_SECURITY_LABEL_BUFLEN: 4097,
  VIR_SECURITY_DOI_BUFLEN: 257,
  VIR_TYPED_PARAM_INT: 1,
  VIR_TYPED_PARAM_UINT: 2,
  VIR_TYPED_PARAM_LLONG: 3,
  VIR_TYPED_PARAM_ULLONG: 4,
  VIR_TYPED_PARAM_DOUBLE: 5,
  VIR_TYPED_PARAM_BOOLEAN: 6,
  VIR_TYPED_PARAM_STRING: 7,
};

// ---------------------------------------------------------------- lexer

interface Token {
  readonly text: string;
  readonly line: number;
}

function tokenize(src: string, file: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  const n = src.length;
  let atLineStart = true;
  while (i < n) {
    const c = src[i]!;
    if (c === '\n') {
      line++;
      i++;
      atLineStart = true;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    // "%..." lines are passed verbatim to C by rpcgen: nothing for us.
    if (c === '%' && atLineStart) {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    atLineStart = false;
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) throw new Error(`${file}:${line}: unterminated comment`);
      for (let k = i; k < end; k++) if (src[k] === '\n') line++;
      i = end + 2;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    const word = /^(?:0[xX][0-9a-fA-F]+|-?[0-9]+|[A-Za-z_][A-Za-z0-9_]*)/.exec(src.slice(i, i + 200));
    if (word) {
      tokens.push({ text: word[0], line });
      i += word[0].length;
      continue;
    }
    if ('{}()[]<>;,=:*'.includes(c)) {
      tokens.push({ text: c, line });
      i++;
      continue;
    }
    throw new Error(`${file}:${line}: unexpected character '${c}'`);
  }
  return tokens;
}

// ---------------------------------------------------------------- AST

type Primitive = 'int' | 'uint' | 'hyper' | 'uhyper' | 'bool' | 'float' | 'double';

type TypeSpec =
  | { readonly kind: 'prim'; readonly prim: Primitive }
  | { readonly kind: 'named'; readonly name: string }
  | { readonly kind: 'string' }
  | { readonly kind: 'opaque' };

type Decl =
  | { readonly kind: 'void' }
  | {
      readonly kind: 'field';
      readonly name: string;
      readonly type: TypeSpec;
      /** plain value, fixed array `[n]`, variable array `<n>`, optional `*`. */
      readonly form: 'plain' | 'fixed' | 'var' | 'optional';
      readonly size: string | undefined;
    };

type Definition =
  | { readonly kind: 'const'; readonly name: string; readonly value: string }
  | {
      readonly kind: 'enum';
      readonly name: string;
      readonly members: ReadonlyArray<{ name: string; value: string }>;
    }
  | { readonly kind: 'typedef'; readonly name: string; readonly decl: Decl & { kind: 'field' } }
  | {
      readonly kind: 'struct';
      readonly name: string;
      readonly fields: ReadonlyArray<Decl & { kind: 'field' }>;
    }
  | {
      readonly kind: 'union';
      readonly name: string;
      readonly discriminant: Decl & { kind: 'field' };
      readonly arms: ReadonlyArray<{ values: string[]; decl: Decl }>;
      readonly defaultArm: Decl | undefined;
    };

// ---------------------------------------------------------------- parser

class Parser {
  #pos = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly file: string,
  ) {}

  #peek(offset = 0): string | undefined {
    return this.tokens[this.#pos + offset]?.text;
  }

  #next(): string {
    const t = this.tokens[this.#pos++];
    if (!t) throw new Error(`${this.file}: unexpected end of input`);
    return t.text;
  }

  #fail(msg: string): never {
    const t = this.tokens[Math.min(this.#pos, this.tokens.length - 1)];
    throw new Error(`${this.file}:${t?.line ?? 0}: ${msg}`);
  }

  #expect(text: string): void {
    const got = this.#next();
    if (got !== text) {
      this.#pos--;
      this.#fail(`expected '${text}', found '${got}'`);
    }
  }

  #ident(): string {
    const t = this.#next();
    if (!/^[A-Za-z_]/.test(t)) {
      this.#pos--;
      this.#fail(`expected an identifier, found '${t}'`);
    }
    return t;
  }

  #value(): string {
    const t = this.#next();
    if (!/^(?:0[xX][0-9a-fA-F]+|-?[0-9]+|[A-Za-z_][A-Za-z0-9_]*)$/.test(t)) {
      this.#pos--;
      this.#fail(`expected a constant, found '${t}'`);
    }
    return t;
  }

  parse(): Definition[] {
    const defs: Definition[] = [];
    while (this.#pos < this.tokens.length) defs.push(this.#definition());
    return defs;
  }

  #definition(): Definition {
    const kw = this.#next();
    switch (kw) {
      case 'const': {
        const name = this.#ident();
        this.#expect('=');
        const value = this.#value();
        this.#expect(';');
        return { kind: 'const', name, value };
      }
      case 'enum': {
        const name = this.#ident();
        const members = this.#enumBody();
        this.#expect(';');
        return { kind: 'enum', name, members };
      }
      case 'typedef': {
        const decl = this.#declaration();
        if (decl.kind !== 'field') this.#fail('typedef of void');
        this.#expect(';');
        return { kind: 'typedef', name: decl.name, decl };
      }
      case 'struct': {
        const name = this.#ident();
        this.#expect('{');
        const fields: Array<Decl & { kind: 'field' }> = [];
        while (this.#peek() !== '}') {
          const d = this.#declaration();
          if (d.kind !== 'field') this.#fail('void member in struct');
          fields.push(d);
          this.#expect(';');
        }
        this.#expect('}');
        this.#expect(';');
        return { kind: 'struct', name, fields };
      }
      case 'union': {
        const name = this.#ident();
        this.#expect('switch');
        this.#expect('(');
        const discriminant = this.#declaration();
        if (discriminant.kind !== 'field') this.#fail('void discriminant');
        this.#expect(')');
        this.#expect('{');
        const arms: Array<{ values: string[]; decl: Decl }> = [];
        let defaultArm: Decl | undefined;
        while (this.#peek() !== '}') {
          if (this.#peek() === 'default') {
            this.#next();
            this.#expect(':');
            defaultArm = this.#declaration();
            this.#expect(';');
            continue;
          }
          const values: string[] = [];
          while (this.#peek() === 'case') {
            this.#next();
            values.push(this.#value());
            this.#expect(':');
          }
          if (values.length === 0) this.#fail(`expected 'case' or 'default' in union ${name}`);
          const decl = this.#declaration();
          this.#expect(';');
          arms.push({ values, decl });
        }
        this.#expect('}');
        this.#expect(';');
        return { kind: 'union', name, discriminant, arms, defaultArm };
      }
      default:
        this.#pos--;
        return this.#fail(`unexpected '${kw}' at top level`);
    }
  }

  #enumBody(): Array<{ name: string; value: string }> {
    this.#expect('{');
    const members: Array<{ name: string; value: string }> = [];
    let implicit = 0;
    while (this.#peek() !== '}') {
      const name = this.#ident();
      let value: string;
      if (this.#peek() === '=') {
        this.#next();
        value = this.#value();
      } else {
        value = String(implicit);
      }
      members.push({ name, value });
      implicit = /^-?\d+$/.test(value) ? Number(value) + 1 : implicit + 1;
      if (this.#peek() === ',') this.#next();
      else break;
    }
    this.#expect('}');
    return members;
  }

  #typeSpec(): TypeSpec {
    const t = this.#next();
    switch (t) {
      case 'unsigned': {
        const after = this.#peek();
        if (after === 'int' || after === 'char' || after === 'short' || after === 'long') {
          this.#next();
          return { kind: 'prim', prim: 'uint' };
        }
        if (after === 'hyper') {
          this.#next();
          return { kind: 'prim', prim: 'uhyper' };
        }
        return { kind: 'prim', prim: 'uint' };
      }
      // rpcgen encodes char and short as full 4-byte XDR ints.
      case 'int':
      case 'char':
      case 'short':
      case 'long':
        return { kind: 'prim', prim: 'int' };
      case 'hyper':
        return { kind: 'prim', prim: 'hyper' };
      case 'bool':
        return { kind: 'prim', prim: 'bool' };
      case 'float':
        return { kind: 'prim', prim: 'float' };
      case 'double':
        return { kind: 'prim', prim: 'double' };
      case 'string':
        return { kind: 'string' };
      case 'opaque':
        return { kind: 'opaque' };
      case 'struct':
      case 'enum':
      case 'union':
        return { kind: 'named', name: this.#ident() };
      default:
        this.#pos--;
        return { kind: 'named', name: this.#ident() };
    }
  }

  #declaration(): Decl {
    if (this.#peek() === 'void') {
      this.#next();
      return { kind: 'void' };
    }
    const type = this.#typeSpec();
    if (this.#peek() === '*') {
      this.#next();
      return { kind: 'field', name: this.#ident(), type, form: 'optional', size: undefined };
    }
    const name = this.#ident();
    const open = this.#peek();
    if (open === '[') {
      this.#next();
      const size = this.#value();
      this.#expect(']');
      return { kind: 'field', name, type, form: 'fixed', size };
    }
    if (open === '<') {
      this.#next();
      let size: string | undefined;
      if (this.#peek() !== '>') size = this.#value();
      this.#expect('>');
      return { kind: 'field', name, type, form: 'var', size };
    }
    if (type.kind === 'string' || type.kind === 'opaque')
      this.#fail(`${type.kind} '${name}' needs [n] or <n>`);
    return { kind: 'field', name, type, form: 'plain', size: undefined };
  }
}

/** Parses one .x file. Exported for tests. */
export function parseXdr(src: string, file = 'input.x'): Definition[] {
  return new Parser(tokenize(src, file), file).parse();
}

// ---------------------------------------------------------------- emitter

const UNBOUNDED = 0xffffffff;

interface Symbol {
  readonly def: Definition;
  readonly module: string;
}

function pascal(name: string): string {
  return name
    .split('_')
    .filter((p) => p !== '')
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('');
}

const PRIM_TS: Record<Primitive, string> = {
  int: 'number',
  uint: 'number',
  hyper: 'bigint',
  uhyper: 'bigint',
  bool: 'boolean',
  float: 'number',
  double: 'number',
};

class Emitter {
  readonly types = new Map<string, Symbol>();
  readonly constants = new Map<string, { value: number; module: string }>();

  constructor(files: ReadonlyArray<{ module: string; defs: Definition[] }>) {
    for (const [k, v] of Object.entries(EXTERNAL_CONSTANTS)) this.constants.set(k, { value: v, module: '' });
    for (const f of files) {
      for (const def of f.defs) {
        if (def.kind === 'const') {
          this.constants.set(def.name, { value: this.resolve(def.value), module: f.module });
        } else {
          if (this.types.has(def.name)) throw new Error(`duplicate type ${def.name}`);
          this.types.set(def.name, { def, module: f.module });
          if (def.kind === 'enum') {
            for (const m of def.members) {
              this.constants.set(m.name, { value: this.resolve(m.value), module: f.module });
            }
          }
        }
      }
    }
  }

  resolve(value: string): number {
    if (/^0[xX]/.test(value)) return Number.parseInt(value.slice(2), 16);
    if (/^-?\d+$/.test(value)) return Number(value);
    const c = this.constants.get(value);
    if (!c) throw new Error(`unknown constant ${value}`);
    return c.value;
  }

  #named(name: string): Symbol {
    const s = this.types.get(name);
    if (!s) throw new Error(`unknown type ${name}`);
    return s;
  }

  #isEnum(name: string): boolean {
    return this.#named(name).def.kind === 'enum';
  }

  /** The TS type of one element (before arrays/optionals). */
  #elemTs(t: TypeSpec, uses: Set<string>): string {
    switch (t.kind) {
      case 'prim':
        return PRIM_TS[t.prim];
      case 'string':
        return 'string';
      case 'opaque':
        return 'Uint8Array';
      case 'named':
        if (this.#isEnum(t.name)) return 'number';
        uses.add(t.name);
        return pascal(t.name);
    }
  }

  tsType(d: Decl & { kind: 'field' }, uses: Set<string>): string {
    const elem = this.#elemTs(d.type, uses);
    if (d.type.kind === 'string' || d.type.kind === 'opaque') return elem;
    switch (d.form) {
      case 'plain':
        return elem;
      case 'optional':
        return `${elem} | null`;
      default:
        return `${elem}[]`;
    }
  }

  #elemEnc(t: TypeSpec, uses: Set<string>, imports: Set<string>): string {
    if (t.kind === 'prim') {
      const fn = `enc${pascal(t.prim)}`;
      imports.add(fn);
      return fn;
    }
    if (t.kind === 'named') {
      if (this.#isEnum(t.name)) {
        imports.add('encInt');
        return 'encInt';
      }
      uses.add(t.name);
      return `enc${pascal(t.name)}`;
    }
    throw new Error(`no element encoder for ${t.kind}`);
  }

  #elemDec(t: TypeSpec, uses: Set<string>, imports: Set<string>): string {
    if (t.kind === 'prim') {
      const fn = `dec${pascal(t.prim)}`;
      imports.add(fn);
      return fn;
    }
    if (t.kind === 'named') {
      if (this.#isEnum(t.name)) {
        imports.add('decInt');
        return 'decInt';
      }
      uses.add(t.name);
      return `dec${pascal(t.name)}`;
    }
    throw new Error(`no element decoder for ${t.kind}`);
  }

  #size(d: Decl & { kind: 'field' }): number {
    return d.size === undefined ? UNBOUNDED : this.resolve(d.size);
  }

  encStmt(d: Decl & { kind: 'field' }, v: string, uses: Set<string>, imports: Set<string>): string {
    const t = d.type;
    if (t.kind === 'string') return `w.string(${v}, ${this.#size(d)});`;
    if (t.kind === 'opaque') {
      return d.form === 'fixed'
        ? `w.fixedOpaque(${v}, ${this.#size(d)});`
        : `w.opaque(${v}, ${this.#size(d)});`;
    }
    switch (d.form) {
      case 'plain':
        if (t.kind === 'prim') return `w.${t.prim}(${v});`;
        if (this.#isEnum(t.name)) return `w.int(${v});`;
        uses.add(t.name);
        return `enc${pascal(t.name)}(w, ${v});`;
      case 'optional':
        return `w.optional(${v}, ${this.#elemEnc(t, uses, imports)});`;
      case 'fixed':
        return `w.fixedArray(${v}, ${this.#size(d)}, ${this.#elemEnc(t, uses, imports)});`;
      case 'var':
        return `w.array(${v}, ${this.#size(d)}, ${this.#elemEnc(t, uses, imports)});`;
    }
  }

  decExpr(d: Decl & { kind: 'field' }, uses: Set<string>, imports: Set<string>): string {
    const t = d.type;
    if (t.kind === 'string') return `r.string(${this.#size(d)})`;
    if (t.kind === 'opaque') {
      return d.form === 'fixed' ? `r.fixedOpaque(${this.#size(d)})` : `r.opaque(${this.#size(d)})`;
    }
    switch (d.form) {
      case 'plain':
        if (t.kind === 'prim') return `r.${t.prim}()`;
        if (this.#isEnum(t.name)) return 'r.int()';
        uses.add(t.name);
        return `dec${pascal(t.name)}(r)`;
      case 'optional':
        return `r.optional(${this.#elemDec(t, uses, imports)})`;
      case 'fixed':
        return `r.fixedArray(${this.#size(d)}, ${this.#elemDec(t, uses, imports)})`;
      case 'var':
        return `r.array(${this.#size(d)}, ${this.#elemDec(t, uses, imports)})`;
    }
  }

  emitModule(module: string, source: string, sourceText: string, defs: Definition[]): string {
    const uses = new Set<string>();
    const imports = new Set<string>(['XdrWriter', 'XdrReader']);
    const body: string[] = [];

    for (const def of defs) {
      switch (def.kind) {
        case 'const':
          body.push(`export const ${def.name} = ${this.#literal(def.value)};`);
          break;
        case 'enum': {
          body.push(`export const ${pascal(def.name)} = {`);
          for (const m of def.members) body.push(`  ${m.name}: ${this.resolve(m.value)},`);
          body.push('} as const;');
          break;
        }
        case 'typedef': {
          const ty = pascal(def.name);
          body.push(`export type ${ty} = ${this.tsType(def.decl, uses)};`);
          body.push(`export function enc${ty}(w: XdrWriter, v: ${ty}): void {`);
          body.push(`  ${this.encStmt(def.decl, 'v', uses, imports)}`);
          body.push('}');
          body.push(`export function dec${ty}(r: XdrReader): ${ty} {`);
          body.push(`  return ${this.decExpr(def.decl, uses, imports)};`);
          body.push('}');
          break;
        }
        case 'struct': {
          const ty = pascal(def.name);
          body.push(`export interface ${ty} {`);
          for (const f of def.fields) body.push(`  ${f.name}: ${this.tsType(f, uses)};`);
          body.push('}');
          body.push(`export function enc${ty}(w: XdrWriter, v: ${ty}): void {`);
          for (const f of def.fields) body.push(`  ${this.encStmt(f, `v.${f.name}`, uses, imports)}`);
          body.push('}');
          body.push(`export function dec${ty}(r: XdrReader): ${ty} {`);
          if (def.fields.length === 0) {
            body.push('  return {};');
          } else {
            body.push('  return {');
            for (const f of def.fields) body.push(`    ${f.name}: ${this.decExpr(f, uses, imports)},`);
            body.push('  };');
          }
          body.push('}');
          break;
        }
        case 'union':
          this.#emitUnion(def, body, uses, imports);
          break;
      }
    }

    body.push(...this.#procedures(module, defs, uses, imports));

    // imports from sibling generated modules
    const local = new Set(defs.map((d) => d.name));
    const byModule = new Map<string, Set<string>>();
    for (const name of uses) {
      if (local.has(name)) continue;
      const sym = this.#named(name);
      let set = byModule.get(sym.module);
      if (!set) {
        set = new Set();
        byModule.set(sym.module, set);
      }
      const ty = pascal(name);
      set.add(`type ${ty}`);
      set.add(`enc${ty}`);
      set.add(`dec${ty}`);
    }
    const sha = createHash('sha256').update(sourceText).digest('hex');
    const head = [
      `// Generated by scripts/gen-remote-protocol.ts from libvirt's ${source}`,
      `// (sha256 ${sha}). DO NOT EDIT.`,
      '// Regenerate with `npm run gen:remote` (reads ../shared/libvirt-protocol/*.x).',
      '',
    ];
    const readerNames = [...imports].filter((i) => i.startsWith('dec') || i === 'XdrReader').sort();
    const writerNames = [...imports].filter((i) => i.startsWith('enc') || i === 'XdrWriter').sort();
    const imp = (names: string[]) =>
      names.map((n) => (n === 'XdrReader' || n === 'XdrWriter' ? `type ${n}` : n)).join(', ');
    head.push(`import { ${imp(readerNames)} } from '../xdr-reader.js';`);
    head.push(`import { ${imp(writerNames)} } from '../xdr-writer.js';`);
    if (body.some((l) => l.includes('procedure('))) head.push("import { procedure } from '../procedure.js';");
    for (const [mod, names] of [...byModule.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      const sorted = [...names].sort((a, b) =>
        a.replace(/^type /, '').localeCompare(b.replace(/^type /, '')),
      );
      head.push(`import { ${sorted.join(', ')} } from './${mod}.js';`);
    }
    head.push('');
    return `${head.join('\n')}${body.join('\n')}\n`;
  }

  #literal(value: string): string {
    if (/^0[xX]/.test(value)) return `0x${value.slice(2).toLowerCase()}`;
    if (/^-?\d+$/.test(value)) return value;
    return String(this.resolve(value));
  }

  #emitUnion(
    def: Definition & { kind: 'union' },
    body: string[],
    uses: Set<string>,
    imports: Set<string>,
  ): void {
    const ty = pascal(def.name);
    const disc = def.discriminant;
    if (disc.type.kind === 'named' ? !this.#isEnum(disc.type.name) : disc.type.kind !== 'prim') {
      throw new Error(`union ${def.name}: unsupported discriminant type`);
    }
    const discPrim = disc.type.kind === 'prim' ? disc.type.prim : 'int';
    if (discPrim !== 'int' && discPrim !== 'uint')
      throw new Error(`union ${def.name}: discriminant must be int`);
    const variants: string[] = [];
    const enc: string[] = [];
    const dec: string[] = [];
    for (const arm of def.arms) {
      const values = arm.values.map((v) => this.resolve(v));
      const lit = values.join(' | ');
      if (arm.decl.kind === 'void') {
        variants.push(`{ ${disc.name}: ${lit} }`);
      } else {
        variants.push(`{ ${disc.name}: ${lit}; ${arm.decl.name}: ${this.tsType(arm.decl, uses)} }`);
      }
      for (const v of values) {
        enc.push(`    case ${v}:`);
        dec.push(`    case ${v}:`);
      }
      if (arm.decl.kind === 'void') {
        enc.push('      return;');
        dec.push(`      return { ${disc.name}: d };`);
      } else {
        enc.push(`      ${this.encStmt(arm.decl, `v.${arm.decl.name}`, uses, imports)}`);
        enc.push('      return;');
        dec.push(
          `      return { ${disc.name}: d, ${arm.decl.name}: ${this.decExpr(arm.decl, uses, imports)} };`,
        );
      }
    }
    const da = def.defaultArm;
    if (da) {
      variants.push(
        da.kind === 'void'
          ? `{ ${disc.name}: number }`
          : `{ ${disc.name}: number; ${da.name}: ${this.tsType(da, uses)} }`,
      );
    }
    body.push(`export type ${ty} =\n  | ${variants.join('\n  | ')};`);
    body.push(`export function enc${ty}(w: XdrWriter, v: ${ty}): void {`);
    body.push(`  w.${discPrim}(v.${disc.name});`);
    body.push(`  switch (v.${disc.name}) {`);
    body.push(...enc);
    body.push('    default:');
    if (da && da.kind === 'field') {
      body.push(
        `      ${this.encStmt(da, `(v as { ${da.name}: ${this.tsType(da, uses)} }).${da.name}`, uses, imports)}`,
      );
    } else if (!da) {
      body.push(`      w.badUnion('${def.name}', (v as { ${disc.name}: number }).${disc.name});`);
    }
    body.push('  }');
    body.push('}');
    body.push(`export function dec${ty}(r: XdrReader): ${ty} {`);
    body.push(`  const d = r.${discPrim}();`);
    body.push('  switch (d) {');
    body.push(...dec);
    body.push('    default:');
    if (da && da.kind === 'field')
      body.push(`      return { ${disc.name}: d, ${da.name}: ${this.decExpr(da, uses, imports)} };`);
    else if (da) body.push(`      return { ${disc.name}: d };`);
    else body.push(`      return r.badUnion('${def.name}', d);`);
    body.push('  }');
    body.push('}');
  }

  /**
   * The procedure table of a program: each `X_PROC_NAME = n` of its
   * `*_procedure` enum with the codecs of `x_name_args`, `x_name_ret` and
   * `x_name_msg` (libvirt's naming convention; void when absent).
   */
  #procedures(module: string, defs: Definition[], uses: Set<string>, imports: Set<string>): string[] {
    const procEnum = defs.find((d) => d.kind === 'enum' && d.name.endsWith('_procedure'));
    if (procEnum?.kind !== 'enum') return [];
    const prefix = procEnum.name.replace(/_procedure$/, '');
    const upper = prefix.toUpperCase();
    const program = `${upper}_PROGRAM`;
    const version = `${upper}_PROTOCOL_VERSION`;
    if (!this.constants.has(program) || !this.constants.has(version)) {
      throw new Error(`${module}: ${program} / ${version} not defined`);
    }
    const out: string[] = [];
    out.push('');
    out.push(`/** Every procedure of ${program}, by name, with its argument, return and message codecs. */`);
    out.push(`export const ${prefix}Procedures = {`);
    for (const m of procEnum.members) {
      const short = m.name.replace(new RegExp(`^${upper}_PROC_`), '');
      const base = `${prefix}_${short.toLowerCase()}`;
      const codec = (suffix: string, kind: 'enc' | 'dec'): string => {
        const name = `${base}_${suffix}`;
        if (!this.types.has(name)) {
          imports.add(`${kind}Void`);
          return `${kind}Void`;
        }
        uses.add(name);
        return `${kind}${pascal(name)}`;
      };
      const msgName = `${base}_msg`;
      const args = [
        `${program}`,
        `${version}`,
        String(this.resolve(m.value)),
        `'${short}'`,
        codec('args', 'enc'),
        codec('ret', 'dec'),
      ];
      if (this.types.has(msgName)) {
        uses.add(msgName);
        args.push(`dec${pascal(msgName)}`);
      }
      out.push(`  ${short}: procedure(${args.join(', ')}),`);
    }
    out.push('} as const;');
    if (this.constants.get(program)?.module !== module)
      throw new Error(`${program} is not defined in ${module}`);
    return out;
  }
}

/**
 * Generates every module from the sources (file name → text). Pure: returns
 * module path (relative to `src/drivers/remote/gen/`) → content.
 */
export function generateRemoteProtocol(sources: ReadonlyMap<string, string>): Map<string, string> {
  const files = PROTOCOL_FILES.filter((f) => sources.has(f.source)).map((f) => {
    const text = sources.get(f.source)!;
    return { ...f, text, defs: parseXdr(text, f.source) };
  });
  const emitter = new Emitter(files);
  const out = new Map<string, string>();
  for (const f of files) out.set(`${f.module}.ts`, emitter.emitModule(f.module, f.source, f.text, f.defs));
  return out;
}

export function readProtocolSources(dir: string): Map<string, string> {
  const sources = new Map<string, string>();
  for (const f of PROTOCOL_FILES) sources.set(f.source, readFileSync(join(dir, f.source), 'utf8'));
  return sources;
}

const here = dirname(fileURLToPath(import.meta.url));
export const GEN_DIR = resolve(here, '../src/drivers/remote/gen');

/**
 * Where the .x files are: `$VIRTKIT_SHARED/libvirt-protocol`, else the first
 * `shared/libvirt-protocol` beside the repository or one of its parents (a
 * git worktree may sit deeper than the main checkout). Undefined when absent.
 */
export function findProtocolDir(): string | undefined {
  const candidates: string[] = [];
  if (process.env.VIRTKIT_SHARED) candidates.push(join(process.env.VIRTKIT_SHARED, 'libvirt-protocol'));
  let dir = resolve(here, '..');
  for (;;) {
    const parent = dirname(dir);
    if (parent === dir) break;
    candidates.push(join(parent, 'shared', 'libvirt-protocol'));
    dir = parent;
  }
  return candidates.find((c) => existsSync(join(c, 'remote_protocol.x')));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] ? resolve(process.argv[2]) : findProtocolDir();
  if (!dir) {
    console.error('libvirt-protocol/*.x not found: pass the directory or set VIRTKIT_SHARED');
    process.exit(1);
  }
  for (const [name, text] of generateRemoteProtocol(readProtocolSources(dir))) {
    writeFileSync(join(GEN_DIR, name), text);
    console.log(`wrote src/drivers/remote/gen/${name} (${text.length} bytes)`);
  }
}
