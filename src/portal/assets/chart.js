import uPlot from './vendor/uplot.js';
import { h } from './dom.js';

const COLORS = ['#3b82f6', '#ef4444', '#f59e0b', '#10b981', '#8b5cf6', '#ec4899'];

/**
 * A time-series chart (uPlot). `t` in epoch ms; `series` = [{ label, values }]. Sized to its container, and
 * resized with it. Returns the wrapper element.
 */
export function timeChart(title, t, series, { testid, format } = {}) {
  const wrapper = h('div', { class: 'chart', dataset: testid ? { testid } : undefined }, h('h3', {}, title));
  const target = h('div', { class: 'chart-body' });
  wrapper.append(target);
  const data = [t.map((ms) => ms / 1000), ...series.map((s) => s.values)];
  const opts = {
    width: 480,
    height: 200,
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true } },
    axes: [{}, { size: format ? 80 : 60, values: format ? (_u, ticks) => ticks.map(format) : undefined }],
    series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true,
      // Few measured points (a quiet window) are drawn as dots: a line needs two neighbours to show.
      points: { show: s.values.filter((v) => v !== null).length < 30, size: 6 }, ...(format ? { value: (_u, v) => (v === null ? '–' : format(v)) } : {}) }))],
  };
  // Drawn once the wrapper is in the document, at the width it gets there.
  requestAnimationFrame(() => {
    const plot = new uPlot({ ...opts, width: Math.max(240, target.clientWidth || 480) }, data, target);
    const observer = new ResizeObserver(() => {
      if (!target.isConnected) return observer.disconnect();
      plot.setSize({ width: Math.max(240, target.clientWidth), height: 200 });
    });
    observer.observe(target);
  });
  return wrapper;
}
