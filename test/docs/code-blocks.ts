/**
 * Finds the ```ts blocks of the project's markdown (README.md and
 * docs/*.md) and turns each into a module that imports the source tree
 * instead of the published package, so the doc test can type-check and run
 * exactly what a reader would paste.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CodeBlock {
  /** `README.md` or `docs/NAME.md`. */
  file: string;
  /** The line of the opening fence, 1-based. */
  line: number;
  /** The nearest heading above the block, as written after the hashes. */
  heading: string;
  code: string;
}

/** Every ```ts block of one markdown text, with where it is. */
export function extractBlocks(file: string, markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] as string;
    const h = /^#{1,6}\s+(.*)$/.exec(l);
    if (h) heading = (h[1] as string).trim();
    if (!/^```(ts|typescript)\s*$/.test(l)) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i] as string); i++) body.push(lines[i] as string);
    blocks.push({ file, line: start + 1, heading, code: body.join('\n') });
  }
  return blocks;
}

/** The markdown files whose blocks are checked: README.md and docs/*.md. */
export function markdownFiles(root: string): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs];
}

export function allBlocks(root: string): CodeBlock[] {
  return markdownFiles(root).flatMap((f) => extractBlocks(f, readFileSync(join(root, f), 'utf8')));
}

const ENTRY: Readonly<Record<string, string>> = {
  virtkit: 'src/index.js',
  'virtkit/conf': 'src/conf/index.js',
  'virtkit/cpu': 'src/cpu/index.js',
  'virtkit/xml': 'src/xml/index.js',
  'virtkit/internal': 'src/conf/internal.js',
};

/**
 * The block as a module: `virtkit` imports point at the source entry that
 * the package's export map gives for them, `prelude` (the fixtures a block
 * assumes) goes first, and a trailing `export {}` keeps it a module.
 */
export function blockModule(block: CodeBlock, root: string, prelude = ''): string {
  const code = block.code.replace(
    /(from\s+|import\s*\(\s*)(['"])(virtkit(?:\/[a-z]+)?)\2/g,
    (m, lead, q, spec) => {
      const target = ENTRY[spec as string];
      return target ? `${lead}${q}${join(root, target)}${q}` : m;
    },
  );
  return `${prelude}\n${code}\nexport {};\n`;
}
