/**
 * The lag history chart, drawn as an SVG path: no chart library for one
 * line. x is time (the span of the points), y is lag from 0 to the largest
 * value, so a flat line at the bottom means "caught up".
 */

import type { Point } from './lag';

export interface Chart {
  /** The line (`M x y L x y ...`); '' with no points. */
  line: string;
  /** The area under the line, closed along the bottom; '' with fewer than two points. */
  area: string;
  max: number;
  min: number;
  last: number | null;
  /** Milliseconds between the first and the last point. */
  span: number;
}

const r = (n: number) => Math.round(n * 10) / 10;

export function chart(points: Point[], width: number, height: number, pad = 2): Chart {
  if (points.length === 0) return { line: '', area: '', max: 0, min: 0, last: null, span: 0 };
  const first = points[0]!.at;
  const span = points[points.length - 1]!.at - first;
  let max = 0;
  let min = Infinity;
  for (const p of points) {
    max = Math.max(max, p.lag);
    min = Math.min(min, p.lag);
  }
  const w = width - 2 * pad;
  const hgt = height - 2 * pad;
  const x = (at: number) => r(pad + (span === 0 ? w : ((at - first) / span) * w));
  const y = (lag: number) => r(pad + hgt - (max === 0 ? 0 : (lag / max) * hgt));
  const line = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.at)} ${y(p.lag)}`).join(' ');
  const bottom = r(pad + hgt);
  const area =
    points.length < 2 ? '' : `${line} L${x(points[points.length - 1]!.at)} ${bottom} L${x(first)} ${bottom} Z`;
  return { line, area, max, min, last: points[points.length - 1]!.lag, span };
}

/** What the chart shows, in words (its accessible name). */
export function describeChart(c: Chart): string {
  if (c.last === null) return 'no samples yet';
  const secs = Math.round(c.span / 1000);
  return `lag now ${c.last}; over the last ${secs} s between ${c.min} and ${c.max}`;
}
