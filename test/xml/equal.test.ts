import { describe, expect, it } from 'vitest';
import { xmlDiff, xmlEqual } from '../../src/xml/equal.js';

describe('xmlEqual / xmlDiff', () => {
  it('ignores indentation, quoting and attribute order', () => {
    expect(xmlEqual('<a x=\'1\' y="2">\n  <b/>\n</a>', '<a y="2" x="1"><b></b></a>')).toBe(true);
  });

  it('ignores comments by default but not when asked', () => {
    expect(xmlEqual('<a><!--c--><b/></a>', '<a><b/></a>')).toBe(true);
    expect(xmlEqual('<a><!--c--><b/></a>', '<a><b/></a>', { ignoreComments: false })).toBe(false);
  });

  it('names the first difference with a path', () => {
    expect(
      xmlDiff(
        "<d><disk type='file'/><disk type='file'/></d>",
        "<d><disk type='file'/><disk type='block'/></d>",
      ),
    ).toBe("/d/disk[2]/@type: 'file' != 'block'");
    expect(xmlDiff('<d><a/></d>', '<d><a/><b/></d>')).toBe('/d: second has extra <b>');
    expect(xmlDiff('<d>x</d>', '<d>y</d>')).toBe('/d: text "x" != text "y"');
  });

  it('treats sibling order as significant', () => {
    expect(xmlEqual('<d><a/><b/></d>', '<d><b/><a/></d>')).toBe(false);
  });
});
