import { expect } from 'vitest';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];

/**
 * A parser for the Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/#text-format-details), strict enough to fail on
 * what Prometheus would reject: bad names, unescaped label values, samples of a family with no TYPE line.
 */
export function parsePrometheusText(text: string): { samples: Sample[]; types: Map<string, string> } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      expect(name).toMatch(METRIC_NAME);
      expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(type);
      expect(types.has(name!)).toBe(false);
      types.set(name!, type!);
      continue;
    }
    if (line.startsWith('#')) continue;
    const nameEnd = line.search(/[{ ]/);
    const name = line.slice(0, nameEnd);
    expect(name).toMatch(METRIC_NAME);
    const labels: Record<string, string> = {};
    let i = nameEnd;
    if (line[i] === '{') {
      i++;
      while (line[i] !== '}') {
        const eq = line.indexOf('=', i);
        const labelName = line.slice(i, eq);
        expect(labelName).toMatch(LABEL_NAME);
        expect(line[eq + 1]).toBe('"');
        let value = '';
        let j = eq + 2;
        for (; line[j] !== '"'; j++) {
          if (line[j] === '\\') {
            j++;
            value += line[j] === 'n' ? '\n' : line[j];
          } else value += line[j];
          expect(j).toBeLessThan(line.length);
        }
        labels[labelName] = value;
        i = j + 1;
        if (line[i] === ',') i++;
      }
      i++;
    }
    const [valueText, timestamp] = line.slice(i).trim().split(' ');
    expect(timestamp === undefined || /^-?\d+$/.test(timestamp)).toBe(true);
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    // Go's ParseFloat, which Prometheus uses, reads NaN case-insensitively (prom-client writes an idle event loop's "Nan").
    expect(Number.isNaN(value) && !/^nan$/i.test(valueText ?? ''), `bad value in: ${line}`).toBe(false);
    const family = types.has(name) ? name : HISTOGRAM_SUFFIXES.map((s) => (name.endsWith(s) ? name.slice(0, -s.length) : '')).find((f) => types.get(f) === 'histogram');
    expect(family, `sample ${name} has no TYPE`).toBeTruthy();
    samples.push({ name, labels, value });
  }
  return { samples, types };
}
