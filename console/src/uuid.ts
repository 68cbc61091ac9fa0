/**
 * UUIDs as people read them. The contract's `UUID` message travels in
 * proto3 JSON as `{"value": "<base64 of 16 bytes>"}` (the event stream's
 * covers) and `bytes` fields as plain base64; the pages show both as
 * hyphenated UUIDs.
 */

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `s` is a hyphenated UUID (any version, any case). */
export function isUuid(s: string): boolean {
  return UUID_RE.test(s.trim());
}

/** The bytes of standard or URL-safe base64 (padding optional); null when it is not base64. */
export function base64ToBytes(b64: string): Uint8Array | null {
  let s = b64.trim().replace(/-/g, '+').replace(/_/g, '/');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
  s = s.replace(/=+$/, '');
  if (s.length % 4 === 1) return null;
  s += '='.repeat((4 - (s.length % 4)) % 4);
  try {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

/** Standard base64 of `bytes`. */
export function bytesToBase64(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** The hyphenated lowercase UUID of 16 bytes; null for any other length. */
export function bytesToUuid(bytes: Uint8Array): string | null {
  if (bytes.length !== 16) return null;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The UUID that base64 `b64` encodes, or null when it is not 16 bytes of base64. */
export function base64ToUuid(b64: string): string | null {
  const bytes = base64ToBytes(b64);
  return bytes ? bytesToUuid(bytes) : null;
}

/** Base64 of a UUID's 16 bytes (what a `bytes` field or `UUID.value` wants). */
export function uuidToBase64(uuid: string): string {
  if (!isUuid(uuid)) throw new Error(`\`${uuid}\` is not a UUID`);
  const hex = uuid.trim().replace(/-/g, '');
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytesToBase64(bytes);
}

/**
 * A root as the API hands it over — `{"value": base64}` (proto3 JSON of
 * `angzarr.UUID`) or already a UUID string — as UUID text; null when it is
 * neither.
 */
export function rootToUuid(root: unknown): string | null {
  if (typeof root === 'string') return isUuid(root) ? root.trim().toLowerCase() : base64ToUuid(root);
  if (root && typeof root === 'object' && typeof (root as { value?: unknown }).value === 'string') {
    return base64ToUuid((root as { value: string }).value);
  }
  return null;
}

/** A random (version 4) UUID; works outside secure contexts too. */
export function newUuid(random: (a: Uint8Array) => Uint8Array = (a) => crypto.getRandomValues(a)): string {
  const b = random(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return bytesToUuid(b)!;
}
