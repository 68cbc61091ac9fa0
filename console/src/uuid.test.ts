import { describe, expect, it } from 'vitest';
import { base64ToBytes, base64ToUuid, bytesToUuid, isUuid, newUuid, rootToUuid, uuidToBase64 } from './uuid';

// From the recorded stream (fixtures/stream-transfer.sse): the cover's root of
// player 5f0c0b8e-… and the payer 0b7d3c52-….
const A = '5f0c0b8e-3f5d-4c1e-9d55-6a7c7e0e2a11';
const A64 = 'XwwLjj9dTB6dVWp8fg4qEQ==';
const B = '0b7d3c52-8a1e-4f4e-9a2b-2c4d6e8f0a13';
const B64 = 'C308UooeT06aKyxNbo8KEw==';

describe('uuid', () => {
  it('reads the base64 root of an event stream cover as the UUID the gateway was sent', () => {
    expect(base64ToUuid(A64)).toBe(A);
    expect(rootToUuid({ value: B64 })).toBe(B);
    expect(rootToUuid(A.toUpperCase())).toBe(A);
  });

  it('round-trips through base64, standard and URL-safe, padded or not', () => {
    expect(uuidToBase64(A)).toBe(A64);
    expect(uuidToBase64(B)).toBe(B64);
    const urlSafe = B64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    expect(base64ToUuid(urlSafe)).toBe(B);
  });

  it('is not fooled by base64 of another length or by what is not base64', () => {
    expect(base64ToUuid('AAEC')).toBeNull(); // 3 bytes
    expect(base64ToBytes('not base64!')).toBeNull();
    expect(base64ToBytes('A')).toBeNull();
    expect(rootToUuid({ value: 'AAEC' })).toBeNull();
    expect(rootToUuid(42)).toBeNull();
    expect(bytesToUuid(new Uint8Array(15))).toBeNull();
    expect(() => uuidToBase64('nope')).toThrow(/not a UUID/);
  });

  it('knows a UUID when it sees one', () => {
    expect(isUuid(A)).toBe(true);
    expect(isUuid(` ${A.toUpperCase()} `)).toBe(true);
    expect(isUuid(A.replace(/-/g, ''))).toBe(false);
    expect(isUuid(`${A}0`)).toBe(false);
  });

  it('makes version 4 UUIDs', () => {
    const u = newUuid();
    expect(isUuid(u)).toBe(true);
    expect(u[14]).toBe('4');
    expect('89ab').toContain(u[19]);
    expect(newUuid((a) => a.fill(0xff))).toBe('ffffffff-ffff-4fff-bfff-ffffffffffff');
    expect(newUuid()).not.toBe(u);
  });
});
