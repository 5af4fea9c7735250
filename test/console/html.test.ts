/** The escaping tag: every interpolation is text unless it was made by the tag itself. */
import { describe, expect, it } from '@jest/globals';
import { html, toText } from '../../src/console/html.js';

describe('html', () => {
  it('escapes text in content and in attributes, both quote kinds and the backtick', () => {
    const hostile = `<script>alert(1)</script>" onmouseover='x' \`&`;
    expect(toText(html`<td title="${hostile}">${hostile}</td>`)).toBe(
      '<td title="&lt;script&gt;alert(1)&lt;/script&gt;&quot; onmouseover=&#39;x&#39; &#96;&amp;">&lt;script&gt;alert(1)&lt;/script&gt;&quot; onmouseover=&#39;x&#39; &#96;&amp;</td>',
    );
  });

  it('keeps nested fragments and lists as markup, once, and renders nothing for null, undefined and false', () => {
    const items = ['a<b', 'c'].map((t) => html`<li>${t}</li>`);
    // prettier-ignore
    const out = html`<ul>${items}</ul>${null}${undefined}${false}${0}`;
    expect(toText(out)).toBe('<ul><li>a&lt;b</li><li>c</li></ul>0');
  });

  it('an object that merely looks like a fragment is refused, never trusted', () => {
    const forged = { text: '<script>alert(1)</script>' } as unknown as string;
    expect(() => html`${forged}`).toThrow(TypeError);
  });
});
