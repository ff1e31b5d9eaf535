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
