/**
 * The part of `validate()` that needs libxml2: the wasm (through
 * `libxml2-loader.gen.ts`), the embedded schemas, their compilation, and the
 * reading of libxml2's errors back into lines. `validate.ts` imports this
 * module dynamically on the first call, so a page that bundles virtkit/xml
 * carries neither the schemas nor the wasm until it validates (a bundler that
 * splits code keeps them in a chunk of its own).
 *
 * @module
 */
import { VirError } from '../errors.js';
import { loadLibxml2 as instantiate } from './libxml2-loader.gen.js';
import { type ParseXmlOptions, parseXml } from './parse.js';
import { SCHEMA_FILES } from './schemas.gen.js';
import { innerCauses, type LibTree, libTree } from './validate-detail.js';
import {
  SCHEMA_KINDS,
  type SchemaKind,
  type ValidationIssue,
  type ValidationResult,
} from './validate-types.js';

const BASE_URL = 'virtkit:///schemas/';

type Libxml2 = typeof import('libxml2-wasm');
interface CompiledSchema {
  validate(doc: unknown): void;
}

let libxml2: Promise<Libxml2> | undefined;
const compiled = new Map<SchemaKind, Promise<CompiledSchema>>();

/** Instantiates libxml2 once, with the schemas served under {@link BASE_URL}. */
export function loadLibxml2(): Promise<Libxml2> {
  libxml2 ??= instantiate().then(
    (lib) => {
      const files: Record<string, Uint8Array> = {};
      const enc = new TextEncoder();
      for (const [name, text] of Object.entries(SCHEMA_FILES) as Array<[string, string]>) {
        files[BASE_URL + name] = enc.encode(text);
      }
      lib.xmlRegisterInputProvider(new lib.XmlBufferInputProvider(files));
      return lib;
    },
    (err: unknown) => {
      libxml2 = undefined; // a later call may succeed
      throw new VirError(
        'NO_SUPPORT',
        'schema',
        `cannot load libxml2-wasm for validation: ${describe(err)}`,
        {
          cause: err,
        },
      );
    },
  );
  return libxml2;
}

function compile(kind: SchemaKind): Promise<CompiledSchema> {
  let p = compiled.get(kind);
  if (!p) {
    p = (async () => {
      const file = SCHEMA_KINDS[kind];
      const text = (SCHEMA_FILES as Record<string, string | undefined>)[file];
      if (text === undefined) {
        throw new VirError('NO_SUPPORT', 'schema', `no schema for '${kind}' documents yet`);
      }
      const lib = await loadLibxml2();
      const doc = lib.XmlDocument.fromString(text, { url: BASE_URL + file });
      try {
        // The validator keeps what it needs from the schema document.
        return lib.RelaxNGValidator.fromDoc(doc);
      } finally {
        doc.dispose();
      }
    })();
    // A failed compile is not cached, so a fixed schema or a retry can succeed.
    p.catch(() => compiled.delete(kind));
    compiled.set(kind, p);
  }
  return p;
}

/**
 * Validates a document that passed `validate()`'s prechecks against the
 * schema for `kind`.
 */
export async function validateDocument(
  xml: string,
  kind: SchemaKind,
  options: Pick<ParseXmlOptions, 'maxSize' | 'maxDepth'>,
): Promise<ValidationResult> {
  let schema: CompiledSchema;
  try {
    schema = await compile(kind);
  } catch (err) {
    if (err instanceof VirError) throw err;
    throw new VirError('INTERNAL_ERROR', 'schema', `cannot compile the ${kind} schema: ${describe(err)}`, {
      cause: err,
    });
  }
  const lib = await loadLibxml2();
  let doc: InstanceType<Libxml2['XmlDocument']>;
  try {
    doc = lib.XmlDocument.fromString(xml);
  } catch (err) {
    // libxml2 and our parser accept the same documents; ours says why with our position
    return { valid: false, errors: malformed(xml, options) ?? details(err) };
  }
  try {
    schema.validate(doc);
    return { valid: true, errors: [] };
  } catch (err) {
    if (err instanceof lib.XmlValidateError || err instanceof lib.XmlError) {
      const root = libTree(lib, doc.root);
      const issues = locate(details(err), root);
      return { valid: false, errors: await withCauses(kind, issues, root) };
    }
    throw new VirError('INTERNAL_ERROR', 'schema', `validation failed: ${describe(err)}`, { cause: err });
  } finally {
    doc.dispose();
  }
}

