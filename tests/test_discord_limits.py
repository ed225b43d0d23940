"""The fake Discord's limits refuse what Discord refuses, so a bot test passing means Discord would take it."""

from tests.discord_limits import command_problems, empty, problems


def test_a_message_showing_nothing_is_empty_and_one_with_text_embed_or_file_is_not() -> None:
    assert empty({"content": "  \n", "components": [{"type": 1, "components": []}]}, files=0)
    assert not empty({"content": "clip"}, files=0)
    assert not empty({"embeds": [{"description": "x"}]}, files=0)
    assert not empty({}, files=1)


def test_text_over_2000_characters_and_a_long_button_label_are_refused() -> None:
    assert problems({"content": "x" * 2000}) == []
    assert problems({"content": "x" * 2001})
    button = {"type": 2, "label": "y" * 81, "custom_id": "c"}
    assert problems({"content": "x", "components": [{"type": 1, "components": [button]}]})


def test_a_select_menu_over_its_limits_and_a_sixth_message_menu_are_refused() -> None:
    def select(options: int, label: str = "melt") -> dict[str, object]:
        menu = {"type": 3, "custom_id": "c", "options": [{"label": label, "value": str(n)} for n in range(options)]}
        return {"content": "x", "components": [{"type": 1, "components": [menu]}]}

    assert problems(select(25)) == []
    assert problems(select(26)) and problems(select(0)) and problems(select(1, label="z" * 101))
    menus = [{"type": 3, "name": f"Menu {n}"} for n in range(5)]
    assert command_problems(menus) == []
    assert command_problems([*menus, {"type": 3, "name": "Menu 6"}]) == ["commands: at most 5 message menus"]
