// @ts-check
/**
 * A TypeDoc plugin for virtkit's XML models. Most model fields are not
 * declared one by one: their types are inferred from the binding tables in
 * src/conf (`memory: child(memoryMapper)`, `unit: attr('unit', sizeUnit)`),
 * where the one fact a reader needs is which XML node a field holds. For a
 * field that has no doc comment of its own, this plugin reads that fact
 * from the table entry and writes it as the field's documentation: "The
 * `unit` attribute of `<memory>`." A comment written on the table entry
 * always wins; entries whose shape the plugin does not know stay
 * undocumented, so the notDocumented check still finds them.
 */
import { Comment, Converter, ReflectionKind } from 'typedoc';
import ts from 'typescript';

/** The string literal arguments of a call, in order. */
function stringArgs(call) {
  return call.arguments.filter(ts.isStringLiteralLike).map((a) => a.text);
}

function calleeName(call) {
  return ts.isIdentifier(call.expression) ? call.expression.text : undefined;
}

/**
 * The element a mapper expression maps: `elementMapper('x', ...)`, a
 * function called with the name (`limitMapper('hard_limit')`), or a
 * variable holding one of those.
 */
function mappedElement(expr, checker, depth = 0) {
  if (depth > 4) return undefined;
  if (ts.isCallExpression(expr)) {
    const [first] = stringArgs(expr);
    return first;
  }
  // A mapper written out by hand: `{ name: 'topology', read, write }`.
  if (ts.isObjectLiteralExpression(expr)) {
    for (const p of expr.properties) {
      if (ts.isPropertyAssignment(p) && ts.isIdentifier(p.name) && p.name.text === 'name') {
        return ts.isStringLiteralLike(p.initializer) ? p.initializer.text : undefined;
      }
    }
    return undefined;
  }
  if (ts.isIdentifier(expr) || ts.isPropertyAccessExpression(expr)) {
    const sym = checker.getSymbolAtLocation(expr);
    const target = sym && sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
    const decl = target?.valueDeclaration;
    if (decl && ts.isVariableDeclaration(decl) && decl.initializer) {
      return mappedElement(decl.initializer, checker, depth + 1);
    }
  }
  return undefined;
}

/**
 * What one table entry holds, as a phrase ("the `unit` attribute") and
 * whether the table requires it; undefined for shapes not known here.
 */
function describeField(expr, checker) {
  if (!ts.isCallExpression(expr)) return undefined;
  const name = calleeName(expr);
  const [a, b] = stringArgs(expr);
  const phrase = (p) => ({ phrase: p, required: false });
  switch (name) {
    case 'req': {
      const inner = expr.arguments[0] && describeField(expr.arguments[0], checker);
      return inner && { ...inner, required: true };
    }
    case 'attr':
      return a ? phrase(`The \`${a}\` attribute`) : undefined;
    case 'text':
      return phrase('The text content');
    case 'childText':
      return a ? phrase(`The text of the \`<${a}>\` child`) : undefined;
    case 'childAttr':
      return a && b ? phrase(`The \`${b}\` attribute of the \`<${a}>\` child`) : undefined;
    case 'flag':
      return a ? phrase(`Whether there is an empty \`<${a}/>\` child`) : undefined;
    case 'rawChild':
      return a ? phrase(`The \`<${a}>\` child, kept as XML,`) : undefined;
    case 'child': {
      const el = expr.arguments[0] && mappedElement(expr.arguments[0], checker);
      return el ? phrase(`The \`<${el}>\` child`) : undefined;
    }
    case 'children': {
      const el = expr.arguments[0] && mappedElement(expr.arguments[0], checker);
      return el ? phrase(`The \`<${el}>\` children, in document order,`) : undefined;
    }
    // The binding's own small field kinds, named after what they read.
    case 'capabilitiesField':
      return phrase(
        'The nested `<capability>` children (sub-capabilities, typed by their `type`), in document order,',
      );
    case 'ignored':
      return a
        ? phrase(`The \`<${a}>\` child, known but neither read nor written (libvirt recomputes it),`)
        : undefined;
    case 'childAttrStr':
      return a && b ? phrase(`The \`${b}\` attribute of the \`<${a}>\` child`) : undefined;
    case 'presence':
      return a ? phrase(`Whether there is an empty \`<${a}/>\` child`) : undefined;
    case 'stateOnly':
      return a ? phrase(`The \`state\` (on or off) of the \`<${a}>\` child`) : undefined;
    case 'literal':
      return a ? phrase(`The \`type\` attribute, always \`${a}\` for this kind,`) : undefined;
    case 'addressField':
      return phrase('The `<address>` child: where the device sits on its bus');
    case 'sysinfoSection':
      return a ? phrase(`The \`<${a}>\` section`) : undefined;
    case 'scaledBytes':
    case 'reportedSize':
      return a ? phrase(`The \`<${a}>\` child, in bytes,`) : undefined;
    default:
      // A helper that builds the child mapper from its element name: `limitMapper('hard_limit')`.
      if (name?.endsWith('Mapper') && a) return phrase(`The \`<${a}>\` child`);
      return undefined;
  }
}

