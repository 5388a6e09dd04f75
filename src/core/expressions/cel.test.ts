import { Environment } from '@marcbachmann/cel-js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createExpressionEnvironment, type AttributeDeclarations } from './cel.js';

const declarations: AttributeDeclarations = {
  amount: 'int',
  ratio: 'double',
  currency: 'string',
  flagged: 'bool',
  metadata: 'map<string, string>',
  card: { country: 'string', bin: 'string' },
};
const env = createExpressionEnvironment(declarations, {
  list: { returns: 'list<string>', handler: (extras, alias) => (extras as Record<string, string[]> | undefined)?.[alias] ?? [] },
});

/** cel-js evaluating every expression in full, the reference for the absent-attribute shortcut. */
function referenceMatches(source: string, values: Record<string, unknown>): boolean {
  const ref = new Environment({ homogeneousAggregateLiterals: true });
  for (const [name, type] of Object.entries(declarations)) {
    if (typeof type === 'string') ref.registerVariable(name, type);
    else ref.registerVariable({ name, schema: type });
  }
  ref.registerFunction('list(string): list<string>', () => ['x']);
  try {
    return ref.parse(source)(values) === true;
  } catch {
    return false;
  }
}

const compile = (s: string) => {
  const r = env.compile(s);
  if (!r.ok) throw new Error(`${s}: ${r.error.reason} at ${r.error.position}`);
  return r.value;
};

