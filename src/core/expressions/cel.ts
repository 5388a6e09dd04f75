// CEL (Common Expression Language, github.com/google/cel-spec) through @marcbachmann/cel-js: expressions are
// type-checked against a declared set of attributes when they are created, evaluated later against plain objects.
// Generic: risk rules use it, and so may any feature that lets a merchant write a condition.
import { Environment } from '@marcbachmann/cel-js';
import { err, ok, type Result } from '../result.js';

/** A CEL type an attribute may be declared with (cel-js type names). */
export type CelType = 'int' | 'double' | 'string' | 'bool' | 'map<string, string>' | 'list<string>' | 'map<string, dyn>';

/** Declared attributes: a top-level name → its type, or → the fields of an object attribute (`card.fingerprint`). */
export type AttributeDeclarations = Record<string, CelType | Record<string, CelType>>;

/**
 * A function expressions may call, `name(string): <returns>`; `handler` gets the evaluation's `extras`
 * ({@link CompiledExpression.matches}) and the argument, and must not throw.
 */
export interface ExpressionFunction {
  returns: CelType;
  handler: (extras: unknown, arg: string) => unknown;
}

/** Where and why an expression was refused: `position` is the 0-based character offset of the fault. */
export interface ExpressionProblem {
  position: number;
  reason: string;
}

/** Limits that keep one expression cheap to check and to run. */
const LIMITS = { maxAstNodes: 400, maxDepth: 32, maxListElements: 200, maxMapEntries: 50, maxCallArguments: 4 };
/** Longest accepted expression, characters. */
export const MAX_EXPRESSION_LENGTH = 2000;
/** Names that reach JavaScript's object model: refused as field or key names even where a map would allow them. */
const FORBIDDEN_KEYS = new Set(['constructor', '__proto__', 'prototype', '__defineGetter__', '__defineSetter__', '__lookupGetter__']);

/** A checked, parsed expression; evaluate it as often as needed. */
export interface CompiledExpression {
  readonly source: string;
  /** Attributes the expression reads: top-level names and `object.field` paths. */
  readonly attributes: ReadonlySet<string>;
  /** Declared functions the expression calls. */
  readonly functions: ReadonlySet<string>;
  /**
   * The calls `attribute in fn("literal")` (attribute a top-level name or `object.field`), and whether every call of a
   * declared function is one of them (`onlyMembership`): then the answer depends only on whether the function's result
   * holds the attribute's value, so a caller may hand the function a result cut down to the values it may be asked about.
   */
  readonly memberships: readonly Membership[];
  readonly onlyMembership: boolean;
  /**
   * True when the expression evaluates to `true` on `values`; false otherwise, also when it reads an attribute
   * missing from `values` or fails at run time (division by zero, overflow). Never throws.
   */
  matches(values: Readonly<Record<string, unknown>>, extras?: unknown): boolean;
}

/** One `attribute in fn("argument")` test of an expression. */
export interface Membership {
  function: string;
  argument: string;
  /** `name` or `name.field`, as the expression names it. */
  attribute: string;
}

/**
 * Attributes whose name CEL itself takes (`type` is a built-in type name): the expression says `type`, the
 * environment declares it under a stand-in of the same length (so positions stay right), e.g. `{ type: '_typ' }`.
 * Only a bare identifier is renamed: `type(x)` and `data.type` keep their meaning.
 */
export type RenamedAttributes = Readonly<Record<string, string>>;

/** An environment: declared attributes and functions; compile expressions against it. */
export interface ExpressionEnvironment {
  /**
   * Parses and type-checks `source` (a CEL expression that must yield bool). Errors name the position and the
   * reason: a syntax error, an undeclared attribute or field, a type mismatch, a forbidden name, a limit exceeded.
   * @example
   * const env = createExpressionEnvironment({ amount: 'int', card: { country: 'string' } });
   * const r = env.compile('amount > 100000 && card.country != "US"');
   * if (r.ok) r.value.matches({ amount: 250000n, card: { country: 'FR' } }); // true
   */
  compile(source: string): Result<CompiledExpression, ExpressionProblem>;
}

// The extras of the evaluation running now. Evaluation is synchronous (no async function is registered), so no
// other evaluation can interleave between setting and clearing it.
let currentExtras: unknown;