/**
 * Tables declared on their own (`const domainSpec = {...}` and later
 * `elementMapper('domain', domainSpec)`), by variable name → element name,
 * read once from the program's sources.
 */
let namedTables;
function tableElements(program) {
  if (namedTables) return namedTables;
  namedTables = new Map();
  const use = /elementMapper\(\s*'([^']+)'\s*,\s*([A-Za-z_$][\w$]*)\s*[,)]/g;
  for (const file of program.getSourceFiles()) {
    if (file.isDeclarationFile) continue;
    for (const m of file.text.matchAll(use)) namedTables.set(m[2], m[1]);
  }
  return namedTables;
}

/** The element whose table holds `node`: the name given to the enclosing `elementMapper(...)`, if any. */
function enclosingElement(node, program) {
  for (let n = node.parent; n; n = n.parent) {
    if (ts.isCallExpression(n) && calleeName(n) === 'elementMapper') return stringArgs(n)[0];
    if (ts.isVariableDeclaration(n) && ts.isIdentifier(n.name))
      return tableElements(program).get(n.name.text);
    if (ts.isSourceFile(n)) return undefined;
  }
  return undefined;
}

function sentence({ phrase, required }, element) {
  const of = element ? ` of \`<${element}>\`` : ' of the element';
  return `${phrase}${of}.${required ? ' Required.' : ''}`;
}

/**
 * For `type X = Infer<typeof xMapper.spec>`: the element the mapper reads,
 * so the alias is documented as the element it is the typed form of.
 */
function inferredElement(decl, checker) {
  if (!ts.isTypeAliasDeclaration(decl)) return undefined;
  const t = decl.type;
  if (!ts.isTypeReferenceNode(t) || !ts.isIdentifier(t.typeName) || t.typeName.text !== 'Infer')
    return undefined;
  const arg = t.typeArguments?.[0];
  if (!arg || !ts.isTypeQueryNode(arg)) return undefined;
  const name = arg.exprName;
  // `typeof xMapper.spec`: the mapper is the left side of the qualified name.
  const mapper = ts.isQualifiedName(name) && name.right.text === 'spec' ? name.left : undefined;
  if (!mapper) return undefined;
  const sym = checker.getSymbolAtLocation(mapper);
  const target = sym && sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
  const vd = target?.valueDeclaration;
  return vd && ts.isVariableDeclaration(vd) && vd.initializer
    ? mappedElement(vd.initializer, checker)
    : undefined;
}

/** The symbol an identifier names, through imports and re-exports. */
function resolved(node, checker) {
  const sym = checker.getSymbolAtLocation(node);
  return sym && sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
}

/**
 * What the sources say about each mapper variable, read once: the exported
 * type aliases that are its typed form (`type X = Infer<typeof xMapper.spec>`)
 * and the elements whose tables hold it (`child(xMapper)` in `<disk>`'s).
 */
let mapperUses;
function mapperFacts(program, checker) {
  if (mapperUses) return mapperUses;
  mapperUses = new Map();
  const facts = (sym) => {
    let f = mapperUses.get(sym);
    if (!f) {
      f = { aliases: new Set(), parents: new Set() };
      mapperUses.set(sym, f);
    }
    return f;
  };
  const visit = (node) => {
    if (ts.isTypeAliasDeclaration(node)) {
      const t = node.type;
      const arg =
        ts.isTypeReferenceNode(t) && ts.isIdentifier(t.typeName) && t.typeName.text === 'Infer'
          ? t.typeArguments?.[0]
          : undefined;
      const exported = ts.getCombinedModifierFlags(node) & ts.ModifierFlags.Export;
      if (exported && arg && ts.isTypeQueryNode(arg) && ts.isQualifiedName(arg.exprName)) {
        const sym = resolved(arg.exprName.left, checker);
        if (sym) facts(sym).aliases.add(node.name.text);
      }
    } else if (ts.isCallExpression(node)) {
      const name = calleeName(node);
      const first = node.arguments[0];
      if ((name === 'child' || name === 'children') && first && ts.isIdentifier(first)) {
        const sym = resolved(first, checker);
        const parent = enclosingElement(node, program);
        if (sym && parent) facts(sym).parents.add(parent);
      }
    }
    ts.forEachChild(node, visit);
  };
  for (const file of program.getSourceFiles()) {
    if (!file.isDeclarationFile && !file.fileName.includes('/node_modules/')) visit(file);
  }
  return mapperUses;
}

