"""ADQL geometry terms: POINT, CIRCLE and POLYGON values, CONTAINS, INTERSECTS and DISTANCE,
COORD1/COORD2, as SQLAlchemy expressions through :mod:`skyarchive.vo.adql_geometry` (the
footprint cell index and the exact tests).

:class:`GeometryTerms` is the part of the expression translator
(:class:`skyarchive.vo.adql_expressions.ExpressionTranslator`, which derives from it) that knows
shapes: which comparisons are index tests, which columns are an indexed position, what a shape's
arguments may be. It asks the translator for plain values (:meth:`GeometryTerms.value`).
"""

from __future__ import annotations

from typing import Any

from lark import Token, Tree
from sqlalchemy import ColumnElement, Connection, String, and_, case, literal, not_, null

from skyarchive.errors import BadQuery
from skyarchive.vo import adql_geometry as geo
from skyarchive.vo.adql_shapes import Derive, ParameterPlan
from skyarchive.vo.adql_values import (
    BOOLEAN,
    TEXT,
    Scope,
    Value,
    column_type,
    ident_name,
    is_call,
)

GEOMETRY_FUNCTIONS = ("point", "circle", "polygon", "box", "contains", "intersects", "distance",
                      "coord1", "coord2", "coordsys", "region", "area", "centroid")  # fmt: skip
#: The coordinate systems a shape may name (the deprecated first argument): positions are ICRS.
_FRAMES = ("", "ICRS", "ICRS GEOCENTER", "J2000", "GEOCENTER")