/**
 * Builds an environment over `attributes` (values given to {@link CompiledExpression.matches}: int attributes as
 * bigint, double as number) and `functions` (one string argument each). Build it once; it is not cheap.
 */
export function createExpressionEnvironment(
  attributes: AttributeDeclarations,
  functions: Record<string, ExpressionFunction> = {},
  renamed: RenamedAttributes = {},
): ExpressionEnvironment {
  for (const [name, standIn] of Object.entries(renamed)) {
    if (standIn.length !== name.length) throw new Error(`the stand-in for ${name} must be as long as it`);
  }
  const env = new Environment({ limits: LIMITS, homogeneousAggregateLiterals: true });
  const declarations = attributes;
  for (const [name, type] of Object.entries(attributes)) {
    if (typeof type === 'string') env.registerVariable(name, type);
    else env.registerVariable({ name, schema: type });
  }
  for (const [name, fn] of Object.entries(functions)) {
    env.registerFunction(`${name}(string): ${fn.returns}`, (arg: string) => fn.handler(currentExtras, arg));
  }
  return {
    compile(source) {
      if (source.length > MAX_EXPRESSION_LENGTH)
        return err({ position: MAX_EXPRESSION_LENGTH, reason: `longer than ${MAX_EXPRESSION_LENGTH} characters` });
      let parsed: ReturnType<Environment['parse']>;
      // what is parsed: `source` with renamed attributes under their stand-ins (same offsets)
      let text = source;
      try {
        parsed = env.parse(source);
        text = renameIdentifiers(source, parsed.ast as AstNode, renamed);
        if (text !== source) parsed = env.parse(text);
      } catch (e) {
        return err(problemOf(e, renamed));
      }
      const walked = walk(parsed.ast as AstNode, new Set(Object.keys(functions)));
      if (!walked.ok) return walked;
      let checked: ReturnType<typeof parsed.check>;
      try {
        checked = parsed.check();
      } catch (e) {
        return err(problemOf(e, renamed));
      }
      if (!checked.valid) return err(problemOf(checked.error, renamed));
      if (checked.type !== 'bool') return err({ position: 0, reason: `the expression must yield bool, not ${String(checked.type)}` });
      const { functions: called, memberships, declaredCalls } = walked.value;
      const attributes = publicNames(walked.value.attributes, renamed);
      const whole = evaluatorOf(parsed, walked.value);
      // `a || b || …`: each operand evaluated alone, in order, so an operand reading an absent attribute is skipped
      // without cel-js's error (CEL's `||` yields true when any operand is true, whatever the others yield).
      const operands = disjunctsOf(parsed.ast as AstNode);
      const split: Evaluator[] = [];
      if (operands) {
        for (const node of operands) {
          const one = compileOperand(text.slice(node.start!, node.end!), node);
          if (!one) break;
          split.push(one);
        }
      }
      const evaluate = operands && split.length === operands.length ? (values: Values) => split.some((e) => e(values)) : whole;
      return ok({
        source,
        attributes,
        functions: called,
        memberships: memberships.map((m) => ({
          ...m,
          attribute: publicNames(new Set([m.attribute]), renamed)
            .values()
            .next().value!,
        })),
        onlyMembership: memberships.length === declaredCalls,
        matches(values, extras) {
          currentExtras = extras;
          try {
            return evaluate(values);
          } finally {
            currentExtras = undefined;
          }
        },
      });
    },
  };

  /**
   * An operand of a top-level `||` (`text`, its source range), parsed and checked on its own; undefined when the
   * range does not parse to the same tree as `node` (cel-js's ranges can miss a closing parenthesis) or does not
   * stand alone as a bool.
   */
  function compileOperand(text: string, node: AstNode): Evaluator | undefined {
    try {
      const parsed = env.parse(text);
      if (!sameTree(parsed.ast, node)) return undefined;
      const checked = parsed.check();
      if (!checked.valid || checked.type !== 'bool') return undefined;
      const walked = walk(parsed.ast as AstNode, new Set(Object.keys(functions)));
      return walked.ok ? evaluatorOf(parsed, walked.value) : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * True when `parsed` yields `true` on the values; false otherwise. A strict expression reading an absent attribute
   * cannot yield true: answered without evaluating, since cel-js's error for the absent value (with its formatted
   * message) is most of an evaluation's cost.
   */
  function evaluatorOf(
    parsed: (values: Record<string, unknown>) => unknown,
    walked: { attributes: Set<string>; strict: boolean },
  ): Evaluator {
    // the paths as evaluated (a renamed attribute under its stand-in)
    const paths = walked.strict
      ? [...walked.attributes].map((a) => a.split('.')).filter((path) => Object.hasOwn(declarations, path[0]!))
      : [];
    return (values) => {
      for (const path of paths) if (!present(values, path)) return false;
      try {
        return parsed(values as Record<string, unknown>) === true;
      } catch {
        return false;
      }
    };
  }
}

/** Whether two parse trees have the same operators and values, wherever they stand in their sources. */
function sameTree(a: unknown, b: unknown): boolean {
  if (isNode(a) || isNode(b)) return isNode(a) && isNode(b) && a.op === b.op && sameTree(a.args, b.args);
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameTree(x, b[i]));
  }
  return Object.is(a, b);
}

