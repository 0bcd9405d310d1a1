import { describe, expect, it } from 'vitest';
import { drawCell, escapeXml } from '../lib/cells/draw.js';
import type { Genotype } from '../lib/cells/genotype-types.js';
import { NASNET_A } from '../lib/cells/genotypes.js';
import { OPS } from '../lib/cells/ops.js';

/** A small XML well-formedness check: balanced tags, quoted attributes, no raw '<' or '&' in text. */
function checkXml(svg: string): string[] {
  const stack: string[] = [];
  const body = svg.replace(/^<\?xml[^?]*\?>\s*/, '');
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(body); m; m = tag.exec(body)) {
    const text = body.slice(last, m.index);
    if (/[<>]/.test(text) || /&(?!(amp|lt|gt|quot|apos);)/.test(text)) throw new Error(`bad text: ${text}`);
    last = tag.lastIndex;
    const [, close, name, , selfClose] = m;
    if (close) {
      if (stack.pop() !== name) throw new Error(`unbalanced </${name}>`);
    } else if (!selfClose) stack.push(name!);
  }
  if (body.slice(last).trim() !== '') throw new Error('trailing content');
  if (stack.length) throw new Error(`unclosed ${stack.join(', ')}`);
  return [...body.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
}

describe('drawCell', () => {
  for (const kind of ['normal', 'reduction'] as const) {
    it(`draws the NASNet-A ${kind} cell as well-formed SVG with every op label`, () => {
      const svg = drawCell(NASNET_A, kind);
      expect(svg.startsWith('<?xml')).toBe(true);
      expect(svg).toContain('<svg xmlns="http://www.w3.org/2000/svg"');
      const texts = checkXml(svg);
      for (const b of NASNET_A[kind].blocks) for (const op of b.ops) expect(texts).toContain(OPS[op].label);
      expect(texts).toContain('h_i');
      expect(texts).toContain('h_{i-1}');
      expect(texts).toContain('concat');
      // 10 op boxes + 2 inputs + output concat as rects (plus the background), 5 combine circles.
      expect(svg.match(/<rect /g)).toHaveLength(14);
      expect(svg.match(/<circle /g)).toHaveLength(5);
      // Edges: 2 per op box (in and out) + one per concatenated state.
      const concatCount = kind === 'normal' ? 6 : 4;
      expect(svg.match(/<polyline /g)).toHaveLength(20 + concatCount);
    });
  }

  it('places inputs at the bottom and the concat at the top', () => {
    const svg = drawCell(NASNET_A, 'reduction');
    const y = (label: string) => {
      const m = svg.match(new RegExp(`<text x="[^"]+" y="([^"]+)"[^>]*>${escapeXml(label).replace(/[{}]/g, '\\$&')}</text>`));
      return Number(m![1]);
    };
    expect(y('h_i')).toBeGreaterThan(y('sep 7x7'));
    expect(y('concat')).toBeLessThan(y('identity'));
  });

  it('draws concat combines and escapes labels', () => {
    const g: Genotype = {
      normal: { blocks: [{ inputs: [0, 1], ops: ['conv_1x7_7x1', 'dil_conv_3x3'], combine: 'concat' }] },
      reduction: NASNET_A.reduction,
    };
    const texts = checkXml(drawCell(g, 'normal'));
    expect(texts).toContain('||');
    expect(texts).toContain('1x7 7x1');
    expect(escapeXml(`a<b & "c" 'd'>`)).toBe('a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;');
  });

  it('rejects an invalid genotype', () => {
    expect(() => drawCell({ normal: { blocks: [] }, reduction: NASNET_A.reduction }, 'normal')).toThrow(
      "normal cell: 'blocks' must be a non-empty array",
    );
  });
});
