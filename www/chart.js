// The demo's live chart: a few counts over the last minute, as lines in an
// SVG the page already holds (no charting library: the demo ships what a
// user would not want to, nothing more).

const NS = 'http://www.w3.org/2000/svg';
const WIDTH = 720;
const HEIGHT = 240;
const PAD = { left: 48, right: 12, top: 12, bottom: 24 };

const element = (name, attributes = {}, text) => {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
};

/** A round number at or above `value`, for the axis's top. */
function niceCeiling(value) {
  if (value <= 10) return 10;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

/**
 * Draws `series` ([{ key, label, color }]) in `svg` over the time it has
 * samples for, at least `minSpanMs` and at most `spanMs`: `add(at, values)`
 * takes one sample (values by key), `draw()` redraws. Lines that coincide
 * (all sent, all stored) stay visible: each series is drawn narrower than
 * the one before it, so they show as nested bands.
 */
export function createChart(svg, series, { spanMs = 60_000, minSpanMs = 10_000 } = {}) {
  svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
  svg.setAttribute('role', 'img');
  const samples = [];
  let shown = minSpanMs;
  const x = (at, now) => PAD.left + ((WIDTH - PAD.left - PAD.right) * (at - (now - shown))) / shown;
  return {
    add(at, values) {
      samples.push({ at, values });
      while (samples.length && samples[0].at < at - spanMs) samples.shift();
    },
    draw(now = samples.at(-1)?.at ?? 0) {
      shown = Math.min(spanMs, Math.max(minSpanMs, now - (samples[0]?.at ?? now)));
      const top = niceCeiling(Math.max(0, ...samples.flatMap((s) => series.map(({ key }) => s.values[key] ?? 0))));
      const y = (value) => HEIGHT - PAD.bottom - ((HEIGHT - PAD.top - PAD.bottom) * value) / top;
      const parts = [];
      for (const fraction of [0, 0.5, 1]) {
        const value = top * fraction;
        parts.push(element('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(value), y2: y(value), stroke: '#d0d7de', 'stroke-width': 1 }));
        parts.push(element('text', { x: PAD.left - 6, y: y(value) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#57606a' }, value.toLocaleString()));
      }
      parts.push(element('text', { x: PAD.left, y: HEIGHT - 6, 'font-size': 11, fill: '#57606a' }, `${Math.round(shown / 1000)} s ago`));
      parts.push(element('text', { x: WIDTH - PAD.right, y: HEIGHT - 6, 'text-anchor': 'end', 'font-size': 11, fill: '#57606a' }, 'now'));
      series.forEach(({ key, color }, index) => {
        const points = samples.map((s) => `${x(s.at, now).toFixed(1)},${y(s.values[key] ?? 0).toFixed(1)}`).join(' ');
        const width = 2 + 2.5 * (series.length - 1 - index);
        parts.push(element('polyline', { points, fill: 'none', stroke: color, 'stroke-width': width, 'stroke-linejoin': 'round', 'data-series': key }));
      });
      svg.replaceChildren(...parts);
    },
  };
}