type Values = Readonly<Record<string, unknown>>;
/** A compiled expression or operand: true when it yields `true` on the values. Never throws. */
type Evaluator = (values: Values) => boolean;

/** The operands of a top-level `a || b || …` (nested `||` flattened, in order), each with its source range; else undefined. */
function disjunctsOf(root: AstNode): AstNode[] | undefined {
  if (root.op !== '||') return undefined;
  const out: AstNode[] = [];
  const visit = (node: unknown): boolean => {
    if (!isNode(node)) return false;
    if (node.op === '||' && Array.isArray(node.args)) return node.args.every(visit);
    if (node.start === undefined || node.end === undefined) return false;
    out.push(node);
    return true;
  };
  return visit(root) ? out : undefined;
}

interface AstNode {
  op: string;
  args: unknown;
  start?: number;
  end?: number;
}

const isNode = (x: unknown): x is AstNode => typeof x === 'object' && x !== null && 'op' in x;

/**
 * Operators and macros that can turn an error (an absent attribute) into a value: `error || true` is true, a
 * ternary or a comprehension may not evaluate the branch that reads it, `has()` and `.orValue()` test presence.
 */
const ABSORBING_OPS = new Set(['||', '?:']);
const ABSORBING_CALLS = new Set(['has', 'all', 'exists', 'exists_one', 'map', 'filter', 'orValue', 'or', 'optMap', 'optFlatMap', 'bind']);

/** True when `values` holds a value at `path` (`["card", "country"]`); maps count as present at any key they hold. */
function present(values: Readonly<Record<string, unknown>>, path: readonly string[]): boolean {
  let x: unknown = values;
  for (const key of path) {
    if (typeof x !== 'object' || x === null || !Object.hasOwn(x, key)) return false;
    x = (x as Record<string, unknown>)[key];
  }
  return x !== undefined;
}

/**
 * Collects the attributes read and refuses forbidden field names (`a.constructor`, `a["__proto__"]`). `strict`: no
 * operator or macro of {@link ABSORBING_OPS} / {@link ABSORBING_CALLS}, so any absent attribute makes the result an
 * error or false.
 */
function walk(
  root: AstNode,
  declared: ReadonlySet<string>,
): Result<
  { attributes: Set<string>; functions: Set<string>; strict: boolean; memberships: Membership[]; declaredCalls: number },
  ExpressionProblem
