"""Every column the portal's grid shows can be sorted from a narrow index led by the program
(schemas 0027, 0037): a page of a search by program takes its obsids from one, never sorting
the result's wide rows."""

from __future__ import annotations

from skyarchive.db.tables import observations
from skyarchive.search.columns import OBSERVATION_COLUMNS

_READ_FROM = {"dataRights": "t_obs_release"}


def test_each_visible_column_is_in_an_index_led_by_the_program() -> None:
    led_by_program = [
        {column.name for column in index.columns}
        for index in observations.indexes
        if index.columns and list(index.columns)[0].name == "proposal_id"
    ]
    visible = [_READ_FROM.get(c.name, c.name) for c in OBSERVATION_COLUMNS if c.visible]
    assert visible
    missing = [name for name in visible if not any(name in held for held in led_by_program)]
    assert missing == [], (
        f"no index led by proposal_id holds {missing}: add them to GRID_SORT_COLUMNS"
    )