describe('createExpressionEnvironment', () => {
  it('lists `attribute in fn("literal")` tests, and tells when every call of a declared function is one', () => {
    const e = compile('card.country in list("bad_countries") || !(currency in list("odd"))');
    expect([...e.memberships].sort((a, b) => a.argument.localeCompare(b.argument))).toEqual([
      { function: 'list', argument: 'bad_countries', attribute: 'card.country' },
      { function: 'list', argument: 'odd', attribute: 'currency' },
    ]);
    expect(e.onlyMembership).toBe(true);
    // a cut-down list answers as the whole one for these
    const whole = { bad_countries: ['KP', 'IR', 'SY'], odd: ['XTS'] };
    const cut = { bad_countries: ['KP'], odd: [] };
    expect(e.matches({ card: { country: 'KP' }, currency: 'EUR' }, whole)).toBe(true);
    expect(e.matches({ card: { country: 'KP' }, currency: 'EUR' }, cut)).toBe(true);
    expect(e.matches({ card: { country: 'FR' }, currency: 'XTS' }, whole)).toBe(false);
    expect(e.matches({ card: { country: 'FR' }, currency: 'XTS' }, { bad_countries: [], odd: ['XTS'] })).toBe(false);
    for (const other of [
      'size(list("a")) > 2',
      'list("a").exists(x, currency.endsWith(x))',
      '"KP" in list("a")',
      'currency in list(currency)',
    ]) {
      expect(compile(other).onlyMembership, other).toBe(false);
    }
    expect(compile('amount > 1').onlyMembership).toBe(true);
  });

  it('evaluates a declared expression and lists the attributes it reads', () => {
    const e = compile('amount > 100 && card.country != "US" && metadata.channel == "web"');
    expect(e.matches({ amount: 250n, card: { country: 'FR', bin: '424242' }, metadata: { channel: 'web' } })).toBe(true);
    expect(e.matches({ amount: 50n, card: { country: 'FR', bin: '424242' }, metadata: { channel: 'web' } })).toBe(false);
    expect([...e.attributes].sort()).toEqual(['amount', 'card', 'card.country', 'metadata', 'metadata.channel']);
  });

  it('does not match when an attribute is missing, and never throws', () => {
    const e = compile('card.country == "FR"');
    expect(e.matches({})).toBe(false);
    expect(e.matches({ card: {} })).toBe(false);
    expect(compile('metadata.channel == "web"').matches({ metadata: {} })).toBe(false);
    expect(compile('amount / 0 > 1').matches({ amount: 5n })).toBe(false);
  });

  it('refuses an unknown attribute or field, a type mismatch, bad syntax, a non-bool, naming position and reason', () => {
    expect(env.compile('customer_tier == "gold"')).toEqual({
      ok: false,
      error: { position: 0, reason: 'Unknown variable: customer_tier' },
    });
    expect(env.compile('card.brand == "visa"')).toMatchObject({ ok: false, error: { position: 5, reason: 'No such key: brand' } });
    expect(env.compile('amount == "x"')).toMatchObject({ ok: false, error: { reason: 'no such overload: int == string' } });
    expect(env.compile('amount >')).toMatchObject({ ok: false, error: { position: 8, reason: 'Unexpected token: EOF' } });
    expect(env.compile('amount + 1')).toMatchObject({ ok: false, error: { reason: 'the expression must yield bool, not int' } });
    expect(env.compile('x'.repeat(2001))).toMatchObject({ ok: false });
  });

  it('refuses expressions that reach for the process or the prototype chain', () => {
    for (const s of [
      'process.env.HOME == ""',
      'globalThis.process != null',
      'require("fs") == null',
      'card.constructor == "x"',
      'metadata.constructor == "x"',
      'metadata["__proto__"] == "x"',
      'metadata.prototype == "x"',
      '"".constructor == "x"',
      'card.country.constructor.constructor("return process")() == null',
      'this.process == null',
    ]) {
      expect(env.compile(s).ok, s).toBe(false);
    }
  });

  it('calls a declared function with the evaluation extras', () => {
    const e = compile('card.bin in list("blocked_bins")');
    expect(e.matches({ card: { bin: '411111', country: 'US' } }, { blocked_bins: ['411111'] })).toBe(true);
    expect(e.matches({ card: { bin: '411111', country: 'US' } }, {})).toBe(false);
  });

  it('any generated expression is refused at creation, or compiles and evaluates without throwing', () => {
    const atom = fc.oneof(
      fc.constantFrom(
        'amount',
        'ratio',
        'currency',
        'flagged',
        'card.country',
        'card.bin',
        'metadata.k',
        'metadata["k"]',
        'nope',
        'card.nope',
      ),
      fc.constantFrom('constructor', '__proto__', 'process', 'card.constructor', 'list("a")', 'size(metadata)'),
      fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Number.isInteger(d) ? `${d}.0` : String(d))),
      fc.string({ maxLength: 6 }).map((s) => JSON.stringify(s)),
      fc.constantFrom('true', 'false', 'null', '[]', '{}'),
    );
    const expr: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
      e: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        atom,
        fc
          .tuple(tie('e'), fc.constantFrom('==', '!=', '<', '<=', '>', '>=', '&&', '||', '+', '-', '*', '/', '%', 'in'), tie('e'))
          .map(([a, op, b]) => `(${a} ${op} ${b})`),
        tie('e').map((a) => `!${a}`),
        fc.tuple(tie('e'), tie('e'), tie('e')).map(([a, b, c]) => `(${a} ? ${b} : ${c})`),
        fc
          .tuple(tie('e'), fc.constantFrom('size()', 'startsWith("a")', 'contains("1")', 'matches("^[0-9]+$")'))
          .map(([a, m]) => `${a}.${m}`),
      ),
    })).e;
    const values = fc.record(
      {
        amount: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        ratio: fc.double(),
        currency: fc.string(),
        flagged: fc.boolean(),
        metadata: fc.dictionary(fc.constantFrom('k', 'j'), fc.string()),
        card: fc.record({ country: fc.string(), bin: fc.string() }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(expr, fc.string({ maxLength: 40 })), values, (source, v) => {
        const r = env.compile(source);
        if (!r.ok) {
          expect(r.error.reason.length).toBeGreaterThan(0);
          expect(r.error.position).toBeGreaterThanOrEqual(0);
          return;
        }
        expect(typeof r.value.matches(v, { a: ['x'] })).toBe('boolean');
        // answering "no match" for an absent attribute without evaluating never changes the answer
        expect(r.value.matches(v, { a: ['x'] }), source).toBe(referenceMatches(source, v));
      }),
      { numRuns: 600 },
    );
  });

  it('still matches an expression that tests presence or can do without the absent attribute', () => {
    expect(compile('amount > 1 || card.country == "US"').matches({ amount: 2n })).toBe(true);
    expect(compile('has(card.country) ? card.country == "US" : amount > 1').matches({ amount: 2n, card: {} })).toBe(true);
    expect(compile('!has(card.bin) && amount > 1').matches({ amount: 2n, card: {} })).toBe(true);
    expect(compile('card.country == "US" && amount > 1').matches({ amount: 2n })).toBe(false);
  });

  it('answers a top-level `||` operand by operand, skipping one that reads an absent attribute, as CEL would', () => {
    const lists = { blocked: ['FR', '4242'] };
    const either = compile('card.country in list("blocked") || card.bin in list("blocked")');
    expect(either.matches({}, lists)).toBe(false);
    expect(either.matches({ card: { bin: '4242' } }, lists)).toBe(true);
    expect(either.matches({ card: { country: 'FR' } }, lists)).toBe(true);
    expect(either.matches({ card: { country: 'US', bin: '1111' } }, lists)).toBe(false);
    // An operand whose source range cel-js ends early (a closing parenthesis) is evaluated with the whole expression.
    const negated = compile('(amount > 10 && currency == "EUR") || !(currency == "USD") || card.bin == "1"');
    expect(negated.matches({ currency: 'USD', card: { bin: '1' } })).toBe(true);
    expect(negated.matches({ currency: 'USD', amount: 11n })).toBe(false);
    expect(negated.matches({ currency: 'GBP' })).toBe(true);
    expect(negated.matches({ currency: 'EUR', amount: 11n })).toBe(true);
  });
});

describe('renamed attributes', () => {
  const renamedEnv = createExpressionEnvironment({ _typ: 'string', data: 'map<string, dyn>' }, {}, { type: '_typ' });

  it('reads `type` through its stand-in, keeps positions, and names `type` in reasons and attributes', () => {
    const r = renamedEnv.compile('type == "a.b" && data.type == "c"');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.matches({ _typ: 'a.b', data: { type: 'c' } })).toBe(true);
    expect([...r.value.attributes].sort()).toEqual(['data', 'data.type', 'type']);
    const bad = renamedEnv.compile('data.x == 1 && type > 1');
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.error.reason).not.toContain('_typ');
    expect(bad.error.position).toBeGreaterThanOrEqual(15);
  });

  it('refuses a stand-in of another length, which would move positions', () => {
    expect(() => createExpressionEnvironment({ t: 'string' }, {}, { type: 't' })).toThrow(/as long/);
  });
});
