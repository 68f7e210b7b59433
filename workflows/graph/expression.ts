// A small, safe condition language for JSON graphs: a tokenizer and a recursive-descent parser compiled to
// closures. Only state field paths, literals, comparisons and boolean logic; no calls, no eval, no prototypes.
//
//   expr    := or
//   or      := and ('||' and)*
//   and     := unary ('&&' unary)*
//   unary   := '!' unary | compare
//   compare := primary (('=='|'!='|'<'|'<='|'>'|'>=') primary)?
//   primary := '-'? number | string | 'true' | 'false' | 'null' | path | '(' expr ')'
//   path    := ident ('.' ident)*

import { WorkflowError, WorkflowErrorCode } from './errors.js';

/** Longest expression accepted, in characters. */
export const MAX_EXPRESSION_LENGTH = 1000;
/** Deepest nesting accepted. */
export const MAX_EXPRESSION_DEPTH = 32;

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

type Token =
  | { t: 'num'; v: number; at: number }
  | { t: 'str'; v: string; at: number }
  | { t: 'id'; v: string; at: number }
  | { t: 'op'; v: string; at: number }
  | { t: 'end'; at: number };

export type Expression = (state: unknown) => unknown;

function syntax(source: string, at: number, what: string): WorkflowError {
  return new WorkflowError(WorkflowErrorCode.ExprSyntax, `${what} at ${at} in expression "${source}"`, {
    data: { expression: source, at },
  });
}

const OPS = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '!', '(', ')', '.', '-'];

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?/.exec(src.slice(i)) as RegExpExecArray;
      out.push({ t: 'num', v: Number(m[0]), at: i });
      i += m[0].length;
    } else if (c === '"' || c === "'") {
      let v = '';
      let j = i + 1;
      for (; j < src.length && src[j] !== c; j++) {
        if (src[j] === '\\') {
          j++;
          const e = src[j];
          if (e === undefined) break;
          v += e === 'n' ? '\n' : e === 't' ? '\t' : e;
        } else v += src[j];
      }
      if (j >= src.length) throw syntax(src, i, 'unterminated string');
      out.push({ t: 'str', v, at: i });
      i = j + 1;
    } else if (/[A-Za-z_$]/.test(c)) {
      const m = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(src.slice(i)) as RegExpExecArray;
      out.push({ t: 'id', v: m[0], at: i });
      i += m[0].length;
    } else {
      const op = OPS.find((o) => src.startsWith(o, i));
      if (!op) throw syntax(src, i, `unexpected character "${c}"`);
      out.push({ t: 'op', v: op, at: i });
      i += op.length;
    }
  }
  out.push({ t: 'end', at: src.length });
  return out;
}

/** Reads `path` from `state`, own properties of plain objects and arrays only. */
function read(state: unknown, path: readonly string[]): unknown {
  let v = state;
  for (const key of path) {
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

function compare(op: string, a: unknown, b: unknown): boolean {
  if (op === '==') return a === b;
  if (op === '!=') return a !== b;
  // Ordering only between two numbers or two strings; anything else is false rather than coerced.
  if (!((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string')))
    return false;
  if (op === '<') return a < b;
  if (op === '<=') return a <= b;
  if (op === '>') return a > b;
  return a >= b;
}

/** Parses `source` into an evaluator over a state; throws GRAPH_EXPR_* coded errors on bad input. */
export function parseExpression(source: string): Expression {
  if (typeof source !== 'string')
    throw new WorkflowError(WorkflowErrorCode.ExprSyntax, 'an expression must be a string', {
      data: { source },
    });
  if (source.length > MAX_EXPRESSION_LENGTH)
    throw new WorkflowError(
      WorkflowErrorCode.ExprTooComplex,
      `expression longer than ${MAX_EXPRESSION_LENGTH}`,
    );
  const toks = tokenize(source);
  let pos = 0;
  let depth = 0;
  const peek = () => toks[pos] as Token;
  const isOp = (v: string) => {
    const t = peek();
    return t.t === 'op' && t.v === v;
  };
  const deeper = () => {
    if (++depth > MAX_EXPRESSION_DEPTH)
      throw new WorkflowError(
        WorkflowErrorCode.ExprTooComplex,
        `expression nested deeper than ${MAX_EXPRESSION_DEPTH}`,
      );
  };

  const primary = (): Expression => {
    const t = peek();
    pos++;
    if (t.t === 'num' || t.t === 'str') {
      const v = t.v;
      return () => v;
    }
    if (t.t === 'id') {
      if (t.v === 'true') return () => true;
      if (t.v === 'false') return () => false;
      if (t.v === 'null') return () => null;
      const path = [t.v];
      while (isOp('.')) {
        pos++;
        const k = peek();
        if (k.t !== 'id') throw syntax(source, k.at, 'expected a field name after "."');
        path.push(k.v);
        pos++;
      }
      for (const key of path)
        if (FORBIDDEN.has(key))
          throw new WorkflowError(
            WorkflowErrorCode.ExprForbidden,
            `"${key}" may not appear in an expression`,
            {
              data: { expression: source, field: key },
            },
          );
      if (isOp('(')) throw syntax(source, peek().at, 'calls are not allowed');
      return (state) => read(state, path);
    }
    if (t.t === 'op' && t.v === '-') {
      // Only a negative number literal: there is no arithmetic.
      const n = peek();
      if (n.t !== 'num') throw syntax(source, n.at, 'expected a number after "-"');
      pos++;
      const v = -n.v;
      return () => v;
    }
    if (t.t === 'op' && t.v === '(') {
      deeper();
      const inner = or();
      depth--;
      if (!isOp(')')) throw syntax(source, peek().at, 'expected ")"');
      pos++;
      return inner;
    }
    throw syntax(source, t.at, t.t === 'end' ? 'unexpected end' : `unexpected "${(t as { v: unknown }).v}"`);
  };
  const comparison = (): Expression => {
    const left = primary();
    const t = peek();
    if (t.t === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(t.v)) {
      pos++;
      const right = primary();
      const op = t.v;
      return (s) => compare(op, left(s), right(s));
    }
    return left;
  };
  const unary = (): Expression => {
    if (isOp('!')) {
      pos++;
      deeper();
      const inner = unary();
      depth--;
      return (s) => !inner(s);
    }
    return comparison();
  };
  const and = (): Expression => {
    let left = unary();
    while (isOp('&&')) {
      pos++;
      const l = left;
      const r = unary();
      left = (s) => Boolean(l(s)) && Boolean(r(s));
    }
    return left;
  };
  const or = (): Expression => {
    let left = and();
    while (isOp('||')) {
      pos++;
      const l = left;
      const r = and();
      left = (s) => Boolean(l(s)) || Boolean(r(s));
    }
    return left;
  };

  const expr = or();
  const rest = peek();
  if (rest.t !== 'end') throw syntax(source, rest.at, `unexpected "${rest.v}"`);
  return expr;
}

/** True when `source` holds for `state` (parses on each call: compile once with {@link parseExpression} in loops). */
export function evaluate(source: string, state: unknown): boolean {
  return Boolean(parseExpression(source)(state));
}
