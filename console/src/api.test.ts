import { describe, expect, it } from 'vitest';
import notFound from '../fixtures/error-not-found.json';
import badUuid from '../fixtures/error-invalid-uuid.json';
import book from '../fixtures/book-player.json';
import { Api, ApiError, describeError } from './api';

type Call = { url: string; init: RequestInit | undefined };

function fake(status: number, body: string): { api: Api; calls: Call[] } {
  const calls: Call[] = [];
  const api = new Api('http://gw', async (url, init) => {
    calls.push({ url, init });
    return new Response(body, { status, headers: { 'content-type': 'application/json' } });
  });
  return { api, calls };
}

describe('api', () => {
  it('asks the contract’s paths, escaping what it must', async () => {
    const { api, calls } = fake(200, JSON.stringify(book));
    expect((await api.book('player', '5f0c0b8e-3f5d-4c1e-9d55-6a7c7e0e2a11')).events).toHaveLength(book.events.length);
    await api.book('player', 'x', 3);
    await api.roots('hand flow', null, 50);
    await api.roots('player', '5f0c0b8e-3f5d-4c1e-9d55-6a7c7e0e2a11', 10);
    expect(calls.map((c) => c.url)).toEqual([
      'http://gw/v1/books/player/5f0c0b8e-3f5d-4c1e-9d55-6a7c7e0e2a11',
      'http://gw/v1/books/player/x?asOfSequence=3',
      'http://gw/v1/roots/hand%20flow?limit=50',
      'http://gw/v1/roots/player?limit=10&after=5f0c0b8e-3f5d-4c1e-9d55-6a7c7e0e2a11',
    ]);
    expect(api.streamUrl('a/b c')).toBe('http://gw/v1/stream/a%2Fb%20c');
  });

  it('posts a send as JSON', async () => {
    const { api, calls } = fake(200, '{"accepted":true,"response":{}}');
    await api.send({ domain: 'player', root: 'r', type: 't', body: { a: 1 }, syncMode: 'DECISION', sequence: null });
    expect(calls[0]!.init?.method).toBe('POST');
    expect(JSON.parse(String(calls[0]!.init?.body))).toEqual({
      domain: 'player',
      root: 'r',
      type: 't',
      body: { a: 1 },
      syncMode: 'DECISION',
      sequence: null,
    });
  });

  it('carries the server’s code and message verbatim', async () => {
    for (const [status, body] of [
      [404, notFound],
      [400, badUuid],
    ] as const) {
      const { api } = fake(status, JSON.stringify(body));
      const e = await api.book('x', 'y').catch((e: unknown) => e);
      expect(e).toBeInstanceOf(ApiError);
      expect(e).toMatchObject({ status, code: body.code, message: body.message });
      expect(describeError(e)).toBe(`${body.code}: ${body.message}`);
    }
  });

  it('says what happened when the answer is not the API’s JSON, or there is no answer', async () => {
    const { api } = fake(502, 'Bad Gateway');
    await expect(api.status()).rejects.toMatchObject({ code: 'HTTP_502', message: 'Bad Gateway' });
    const down = new Api('', async () => {
      throw new TypeError('Failed to fetch');
    });
    await expect(down.lag()).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringContaining('Failed to fetch'),
    });
    const html = fake(200, '<html>');
    await expect(html.api.config()).rejects.toMatchObject({ code: 'INTERNAL' });
  });
});