> {
  const attributes = new Set<string>();
  const functions = new Set<string>();
  const memberships: Membership[] = [];
  let declaredCalls = 0;
  let strict = true;
  const stack: AstNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const args = node.args;
    if (node.op === 'id' && typeof args === 'string') attributes.add(args);
    if (node.op === 'call' && Array.isArray(args) && typeof args[0] === 'string') {
      functions.add(args[0]);
      if (declared.has(args[0])) declaredCalls += 1;
    }
    if (node.op === 'in' && Array.isArray(args)) {
      const m = membershipOf(args[0], args[1], declared);
      if (m) memberships.push(m);
    }
    if (ABSORBING_OPS.has(node.op) || node.op.includes('?')) strict = false;
    if ((node.op === 'call' || node.op === 'rcall') && Array.isArray(args) && ABSORBING_CALLS.has(String(args[0]))) strict = false;
    if ((node.op === '.' || node.op === '.?') && Array.isArray(args) && typeof args[1] === 'string') {
      if (FORBIDDEN_KEYS.has(args[1])) {
        return err({ position: Math.max(0, (node.end ?? 0) - args[1].length), reason: `the field name ${args[1]} is not allowed` });
      }
      const base = args[0];
      if (isNode(base) && base.op === 'id' && typeof base.args === 'string') attributes.add(`${base.args}.${args[1]}`);
    }
    if ((node.op === '[]' || node.op === '[?]') && Array.isArray(args) && isNode(args[1]) && args[1].op === 'value') {
      const key = args[1].args;
      if (typeof key === 'string' && FORBIDDEN_KEYS.has(key))
        return err({ position: args[1].start ?? 0, reason: `the key ${key} is not allowed` });
    }
    if (Array.isArray(args)) for (const a of args) pushNodes(stack, a);
    else pushNodes(stack, args);
  }
  return ok({ attributes, functions, strict, memberships, declaredCalls });
}

/** `left in right` as a {@link Membership}: `right` a declared function called with one string literal, `left` an attribute path. */
function membershipOf(left: unknown, right: unknown, declared: ReadonlySet<string>): Membership | undefined {
  if (!isNode(right) || right.op !== 'call' || !Array.isArray(right.args)) return undefined;
  const [name, callArgs] = right.args as [unknown, unknown];
  if (typeof name !== 'string' || !declared.has(name) || !Array.isArray(callArgs) || callArgs.length !== 1) return undefined;
  const arg = callArgs[0];
  if (!isNode(arg) || arg.op !== 'value' || typeof arg.args !== 'string') return undefined;
  if (!isNode(left)) return undefined;
  if (left.op === 'id' && typeof left.args === 'string') return { function: name, argument: arg.args, attribute: left.args };
  if (left.op === '.' && Array.isArray(left.args)) {
    const [base, field] = left.args as [unknown, unknown];
    if (isNode(base) && base.op === 'id' && typeof base.args === 'string' && typeof field === 'string')
      return { function: name, argument: arg.args, attribute: `${base.args}.${field}` };
  }
  return undefined;
}

function pushNodes(stack: AstNode[], x: unknown): void {
  if (isNode(x)) stack.push(x);
  else if (Array.isArray(x)) for (const y of x) pushNodes(stack, y);
}

/** `source` with each bare identifier named in `renamed` replaced by its stand-in (same length, so offsets hold). */
function renameIdentifiers(source: string, root: AstNode, renamed: RenamedAttributes): string {
  if (Object.keys(renamed).length === 0) return source;
  const at: { start: number; to: string }[] = [];
  const stack: AstNode[] = [root];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node.op === 'id' && typeof node.args === 'string' && Object.hasOwn(renamed, node.args) && node.start !== undefined) {
      at.push({ start: node.start, to: renamed[node.args]! });
    }
    pushNodes(stack, node.args);
  }
  let text = source;
  for (const { start, to } of at) text = text.slice(0, start) + to + text.slice(start + to.length);
  return text;
}

/** The attributes read, named as the expression names them (a stand-in back to its name, also in `name.field`). */
function publicNames(attributes: Set<string>, renamed: RenamedAttributes): Set<string> {
  const entries = Object.entries(renamed);
  if (entries.length === 0) return attributes;
  const back = new Map(entries.map(([name, standIn]) => [standIn, name]));
  return new Set(
    [...attributes].map((a) => {
      const dot = a.indexOf('.');
      const head = dot < 0 ? a : a.slice(0, dot);
      const name = back.get(head);
      return name === undefined ? a : name + a.slice(head.length);
    }),
  );
}

/** cel-js errors carry `summary` (the reason) and `range.start` (the offset); anything else becomes position 0. */
function problemOf(e: unknown, renamed: RenamedAttributes = {}): ExpressionProblem {
  const x = e as { summary?: unknown; message?: unknown; range?: { start?: unknown } } | undefined;
  let reason =
    typeof x?.summary === 'string' ? x.summary : typeof x?.message === 'string' ? x.message.split('\n')[0]! : 'invalid expression';
  for (const [name, standIn] of Object.entries(renamed)) reason = reason.replaceAll(standIn, name);
  const position = typeof x?.range?.start === 'number' ? x.range.start : 0;
  return { position, reason };
}
