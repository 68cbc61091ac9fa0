import { describe, expect, it } from 'vitest';
import recorded from '../fixtures/stream-transfer.sse?raw';
import { decodeEventBook, formatTime, shortName, typeName } from './stream';

/** The `event` messages of a recorded Server-Sent Events response. */
function sseEvents(text: string): { event: string; data: string }[] {
  return text
    .split(/\n\n+/)
    .filter((block) => block.trim() !== '')
    .map((block) => {
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      return { event, data: data.join('\n') };
    });
}

describe('event stream', () => {
  it('reads a transfer and the withdrawal its saga caused, roots as UUIDs', () => {
    const rows = sseEvents(recorded)
      .filter((e) => e.event === 'event')
      .flatMap((e) => decodeEventBook(e.data));
    expect(rows).toHaveLength(2);
    const [transfer, withdrawal] = rows;
    expect(transfer).toMatchObject({
      domain: 'player',
      root: '5f0c0b8e-3f5d-4c1e-9d55-6a7c7e0e2a11',
      correlationId: 'corr-xfer',
      sequence: 3,
      type: 'examples.FundsTransferred',
      createdAt: '2026-12-01T09:10:48.463245283Z',
      causedBy: null,
    });
    expect(transfer!.event).not.toHaveProperty('@type');
    expect(transfer!.event.reason).toBe('pot');
    expect(withdrawal).toMatchObject({
      root: '0b7d3c52-8a1e-4f4e-9a2b-2c4d6e8f0a13',
      sequence: 2,
      type: 'examples.FundsWithdrawn',
      causedBy: { domain: 'player', root: '5f0c0b8e-3f5d-4c1e-9d55-6a7c7e0e2a11' },
    });
  });

  it('reads a left-out sequence as 0 (proto3 JSON omits defaults) and tolerates an empty book', () => {
    const rows = decodeEventBook({
      cover: { domain: 'player', root: { value: 'XwwLjj9dTB6dVWp8fg4qEQ==' }, correlationId: 'c' },
      pages: [{ header: {}, event: { '@type': 'type.googleapis.com/examples.PlayerRegistered', displayName: 'Ada' } }],
    });
    expect(rows[0]).toMatchObject({ sequence: 0, type: 'examples.PlayerRegistered', event: { displayName: 'Ada' } });
    expect(decodeEventBook('{}')).toEqual([]);
    expect(() => decodeEventBook('not json')).toThrow();
  });

  it('names types and times briefly', () => {
    expect(typeName('type.googleapis.com/examples.FundsDeposited')).toBe('examples.FundsDeposited');
    expect(shortName('examples.FundsDeposited')).toBe('FundsDeposited');
    expect(formatTime('2026-12-01T09:10:48.463245283Z')).toBe('2026-12-01 09:10:48.463Z');
    expect(formatTime(null)).toBe('—');
    expect(formatTime('garbage')).toBe('garbage');
  });
});
