import { describe, expect, it } from 'vitest';
import { htmlToText, wrapText } from '../../lambdas/core/email/plain-text.ts';

describe('htmlToText', () => {
  it('turns blocks into paragraphs, lists into dashes, links into text (url)', () => {
    const text = htmlToText(
      '<h2>Title</h2><p>One <strong>bold</strong> line<br>and a <a href="https://a.example/x?y=1&amp;z=2">link</a>.</p><ol><li>First</li><li>Second</li></ol>',
    );
    expect(text).toBe('Title\n\nOne bold line\nand a link (https://a.example/x?y=1&z=2).\n\n- First\n- Second');
  });

  it('drops scripts, styles and comments, keeps image alt text, decodes entities', () => {
    expect(
      htmlToText(
        '<style>p{}</style><script>alert(1)</script><!-- c --><p>A &amp; B &lt;C&gt; &#8220;q&#x201D; caf&eacute;</p><img src="x.png" alt="A chart"><img src="y.png">',
      ),
    ).toBe('A & B <C> “q” caf&eacute;\n\n[A chart]');
  });

  it('shows a link once when its text is its address, and ignores non-web links', () => {
    expect(
      htmlToText(
        '<p><a href="https://a.example/">https://a.example/</a> <a href="mailto:x@a.example">x@a.example</a> <a href="javascript:void(0)">click</a></p>',
      ),
    ).toBe('https://a.example/ x@a.example click');
  });

  it('copes with > inside attribute values', () => {
    expect(htmlToText('<p title="a > b">Text</p>')).toBe('Text');
  });
});

describe('wrapText', () => {
  it('wraps at spaces, keeps long URLs whole and indents list continuations', () => {
    const url = `https://news.example.com/${'x'.repeat(90)}`;
    const out = wrapText(`${'word '.repeat(30).trim()}\n- ${'item '.repeat(20).trim()}\nSee ${url} now`, 40);
    const lines = out.split('\n');
    for (const line of lines) if (line.length > 40) expect(line).toBe(url);
    expect(lines.filter((l) => l.startsWith('  item')).length).toBeGreaterThan(0);
    expect(out.replace(/\s+/g, ' ')).toBe(`${'word '.repeat(30)}- ${'item '.repeat(20)}See ${url} now`.replace(/\s+/g, ' '));
  });
});