class GeometryTerms:
    """Geometry in ADQL expressions; the rest of an expression is the translator's."""

    conn: Connection
    plan: ParameterPlan

    def value(self, tree: Tree | Token, scope: Scope) -> Value:
        raise NotImplementedError  # the expression translator's

    def column_value(self, tree: Tree, scope: Scope, *, region_ok: bool = False) -> Value:
        raise NotImplementedError  # the expression translator's

    def _need_number(self, v: Value, op: str) -> None:
        raise NotImplementedError  # the expression translator's

    def geometry_call(self, name: str, tree: Tree, scope: Scope) -> Value:
        """A geometry function (one of :data:`GEOMETRY_FUNCTIONS`) as a value: a shape, the
        0/1 of CONTAINS or INTERSECTS, a DISTANCE, a coordinate."""
        arg_trees = tree.children[1:]
        if name in ("point", "circle", "polygon", "box", "region", "centroid", "area"):
            return self._shape(name, arg_trees, scope)
        if name in ("contains", "intersects"):
            predicate = self.geometry_predicate(tree, scope)
            return Value(case((predicate, 1), else_=0), column_type("int"))
        if name == "distance":
            a, b = self._distance_points(tree, scope)
            return Value(geo.distance_sql(a, b), column_type("double", unit="deg"))
        if name in ("coord1", "coord2"):
            if len(arg_trees) != 1:
                raise BadQuery(f"{name.upper()} takes one POINT.")
            g = self.geometry(arg_trees[0], scope)
            return Value(
                geo.coordinate(g, 1 if name == "coord1" else 2), column_type("double", unit="deg")
            )
        return Value(literal("ICRS", String), TEXT)  # COORDSYS: every position is ICRS

    def _geometry_comparison(self, left: Tree, op: str, right: Tree, scope: Scope) -> Value | None:
        """``CONTAINS(...) = 1``, ``1 = INTERSECTS(...)``, ``DISTANCE(...) < r``: geometry
        through the index. None when the comparison is not one of these."""
        flipped = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "!=": "!="}
        if is_call(right, ("contains", "intersects", "distance")) and not is_call(
            left, ("contains", "intersects", "distance")
        ):
            left, right, op = right, left, flipped[op]
        if is_call(left, ("contains", "intersects")):
            bound = self.value(right, scope)
            number = self.plan.fix(bound.derive, bound.number)
            if number not in (0.0, 1.0) or op not in ("=", "!="):
                return None
            predicate = self.geometry_predicate(left, scope)
            wanted = (number == 1.0) == (op == "=")
            return Value(predicate if wanted else not_(predicate), BOOLEAN, truth=True)
        if is_call(left, ("distance",)) and op in ("<", "<="):
            bound = self.value(right, scope)
            radius = self.plan.fix(bound.derive, bound.number)
            if radius is None:
                return None
            a, b = self._distance_points(left, scope)
            indexed = geo.within_distance(a, b, radius, self.plan)
            if indexed is None:
                return None
            exact = geo.distance_sql(a, b)
            return Value(
                and_(indexed, exact < bound.sql if op == "<" else exact <= bound.sql),
                BOOLEAN,
                truth=True,
            )
        return None

    def geometry_predicate(self, tree: Tree, scope: Scope) -> ColumnElement[bool]:
        name = ident_name(tree.children[0]).lower()
        args = [self.geometry(a, scope) for a in tree.children[1:]]
        if len(args) != 2:
            raise BadQuery(f"{name.upper()} takes two geometries.")
        if name == "contains":
            return geo.contains(args[0], args[1], self.conn, self.plan)
        return geo.intersects(args[0], args[1], self.conn, self.plan)

    def _distance_points(self, tree: Tree, scope: Scope) -> tuple[geo.Geometry, geo.Geometry]:
        args = tree.children[1:]
        if len(args) == 4:  # DISTANCE(ra1, dec1, ra2, dec2), ADQL 2.1
            a = self._point_of(self.value(args[0], scope), self.value(args[1], scope), scope)
            b = self._point_of(self.value(args[2], scope), self.value(args[3], scope), scope)
            return a, b
        if len(args) != 2:
            raise BadQuery("DISTANCE takes two POINTs (or four numbers).")
        return self.geometry(args[0], scope), self.geometry(args[1], scope)

    def geometry(self, tree: Tree, scope: Scope) -> geo.Geometry:
        if tree.data == "column":
            value = self.column_value(tree, scope, region_ok=True)
        else:
            value = self.value(tree, scope)
        if value.geometry is None:
            raise BadQuery("A geometry function takes POINT, CIRCLE, POLYGON or s_region here.")
        return value.geometry

    def _point_of(self, ra: Value, dec: Value, scope: Scope) -> geo.Geometry:
        ra_number = self.plan.fix(ra.derive, ra.number)
        dec_number = self.plan.fix(dec.derive, dec.number)
        if ra_number is not None and dec_number is not None:
            return geo.point(ra_number, dec_number)
        for v in (ra, dec):
            self._need_number(v, "POINT")
        obsid = self._position_obsid(ra, dec, scope)
        return geo.RowPoint(ra.sql, dec.sql, obsid)

    def _position_obsid(self, ra: Value, dec: Value, scope: Scope) -> ColumnElement[Any] | None:
        """The obsid column when (ra, dec) are an indexed table's own position columns."""
        for source in scope.all_sources():
            table = source.table
            if table is None or table.position_columns is None or table.obsid_column is None:
                continue
            ra_col = source.from_clause.c[table.position_columns[0]]
            dec_col = source.from_clause.c[table.position_columns[1]]
            if ra.sql is ra_col and dec.sql is dec_col:
                return source.from_clause.c[table.obsid_column]
        return None

    def _shape(self, name: str, arg_trees: list[Any], scope: Scope) -> Value:
        if name in ("region", "centroid", "area"):
            raise BadQuery(f"{name.upper()} is not supported; use POINT, CIRCLE or POLYGON.")
        if name == "box":
            raise BadQuery("BOX is deprecated in ADQL 2.1 and not supported; use POLYGON.")
        values = [self.value(a, scope) for a in arg_trees]
        if values and values[0].meta.datatype == "char" and values[0].geometry is None:
            frame = getattr(values[0].sql, "value", None)
            values = values[1:]  # the optional, deprecated coordinate system
            if not isinstance(frame, str) or frame.strip().upper() not in _FRAMES:
                raise BadQuery(f"Coordinate system {frame!r} is not supported: positions are ICRS.")
        if name == "point":
            if len(values) != 2:
                raise BadQuery("POINT takes two numbers: ra and dec in degrees.")
            return Value(
                null(), column_type("double"), geometry=self._point_of(values[0], values[1], scope)
            )
        numbers, derives = self._flatten_points(values, name)
        shape: geo.Shape
        if name == "circle":
            if len(numbers) != 3:
                raise BadQuery(
                    "CIRCLE takes ra, dec and a radius in degrees (or a POINT and a radius)."
                )
            shape = geo.circle(*numbers)
        else:
            shape = geo.polygon(numbers)
        self.plan.constant_shape(shape, numbers, derives)  # its user fixes or binds them
        return Value(null(), column_type("double"), geometry=shape)

    def _flatten_points(
        self, values: list[Value], name: str
    ) -> tuple[list[float], list[Derive | None]]:
        numbers: list[float] = []
        derives: list[Derive | None] = []
        for v in values:
            if isinstance(v.geometry, geo.ConstPoint):  # its numbers are fixed (_point_of)
                numbers += [v.geometry.ra, v.geometry.dec]
                derives += [_constant(v.geometry.ra), _constant(v.geometry.dec)]
            elif v.number is not None:
                numbers.append(v.number)
                derives.append(v.derive)
            else:
                raise BadQuery(
                    f"{name.upper()} takes constant numbers (degrees); columns are not "
                    "supported in a shape."
                )
        return numbers, derives


def _constant(value: float) -> Derive:
    return lambda numbers: value
