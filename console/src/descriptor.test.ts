import { describe, expect, it } from 'vitest';
import type { Types } from './api';
import recorded from '../fixtures/types.json';
import { bytesUuids, describeFields, indexTypes, parseJson, template, validateBody } from './descriptor';

const index = indexTypes(recorded as Types);
const messages = (typeName: string, body: unknown) =>
  validateBody(index, typeName, body).map((p) => `${p.path}: ${p.message}`);

describe('command bodies against the descriptors', () => {
  it('accepts what the gateway accepted (the bodies the README sends)', () => {
    expect(messages('examples.RegisterPlayer', { displayName: 'Ada', email: 'ada@example.com' })).toEqual([]);
    expect(messages('examples.DepositFunds', { amount: { amount: '100', currencyCode: 'USD' } })).toEqual([]);
    expect(messages('examples.DepositFunds', { amount: { amount: 100, currency_code: 'USD' } })).toEqual([]); // proto names, numbers for int64
    expect(messages('examples.DepositFunds', { amount: null })).toEqual([]);
    expect(messages('examples.DepositFunds', {})).toEqual([]);
  });

  it('refuses the misspelled field the gateway refused (fixtures/send-invalid.json), naming the fields there are', () => {
    expect(messages('examples.RegisterPlayer', { displayNam: 'x' })).toEqual([
      expect.stringMatching(
        /^displayNam: examples.RegisterPlayer has no field `displayNam` \(its fields: displayName, email/,
      ),
    ]);
  });

  it('checks nested messages, scalars, lists and bytes', () => {
    expect(messages('examples.DepositFunds', { amount: { amount: 1.5 } })).toEqual([
      'amount.amount: int64 must be a whole number, not 1.5',
    ]);
    expect(messages('examples.DepositFunds', { amount: { amount: 'ten' } })).toEqual([
      'amount.amount: int64 must be a whole number (or a string of one), not "ten"',
    ]);
    expect(messages('examples.DepositFunds', { amount: { amount: '99999999999999999999' } })).toEqual([
      expect.stringMatching(/^amount.amount: int64 out of range/),
    ]);
    expect(messages('examples.DepositFunds', { amount: 'USD 5' })).toEqual([
      'amount: examples.Currency must be an object, not "USD 5"',
    ]);
    expect(messages('examples.RegisterPlayer', { displayName: 5 })).toEqual(['displayName: string expected, not 5']);
    expect(messages('examples.RegisterPlayer', { displayName: 'a', display_name: 'b' })).toEqual([
      'display_name: `display_name` and `displayName` are the same field',
    ]);
    const b = '0b7d3c52-8a1e-4f4e-9a2b-2c4d6e8f0a13';
    expect(messages('examples.TransferFunds', { fromPlayerRoot: b })).toEqual([
      `fromPlayerRoot: bytes must be base64: the UUID ${b} is "C308UooeT06aKyxNbo8KEw=="`,
    ]);
    expect(messages('examples.TransferFunds', { fromPlayerRoot: 'C308UooeT06aKyxNbo8KEw==' })).toEqual([]);
    const repeated = [...index.values()].flatMap((t) =>
      t.fields.filter((f) => f.repeated).map((f) => [t.name, f] as const),
    )[0]!;
    expect(messages(repeated[0], { [repeated[1].jsonName]: 'one' })).toEqual([
      `${repeated[1].jsonName}: repeated field: a list expected, not "one"`,
    ]);
    expect(messages(repeated[0], { [repeated[1].jsonName]: [] })).toEqual([]);
  });

  it('refuses what is not an object of a known type', () => {
    expect(messages('examples.Nope', {})).toEqual([': the gateway knows no message type `examples.Nope`']);
    expect(messages('examples.RegisterPlayer', [])).toEqual([
      ': the body must be a JSON object (examples.RegisterPlayer), not []',
    ]);
    expect(parseJson('{"a":')).toMatchObject({ ok: false, message: expect.stringMatching(/^not JSON/) });
  });

  it('writes a template that is itself valid, for every type the gateway knows', () => {
    expect(template(index, 'examples.DepositFunds')).toEqual({ amount: { amount: '0', currencyCode: '' } });
    for (const name of index.keys()) expect(messages(name, template(index, name)), name).toEqual([]);
    expect(describeFields(index.get('examples.DepositFunds')!)).toEqual(['amount: examples.Currency']);
  });

  it('shows the UUIDs that bytes fields hold', () => {
    expect(
      bytesUuids(index, 'examples.FundsTransferred', {
        fromPlayerRoot: 'C308UooeT06aKyxNbo8KEw==',
        reason: 'C308UooeT06aKyxNbo8KEw==',
      }),
    ).toEqual([{ path: 'fromPlayerRoot', uuid: '0b7d3c52-8a1e-4f4e-9a2b-2c4d6e8f0a13' }]);
    expect(bytesUuids(index, 'examples.FundsTransferred', { fromPlayerRoot: 'AAEC' })).toEqual([]);
  });
});
