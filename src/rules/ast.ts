/**
 * Syntax tree of a rule statement or a template expression. `pos` is the source offset used
 * for compile-time errors (for a call: the function name; for an operator: the operator).
 */

export type BinaryOp = '+' | '-' | '*' | '/' | '%' | '=' | '<>' | '<' | '<=' | '>' | '>=' | 'AND' | 'OR';

export type Expr =
  | { readonly kind: 'literal'; readonly value: string | number | boolean | null; readonly pos: number }
  /** A bare identifier: a field of the current row (the payload, or a nested query's element). */
  | { readonly kind: 'field'; readonly name: string; readonly pos: number }
  /** `object.name` */
  | { readonly kind: 'member'; readonly object: Expr; readonly name: string; readonly pos: number }
  /** `object[index]` */
  | { readonly kind: 'index'; readonly object: Expr; readonly index: Expr; readonly pos: number }
  /** `*` used as a value: the whole payload (or the element, inside a nested query). */
  | { readonly kind: 'wildcard'; readonly pos: number }
  | { readonly kind: 'variable'; readonly name: string; readonly pos: number }
  | { readonly kind: 'call'; readonly name: string; readonly args: readonly Expr[]; readonly pos: number }
  | { readonly kind: 'cast'; readonly value: Expr; readonly type: string; readonly typePos: number; readonly pos: number }
  | { readonly kind: 'neg'; readonly operand: Expr; readonly pos: number }
  | { readonly kind: 'not'; readonly operand: Expr; readonly pos: number }
  | { readonly kind: 'binary'; readonly op: BinaryOp; readonly left: Expr; readonly right: Expr; readonly pos: number }
  | { readonly kind: 'in'; readonly left: Expr; readonly right: Expr; readonly negated: boolean; readonly pos: number }
  | { readonly kind: 'array'; readonly items: readonly Expr[]; readonly pos: number }
  | { readonly kind: 'object'; readonly entries: readonly ObjectEntry[]; readonly pos: number }
  | {
      readonly kind: 'case';
      /** Absent for the searched form `CASE WHEN cond THEN ...`. */
      readonly subject: Expr | undefined;
      readonly whens: readonly CaseWhen[];
      readonly otherwise: Expr | undefined;
      readonly pos: number;
    }
  | { readonly kind: 'subquery'; readonly query: NestedQuery; readonly pos: number }
  | { readonly kind: 'exists'; readonly query: NestedQuery; readonly pos: number };

export interface ObjectEntry {
  readonly key: string;
  readonly value: Expr;
}

export interface CaseWhen {
  readonly when: Expr;
  readonly then: Expr;
}

export interface SelectItem {
  readonly expr: Expr;
  /** `AS a.b.c` as its path; undefined without AS. */
  readonly alias: readonly string[] | undefined;
  readonly pos: number;
}

export interface SelectClause {
  /** `SELECT VALUE expr`: the single item's value is the output, not an object. */
  readonly value: boolean;
  readonly items: readonly SelectItem[];
  readonly pos: number;
}

/** `(SELECT ... FROM expr [AS alias] [WHERE ...])` over an array or object value. */
export interface NestedQuery {
  readonly select: SelectClause;
  readonly from: Expr;
  readonly alias: string | undefined;
  readonly where: Expr | undefined;
}

export interface SetAssignment {
  readonly name: string;
  readonly value: Expr;
  readonly pos: number;
}

export interface Statement {
  readonly sets: readonly SetAssignment[];
  readonly select: SelectClause;
  readonly topicFilter: string;
  readonly topicFilterPos: number;
  readonly where: Expr | undefined;
}
