/**
 * Two small bar charts as inline SVG, built with the same escaping tag as the page (no script, no
 * library): each bar carries a <title>, so a pointer shows its value and a screen reader reads it.
 */
import { html, type SafeHtml } from './html.js';

export interface Bar {
  /** Under the bar (a day) or only in its title (a run's time). */
  label: string;
  value: number;
  /** What the bar's <title> says. */
  title: string;
}

const WIDTH = 560;
const HEIGHT = 120;
const AXIS = 18;

/** A bar chart of `bars`, left to right; `unit` names the values on the axis ("s", "cancellations"). */
export function barChart(caption: string, bars: readonly Bar[], unit: string, options: { showLabels?: boolean } = {}): SafeHtml {
  if (bars.length === 0) return html`<p class="muted">${caption}: nothing recorded yet.</p>`;
  const max = Math.max(...bars.map((b) => b.value), 0);
  const top = max > 0 ? max : 1;
  const slot = WIDTH / bars.length;
  const barWidth = Math.max(2, Math.min(40, slot * 0.7));
  const plot = HEIGHT - AXIS;
  const rects = bars.map((bar, i) => {
    const h = bar.value > 0 ? Math.max(1, (bar.value / top) * (plot - 12)) : 0;
    const x = i * slot + (slot - barWidth) / 2;
    return html`<g>
      <rect x="${x.toFixed(1)}" y="${(plot - h).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${h.toFixed(1)}" class="bar"
        ><title>${bar.title}</title></rect
      >
      ${options.showLabels ? html`<text x="${(x + barWidth / 2).toFixed(1)}" y="${HEIGHT - 4}" class="label" text-anchor="middle">${bar.label}</text>` : null}
    </g>`;
  });
  return html`<figure>
    <svg viewBox="0 0 ${WIDTH} ${HEIGHT}" width="100%" role="img" aria-label="${caption}" xmlns="http://www.w3.org/2000/svg">
      <line x1="0" y1="${plot}" x2="${WIDTH}" y2="${plot}" class="axis"></line>
      <text x="2" y="10" class="label">max ${formatValue(max)} ${unit}</text>
      ${rects}
    </svg>
    <figcaption>${caption}</figcaption>
  </figure>`;
}

function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(value < 1 ? 3 : 1);
}
