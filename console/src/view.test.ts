import { describe, expect, it } from 'vitest';
import book from '../fixtures/book-player.json';
import { compactJson } from './view';
import { asOfRange, sequenceAtTime } from './pages/aggregates';
import type { Book } from './api';

describe('compact JSON', () => {
  it('keeps short objects on one line and breaks long ones, and reads back the same', () => {
    const v = { amount: { amount: '100', currencyCode: 'USD' }, reason: 'a { b } [c]', list: [1, 2], n: null };
    expect(compactJson(v, 200)).toBe(
      '{"amount": {"amount": "100", "currencyCode": "USD"}, "reason": "a { b } [c]", "list": [1, 2], "n": null}',
    );
    const broken = compactJson(v, 60);
    expect(broken.split('\n')[1]).toBe('  "amount": {"amount": "100", "currencyCode": "USD"},');
    expect(JSON.parse(broken)).toEqual(v);
    expect(compactJson(undefined)).toBe('null');
  });
});

describe('as of', () => {
  const b = book as Book;
  it('offers the range from the first event (or the snapshot) to the last', () => {
    expect(asOfRange(b)).toEqual({ min: 0, max: b.events.length - 1 });
    expect(asOfRange({ ...b, snapshot: { sequence: 2, state: {} } })).toEqual({ min: 2, max: b.events.length - 1 });
    expect(asOfRange({ ...b, events: [] })).toBeNull();
  });

  it('finds the last event at or before a time', () => {
    const t1 = Date.parse(b.events[1]!.createdAt!);
    expect(sequenceAtTime(b.events, t1)).toBe(1);
    expect(sequenceAtTime(b.events, t1 - 1)).toBe(0);
    expect(sequenceAtTime(b.events, 0)).toBeNull();
  });
});