/**
 * The element a table discriminates by its `type` attribute, when the table
 * allows one value only (`type: req(attr('type', enumOf(['pci'])))`).
 */
function fixedType(table) {
  if (!ts.isObjectLiteralExpression(table)) return undefined;
  for (const p of table.properties) {
    if (!ts.isPropertyAssignment(p) || !ts.isIdentifier(p.name) || p.name.text !== 'type') continue;
    let e = p.initializer;
    if (ts.isCallExpression(e) && calleeName(e) === 'req' && e.arguments[0]) e = e.arguments[0];
    if (!ts.isCallExpression(e) || calleeName(e) !== 'attr') return undefined;
    const codec = e.arguments[1];
    if (!codec || !ts.isCallExpression(codec) || calleeName(codec) !== 'enumOf') return undefined;
    const values = codec.arguments[0];
    if (values && ts.isArrayLiteralExpression(values) && values.elements.length === 1) {
      const [v] = values.elements;
      return v && ts.isStringLiteralLike(v) ? v.text : undefined;
    }
  }
  return undefined;
}

/**
 * For `const xMapper = elementMapper('x', {...})`: which element it binds,
 * where that element sits and which type is its typed form.
 */
function describeMapper(symbol, checker, program) {
  const decl = symbol?.valueDeclaration;
  if (!decl || !ts.isVariableDeclaration(decl) || !decl.initializer) return undefined;
  const init = decl.initializer;
  if (!ts.isCallExpression(init) || calleeName(init) !== 'elementMapper') return undefined;
  const [element] = stringArgs(init);
  if (!element) return undefined;
  const type = init.arguments[1] && fixedType(init.arguments[1]);
  const tag = type ? `\`<${element} type='${type}'>\`` : `\`<${element}>\``;
  const f = mapperFacts(program, checker).get(symbol);
  const parents = f ? [...f.parents].filter((p) => p !== element).sort() : [];
  const where = parents.length ? ` in ${parents.map((p) => `\`<${p}>\``).join(', ')}` : '';
  const alias = f && [...f.aliases][0];
  const typed = alias ? ` (typed as \`${alias}\`)` : '';
  return `The binding of ${tag}${where}${typed}: \`read\` parses the element into the fields of its \`spec\` table, \`write\` formats them back in libvirt's order.`;
}

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    if (reflection.comment) return;
    if (reflection.kindOf(ReflectionKind.TypeAlias)) {
      const decl = context.getSymbolFromReflection(reflection)?.declarations?.[0];
      const element = decl && inferredElement(decl, context.checker);
      if (element) {
        reflection.comment = new Comment([
          {
            kind: 'text',
            text: `A \`<${element}>\` element as the models hold it: its fields are its attributes and children.`,
          },
        ]);
      }
      return;
    }
    if (reflection.kindOf(ReflectionKind.Variable)) {
      const sym = context.getSymbolFromReflection(reflection);
      const target = sym && sym.flags & ts.SymbolFlags.Alias ? context.checker.getAliasedSymbol(sym) : sym;
      const text = describeMapper(target, context.checker, context.program);
      if (text) reflection.comment = new Comment([{ kind: 'text', text }]);
      return;
    }
    if (!reflection.kindOf(ReflectionKind.Property)) return;
    const symbol = context.getSymbolFromReflection(reflection);
    const decl = symbol?.declarations?.[0];
    if (!decl || !ts.isPropertyAssignment(decl)) return;
    // A mapper written out by hand (`{ name: 'topology', spec, read, write }`): its name and table.
    const handMapper =
      ts.isIdentifier(decl.name) &&
      ts.isObjectLiteralExpression(decl.parent) &&
      decl.parent.properties.some((p) => p.name && ts.isIdentifier(p.name) && p.name.text === 'read');
    if (handMapper && decl.name.text === 'name' && ts.isStringLiteralLike(decl.initializer)) {
      const text = `The element name, \`${decl.initializer.text}\`, exactly as libvirt spells it.`;
      reflection.comment = new Comment([{ kind: 'text', text }]);
      return;
    }
    if (handMapper && decl.name.text === 'spec') {
      const text =
        'The spec table of the mapper this one wraps: field name → which attribute or child it holds.';
      reflection.comment = new Comment([{ kind: 'text', text }]);
      return;
    }
    const described = describeField(decl.initializer, context.checker);
    if (!described) return;
    const text = sentence(described, enclosingElement(decl, context.program));
    reflection.comment = new Comment([{ kind: 'text', text }]);
  });
}
