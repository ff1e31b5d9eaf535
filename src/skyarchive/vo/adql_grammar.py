"""The ADQL 2.1 grammar we accept, for lark's LALR(1) parser.

One expression grammar covers values and conditions alike (``a = b AND c`` is an expression
whose value is a truth), as most SQL grammars do: a separate condition grammar makes
``(a + b) > 1`` ambiguous for an LALR parser at its first parenthesis. Whether an expression
may stand where it stands (a truth in WHERE, a value in the select list) is decided by the
translator (:mod:`skyarchive.vo.adql_sql`), which also knows every table, column and function.

Reserved words are keywords here only where the grammar needs them; function names (POINT,
CONTAINS, COUNT, ...) are plain identifiers followed by a parenthesis, so a column may be called
``distance`` or ``point`` without quoting. Keywords are case-insensitive, as in ADQL.
"""

from __future__ import annotations

from functools import cache

from lark import Lark, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from skyarchive.errors import BadQuery

GRAMMAR = r"""
?start: query

query: select_query (set_op select_query)*
set_op: UNION ALL?
      | INTERSECT
      | EXCEPT

select_query: SELECT quantifier? top? select_list from_clause _clauses
_clauses: where? group_by? having? order_by? offset?
quantifier: DISTINCT | ALL
top: TOP INT

select_list: "*"                              -> select_all
           | select_item ("," select_item)*
?select_item: expr (AS? ident)?               -> select_expr
            | name_chain "." "*"              -> select_table_all

from_clause: FROM table_ref ("," table_ref)*
?table_ref: table_primary
          | table_ref join
join: join_type? JOIN table_primary join_spec
    | NATURAL join_type? JOIN table_primary  -> natural_join
join_type: INNER
         | LEFT OUTER?                        -> left_join
         | RIGHT OUTER?                       -> right_join
         | FULL OUTER?                        -> full_join
join_spec: ON expr                            -> join_on
         | USING "(" ident ("," ident)* ")"   -> join_using
table_primary: name_chain (AS? ident)?        -> table_name
             | "(" query ")" AS? ident        -> derived_table

where: WHERE expr
group_by: GROUP BY expr ("," expr)*
having: HAVING expr
order_by: ORDER BY order_item ("," order_item)*
order_item: expr direction?
direction: ASC | DESC
offset: OFFSET INT

?expr: or_expr
?or_expr: and_expr
        | or_expr OR and_expr                 -> or_
?and_expr: not_expr
         | and_expr AND not_expr              -> and_
?not_expr: pred_expr
         | NOT not_expr                       -> not_
?pred_expr: add_expr
          | add_expr COMP_OP add_expr                            -> comparison
          | add_expr NOT? BETWEEN add_expr AND add_expr          -> between
          | add_expr NOT? LIKE add_expr                          -> like
          | add_expr NOT? ILIKE add_expr                         -> ilike
          | add_expr NOT? IN "(" expr ("," expr)* ")"            -> in_list
          | add_expr NOT? IN "(" query ")"                       -> in_query
          | add_expr IS NOT? NULL                                -> is_null
          | EXISTS "(" query ")"                                 -> exists
?add_expr: mul_expr
         | add_expr "+" mul_expr              -> add
         | add_expr "-" mul_expr              -> sub
         | add_expr "||" mul_expr             -> concat
?mul_expr: unary
         | mul_expr "*" unary                 -> mul
         | mul_expr "/" unary                 -> div
?unary: primary
      | "-" unary                             -> neg
      | "+" unary
?primary: NUMBER                              -> number
        | STRING                              -> string
        | NULL                                -> null
        | name_chain                          -> column
        | ident "(" "*" ")"                   -> call_star
        | ident "(" DISTINCT expr ")"         -> call_distinct
        | ident "(" (expr ("," expr)*)? ")"   -> call
        | CAST "(" expr AS ident ("(" INT ")")? ")" -> cast
        | CASE when+ (ELSE expr)? END         -> case
        | "(" expr ")"
        | "(" query ")"                       -> scalar_query
when: WHEN expr THEN expr

name_chain: ident ("." ident)*
ident: REGULAR_ID                             -> regular_id
     | DELIMITED_ID                           -> delimited_id

COMP_OP: "=" | "!=" | "<>" | "<=" | ">=" | "<" | ">"
NUMBER: /(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/
INT: /\d+/
STRING: /'([^']|'')*'/
DELIMITED_ID: /"([^"]|"")+"/
REGULAR_ID: /[A-Za-z][A-Za-z0-9_]*/

SELECT: "SELECT"i
DISTINCT: "DISTINCT"i
ALL: "ALL"i
TOP: "TOP"i
AS: "AS"i
FROM: "FROM"i
JOIN: "JOIN"i
NATURAL: "NATURAL"i
INNER: "INNER"i
LEFT: "LEFT"i
RIGHT: "RIGHT"i
FULL: "FULL"i
OUTER: "OUTER"i
ON: "ON"i
USING: "USING"i
WHERE: "WHERE"i
GROUP: "GROUP"i
BY: "BY"i
HAVING: "HAVING"i
ORDER: "ORDER"i
ASC: "ASC"i
DESC: "DESC"i
OFFSET: "OFFSET"i
OR: "OR"i
AND: "AND"i
NOT: "NOT"i
BETWEEN: "BETWEEN"i
LIKE: "LIKE"i
ILIKE: "ILIKE"i
IN: "IN"i
IS: "IS"i
NULL: "NULL"i
EXISTS: "EXISTS"i
UNION: "UNION"i
INTERSECT: "INTERSECT"i
EXCEPT: "EXCEPT"i
CAST: "CAST"i
CASE: "CASE"i
WHEN: "WHEN"i
THEN: "THEN"i
ELSE: "ELSE"i
END: "END"i

COMMENT: /--[^\n]*/
%import common.WS
%ignore WS
%ignore COMMENT
"""


#: Longest ADQL text taken (a query is a few hundred characters; this is 1,000 lines' worth).
MAX_QUERY_CHARS = 100_000


@cache
def parser() -> Lark:
    """The LALR(1) parser, built once per process."""
    return Lark(GRAMMAR, parser="lalr", maybe_placeholders=False, propagate_positions=True)


def check_length(adql: str) -> None:
    """A query longer than :data:`MAX_QUERY_CHARS` is refused before any other work."""
    if len(adql) > MAX_QUERY_CHARS:
        raise BadQuery(f"The query is {len(adql):,} characters long; at most {MAX_QUERY_CHARS:,}.")


def parse(adql: str) -> Tree:
    """The parse tree of ``adql``; a syntax error is a 400 that says where and what."""
    check_length(adql)
    if not adql.strip():
        raise BadQuery("QUERY is empty: give an ADQL SELECT statement.")
    lalr = parser()
    try:
        return lalr.parse(adql)
    except UnexpectedInput as exc:
        raise BadQuery(_syntax_message(adql, exc)) from exc


def _syntax_message(adql: str, exc: UnexpectedInput) -> str:
    where = f"line {exc.line}, column {exc.column}"
    if isinstance(exc, UnexpectedEOF):
        return "ADQL syntax error: the query ends too early."
    if isinstance(exc, UnexpectedToken):
        got = exc.token.value if exc.token.type != "$END" else "the end of the query"
        if exc.token.type == "$END":
            return "ADQL syntax error: the query ends too early."
        return f"ADQL syntax error at {where}: unexpected {got!r}."
    if isinstance(exc, UnexpectedCharacters):
        return f"ADQL syntax error at {where}: unexpected character {exc.char!r}."
    return f"ADQL syntax error at {where}."


# ------------------------------------------------------------------------------ values