function malformed(
  xml: string,
  options: Pick<ParseXmlOptions, 'maxSize' | 'maxDepth'>,
): ValidationIssue[] | undefined {
  try {
    parseXml(xml, options);
  } catch (err) {
    if (err instanceof VirError) return [{ line: err.line ?? 0, message: err.message }];
  }
  return undefined;
}

/**
 * Adds the cause libxml2 leaves out inside an `<interleave>`: for each
 * "Extra element X in interleave", X alone is validated against the schema's
 * pattern for X, and what that reports (say, a value its type does not
 * allow) comes first, with X's line.
 */
async function withCauses(
  kind: SchemaKind,
  issues: ValidationIssue[],
  root: LibTree,
): Promise<ValidationIssue[]> {
  const lib = await loadLibxml2();
  const extra: ValidationIssue[] = [];
  for (const issue of issues) {
    const name = /^Extra element (\S+) in interleave/.exec(issue.message)?.[1];
    if (!name || issue.line === 0) continue;
    const el = findElement(root, (e) => e.name === name && e.line === issue.line);
    if (!el) continue;
    for (const cause of await innerCauses(lib, kind, SCHEMA_KINDS[kind], BASE_URL, el))
      if (!extra.some((e) => e.message === cause.message && e.line === cause.line)) extra.push(cause);
  }
  return extra.length > 0 ? [...extra, ...issues] : issues;
}

function details(err: unknown): ValidationIssue[] {
  const list = (err as { details?: Array<{ message: string; line?: number; col?: number }> }).details;
  if (Array.isArray(list) && list.length > 0) {
    return list.map((d) => {
      const message = d.message.trim();
      const issue: ValidationIssue = { line: d.line ?? 0, message };
      const m = /^Element (\S+)/.exec(message);
      if (m?.[1]) issue.path = m[1];
      return issue;
    });
  }
  return [{ line: 0, message: describe(err) }];
}

/**
 * Gives a line to the issues libxml2 reports without one.
 *
 * Inside an `<interleave>` libxml2 drops the inner error (say, a bad
 * attribute value) and reports only "Extra element topology in interleave"
 * with no line, followed by "Element cpu failed to validate content" at the
 * enclosing element. The issues come innermost first, so walking them from
 * the outermost one down, each nameless-line element is looked up among the
 * descendants of the element located before it, in libxml2's tree (which
 * knows every start tag's line).
 */
function locate(issues: ValidationIssue[], root: LibTree): ValidationIssue[] {
  let context: LibTree | undefined;
  for (let i = issues.length - 1; i >= 0; i--) {
    const issue = issues[i] as ValidationIssue;
    const name = /^(?:Extra element|Element|Expecting element|Did not expect element) (\S+?)[,:]? /.exec(
      issue.message,
    )?.[1];
    if (!name) continue;
    if (issue.line > 0) {
      context =
        findElement(root, (el) => el.name === name && el.line === issue.line) ??
        findElement(root, (el) => el.name === name) ??
        context;
      continue;
    }
    const scope = context ?? root;
    // "Element feature failed to validate attributes" right after "Extra element
    // feature" is the same element, one level of detail further in.
    const found =
      scope !== root && scope.name === name
        ? scope
        : findElement(scope, (el) => el !== scope && el.name === name);
    if (found?.line !== undefined) {
      issue.line = found.line;
      issue.path ??= name;
      context = found;
    }
  }
  return issues;
}

/** Breadth-first, so that a direct child wins over a deeper namesake. */
function findElement(root: LibTree, match: (el: LibTree) => boolean): LibTree | undefined {
  const queue: LibTree[] = [root];
  for (let i = 0; i < queue.length; i++) {
    const el = queue[i] as LibTree;
    if (match(el)) return el;
    for (const c of el.children) queue.push(c);
  }
  return undefined;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
